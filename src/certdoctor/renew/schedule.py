"""When to renew: a pure function of the certificate, the CA's renewal information and ``now``.

No I/O here: the renewalInfo answer is fetched by :mod:`certdoctor.renew.acme` and handed in as
bytes and headers; ``now`` is always a parameter; randomness comes from an injectable
:class:`random.Random`.

* :func:`cert_id` — RFC 9773 §4.1's CertID: ``base64url(AKI keyIdentifier) "." base64url(serial
  DER content octets)``, no padding (checked against the RFC's example and certbot's ``acme``);
* :func:`parse_renewal_info` — a renewalInfo answer (§4.2), strictly: bounded size, RFC 3339
  timestamps, ``end > start`` (a window with end <= start is invalid: §4.2 says treat it as no
  answer), an ``explanationURL`` only if http(s), and ``Retry-After`` (§4.3) clamped to
  [:data:`~certdoctor.policy.ARI_RETRY_MIN_S`, :data:`~certdoctor.policy.ARI_RETRY_MAX_S`];
* :func:`should_renew` — the decision (below).

The decision, in this order:

1. ``force``: due now (source ``forced``);
2. a certificate past its notAfter: due now, whatever the CA says (source ``expired``);
3. with ARI: a time chosen uniformly at random inside ``suggestedWindow`` (§4.3). Without an
   ``rng`` the choice is seeded from the CertID, so repeated ``renew --check`` runs (cron, a
   timer twice a day) name the same time for the same certificate and window. Chosen time <=
   ``now`` (a window in the past included): due. Chosen time <= ``next_wake`` (when this client
   would run next): due now, as §4.3 allows — waiting would renew late. Else not due; look again
   at the chosen time or after Retry-After (default 6 h), whichever comes first (source ``ari``);
4. without ARI: due at notBefore + 2/3 of the lifetime, or + 1/2 for a lifetime under 10 days
   (certbot 4's rule; source ``lifetime``); not due: look again at that time.

Both boundaries are inclusive: at exactly the chosen time it is due.
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import json
import math
import random
import re
from dataclasses import dataclass
from typing import Any, Mapping

from certdoctor import policy

UTC = _dt.timezone.utc
SOURCES = ("ari", "lifetime", "expired", "forced")


class RenewalInfoError(ValueError):
    """A renewalInfo answer (or a certificate's CertID) that cannot be used: counts as no ARI."""


@dataclass(frozen=True)
class RenewalInfo:
    """A parsed renewalInfo answer: the suggested window (aware datetimes), the CA's explanation
    URL (http(s), sanitised) and Retry-After in seconds (clamped), each ``None`` when absent."""

    start: _dt.datetime
    end: _dt.datetime
    explanation_url: str | None = None
    retry_after: float | None = None


@dataclass(frozen=True)
class Decision:
    """Whether to renew now, when (``at``: the chosen or computed time), why (``source``, and
    ``reason`` in plain words) and when to look again (``next_check``; ``now`` when due)."""

    due: bool
    at: _dt.datetime
    source: str
    reason: str
    explanation_url: str | None
    next_check: _dt.datetime
    window: tuple[_dt.datetime, _dt.datetime] | None = None


# ----------------------------------------------------------------------------- CertID

def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _serial_content(serial: int) -> bytes:
    """The content octets of the DER INTEGER ``serial`` (minimal two's complement, big-endian)."""
    return serial.to_bytes(max(1, math.ceil((serial.bit_length() + 1) / 8)), "big", signed=True)


def cert_id(cert: Any) -> str:
    """RFC 9773's CertID of ``cert``; RenewalInfoError when it has no authorityKeyIdentifier
    keyIdentifier (then the CA cannot be asked: no ARI for it)."""
    from cryptography import x509

    try:
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    except x509.ExtensionNotFound:
        raise RenewalInfoError("the certificate has no authorityKeyIdentifier: no CertID, no ARI") from None
    if not aki.key_identifier:
        raise RenewalInfoError("the certificate's authorityKeyIdentifier has no keyIdentifier: no CertID, no ARI")
    return f"{_b64url(aki.key_identifier)}.{_b64url(_serial_content(cert.serial_number))}"


# ----------------------------------------------------------------------------- parsing

_RFC3339 = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})\Z", re.ASCII)


def parse_rfc3339(text: Any) -> _dt.datetime:
    """An RFC 3339 date-time (``2025-01-02T04:00:00Z``, an offset, up to 9 fraction digits; a
    leap second 60 is read as the next second) as an aware UTC datetime; RenewalInfoError otherwise."""
    if not isinstance(text, str):
        raise RenewalInfoError(f"not an RFC 3339 date-time: {text!r}")
    m = _RFC3339.match(text)
    if not m:
        raise RenewalInfoError(f"not an RFC 3339 date-time: {text[:64]!r}")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    frac, zone = m.group(7), m.group(8)
    micro = int((frac[1:] + "000000")[:6]) if frac else 0
    if zone in ("Z", "z"):
        tz = UTC
    else:
        hh, mm = int(zone[1:3]), int(zone[4:6])
        if hh > 23 or mm > 59:
            raise RenewalInfoError(f"not an RFC 3339 offset: {zone!r}")
        sign = 1 if zone[0] == "+" else -1
        tz = _dt.timezone(sign * _dt.timedelta(hours=hh, minutes=mm))
    leap = second == 60
    try:
        value = _dt.datetime(year, month, day, hour, minute, 59 if leap else second, micro, tzinfo=tz)
    except ValueError:
        raise RenewalInfoError(f"not a valid date-time: {text[:64]!r}") from None
    if leap:
        value += _dt.timedelta(seconds=1)
    return value.astimezone(UTC)


def _aware(now: _dt.datetime) -> _dt.datetime:
    if not isinstance(now, _dt.datetime):
        raise TypeError("now is a datetime")
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)


def _clamp(seconds: float) -> float:
    return float(min(max(seconds, policy.ARI_RETRY_MIN_S), policy.ARI_RETRY_MAX_S))


def retry_after_seconds(value: str | None, now: _dt.datetime) -> float | None:
    """A ``Retry-After`` value (delta-seconds or an HTTP-date, RFC 9110 §10.2.3) as seconds from
    ``now``, clamped to [ARI_RETRY_MIN_S, ARI_RETRY_MAX_S]; ``None`` when absent or unreadable."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    if text.isdigit() and text.isascii():
        return _clamp(int(text[:20]))
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:  # an HTTP-date is always GMT
        when = when.replace(tzinfo=UTC)
    return _clamp((when - _aware(now)).total_seconds())


def _header(headers: Mapping[str, str], name: str) -> str | None:
    want = name.lower()
    for k, v in (headers or {}).items():
        if str(k).lower() == want:
            return v
    return None


def _explanation(url: Any) -> str | None:
    from urllib.parse import urlsplit

    from certdoctor._text import safe

    if url is None:
        return None
    if not isinstance(url, str) or not url:
        raise RenewalInfoError("explanationURL is not a string")
    if len(url) > 2048:
        raise RenewalInfoError("explanationURL is longer than 2048 characters")
    try:
        parts = urlsplit(url)
    except ValueError:
        raise RenewalInfoError("explanationURL is not a URL") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise RenewalInfoError(f"explanationURL is not an http(s) URL: {safe(url[:80])}")
    return safe(url)


def parse_renewal_info(body: bytes, headers: Mapping[str, str], now: _dt.datetime) -> RenewalInfo:
    """A renewalInfo answer's body and headers as a :class:`RenewalInfo`; RenewalInfoError on
    anything invalid (too large, not JSON, no ``suggestedWindow``, bad timestamps, end <= start,
    an explanationURL that is not http(s))."""
    if not isinstance(body, (bytes, bytearray)):
        raise RenewalInfoError("the renewalInfo body is not bytes")
    if len(body) > policy.ARI_MAX_BYTES:
        raise RenewalInfoError(f"the renewalInfo answer is larger than {policy.ARI_MAX_BYTES} bytes")
    try:
        doc = json.loads(bytes(body).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise RenewalInfoError("the renewalInfo answer is not JSON") from None
    if not isinstance(doc, dict):
        raise RenewalInfoError("the renewalInfo answer is not a JSON object")
    window = doc.get("suggestedWindow")
    if not isinstance(window, dict):
        raise RenewalInfoError("the renewalInfo answer has no suggestedWindow object")
    start, end = parse_rfc3339(window.get("start")), parse_rfc3339(window.get("end"))
    if end <= start:
        raise RenewalInfoError(f"suggestedWindow ends ({end:%Y-%m-%dT%H:%M:%SZ}) at or before it starts "
                               f"({start:%Y-%m-%dT%H:%M:%SZ}): invalid (RFC 9773 §4.2)")
    return RenewalInfo(start=start, end=end, explanation_url=_explanation(doc.get("explanationURL")),
                       retry_after=retry_after_seconds(_header(headers, "Retry-After"), now))


# ----------------------------------------------------------------------------- the decision

def _when(t: _dt.datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _seeded(cert: Any) -> random.Random:
    """The rng of a certificate: seeded from its CertID (its fingerprint if it has none)."""
    from cryptography.hazmat.primitives import hashes

    try:
        seed = cert_id(cert).encode("ascii")
    except RenewalInfoError:
        seed = cert.fingerprint(hashes.SHA256())
    return random.Random(int.from_bytes(hashlib.sha256(b"certdoctor-ari\0" + seed).digest()[:8], "big"))


def choose_in_window(start: _dt.datetime, end: _dt.datetime, rng: random.Random) -> _dt.datetime:
    """A time uniformly at random in [start, end] (whole microseconds, never outside)."""
    span = (end - start) // _dt.timedelta(microseconds=1)
    return start + _dt.timedelta(microseconds=rng.randint(0, max(0, span)))


def lifetime_renewal_time(cert: Any) -> _dt.datetime:
    """notBefore + 2/3 of the lifetime (1/2 under RENEW_SHORT_LIFETIME_DAYS)."""
    nb, na = cert.not_valid_before_utc, cert.not_valid_after_utc
    life = na - nb
    short = life < _dt.timedelta(days=policy.RENEW_SHORT_LIFETIME_DAYS)
    fraction = policy.RENEW_SHORT_LIFETIME_FRACTION if short else policy.RENEW_LIFETIME_FRACTION
    return nb + _dt.timedelta(microseconds=(life // _dt.timedelta(microseconds=1)) * fraction)


def should_renew(cert: Any, ari: RenewalInfo | None, now: _dt.datetime, *, rng: random.Random | None = None,
                 force: bool = False, next_wake: _dt.datetime | None = None) -> Decision:
    """Renew ``cert`` now? See the module's text for the rules."""
    now = _aware(now)
    wake = _aware(next_wake) if next_wake is not None else None
    na = cert.not_valid_after_utc
    url = ari.explanation_url if ari is not None else None
    window = (ari.start, ari.end) if ari is not None else None
    explained = f" (explanation: {url})" if url else ""
    if force:
        return Decision(True, now, "forced", "renewal forced (--force)", url, now, window)
    if now > na:
        return Decision(True, now, "expired", f"expired at {_when(na)}: renew now", url, now, window)
    if ari is not None:
        ari = RenewalInfo(_aware(ari.start), _aware(ari.end), ari.explanation_url, ari.retry_after)
        window = (ari.start, ari.end)
        chosen = choose_in_window(ari.start, ari.end, rng if rng is not None else _seeded(cert))
        head = f"ARI window {_when(ari.start)} – {_when(ari.end)}{explained}; chosen {_when(chosen)}"
        if chosen <= now:
            past = "the window has passed" if ari.end <= now else "the chosen time has come"
            return Decision(True, chosen, "ari", f"{head}; due now ({past})", url, now, window)
        if wake is not None and chosen <= wake:
            return Decision(True, chosen, "ari", f"{head}; due now (the next run, {_when(wake)}, would be later)",
                            url, now, window)
        retry = ari.retry_after if ari.retry_after is not None else policy.ARI_RETRY_DEFAULT_S
        check = min(chosen, now + _dt.timedelta(seconds=retry))
        return Decision(False, chosen, "ari", f"{head}; not due yet (ask again at {_when(check)})", url, check,
                        window)
    at = lifetime_renewal_time(cert)
    life = na - cert.not_valid_before_utc
    part = "half" if life < _dt.timedelta(days=policy.RENEW_SHORT_LIFETIME_DAYS) else "two thirds"
    head = f"no ARI; {part} of the {life.total_seconds() / 86400:.4g}-day lifetime is at {_when(at)}"
    if at <= now:
        return Decision(True, at, "lifetime", f"{head}; due now (expires {_when(na)})", None, now)
    return Decision(False, at, "lifetime", f"{head}; not due yet", None, at)


__all__ = ["RenewalInfoError", "RenewalInfo", "Decision", "SOURCES", "cert_id", "parse_rfc3339",
           "parse_renewal_info", "retry_after_seconds", "should_renew", "choose_in_window", "lifetime_renewal_time"]
