"""Two diagnoses of the same server made a moment apart, made comparable: what differs between
runs that say the same thing (durations, the clock, the server's Date) taken out of their JSON."""

from __future__ import annotations

import re

#: the clock a finding's evidence names ("now = 2026-12-01T17:31:30+00:00")
NOW_RE = re.compile(r"now = \S+")
#: an HTTP date inside quoted server bytes ("Date: Tue, 01 Dec 2026 17:31:30 GMT")
HTTP_DATE_RE = re.compile(r"[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT")
#: keys whose values are a duration or the server's clock
VOLATILE_KEYS = frozenset({"elapsed", "http_date"})


def normal(doc):
    """``doc`` (decoded JSON) without :data:`VOLATILE_KEYS`, its clocks and HTTP dates masked."""
    if isinstance(doc, dict):
        return {k: normal(v) for k, v in doc.items() if k not in VOLATILE_KEYS}
    if isinstance(doc, list):
        return [normal(v) for v in doc]
    if isinstance(doc, str):
        return HTTP_DATE_RE.sub("<http date>", NOW_RE.sub("now = <now>", doc))
    return doc
