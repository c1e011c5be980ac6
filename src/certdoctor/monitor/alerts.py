"""Webhooks: one JSON event POSTed per transition, in the background, never blocking the run.

    >>> hooks = Alerts()
    >>> hooks.submit(["https://hooks.example.org/cd"], event(row, transition, old_snapshot))  # doctest: +SKIP
    >>> errors = hooks.close()          # waits at most policy.WEBHOOK_DRAIN_SECONDS

Delivery: a bounded queue (:data:`~certdoctor.policy.WEBHOOK_MAX_QUEUE`) served by
:data:`~certdoctor.policy.WEBHOOK_SENDERS` daemon threads. Each event is tried
:data:`~certdoctor.policy.WEBHOOK_TRIES` times (waits :data:`~certdoctor.policy.WEBHOOK_BACKOFF_SECONDS`
between tries; each try bounded by :data:`~certdoctor.policy.WEBHOOK_TIMEOUT_SECONDS`); a 2xx
answer delivers it; a 5xx, 408, 429 or a network error is retried, any other answer (a 4xx, a
redirect) fails at once. The engine only enqueues: a slow or dead hook costs the run nothing
until its end, where :meth:`Alerts.close` waits at most
:data:`~certdoctor.policy.WEBHOOK_DRAIN_SECONDS` and reports whatever was not delivered. No
failure raises; each is a :class:`WebhookError` (the run's ``webhook_errors``).

Redaction: :func:`redact_url` is the one function that shows a webhook URL; every output
(table, JSON, JSONL, stderr, errors) goes through it or through :func:`scrub`.
"""

from __future__ import annotations

import json
import queue
import re
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

from certdoctor import policy
from certdoctor.errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    from certdoctor.monitor.changes import Transition
    from certdoctor.monitor.result import Row

MASK = "***"
#: query parameters whose value is a secret (matched as substrings of the lower-cased name)
SECRET_PARAMS = ("token", "key", "secret", "password", "passwd", "pass", "pwd", "sig", "auth", "credential",
                 "session", "code")
#: a path segment this long, of letters and digits (and ``-_``) mixing both, is a secret
#: (Slack's ``/services/T…/B…/XXXX``, Discord's ``/api/webhooks/ID/TOKEN``, Teams' keys)
_SECRET_SEGMENT = re.compile(r"(?=[A-Za-z0-9_\-]*[0-9])(?=[A-Za-z0-9_\-]*[A-Za-z])[A-Za-z0-9_\-]{16,}")
#: the version of a webhook event's JSON form (``event_version``)
EVENT_VERSION = 1
MAX_URL = 2048


def redact_url(url: str) -> str:
    """``url`` safe to show: ``user:password@`` becomes ``***@``, the value of a query
    parameter named like a secret (token, key, secret, password, sig, …) ``***``, a path
    segment that looks like a token (16+ letters and digits) ``***``, a fragment ``#***``.
    Something that does not parse as a URL is ``***`` whole."""
    if not isinstance(url, str):
        return MASK
    try:
        parts = urllib.parse.urlsplit(url.strip())
        host = parts.hostname
        port = parts.port
    except ValueError:
        return MASK
    if not parts.scheme or not parts.netloc:
        return MASK
    netloc = host or ""
    if ":" in netloc:
        netloc = f"[{netloc}]"
    if port is not None:
        netloc += f":{port}"
    if "@" in parts.netloc:
        netloc = f"{MASK}@{netloc}"
    path = "/".join(MASK if _SECRET_SEGMENT.fullmatch(seg) else seg for seg in parts.path.split("/"))
    query = ""
    if parts.query:
        pairs = []
        for item in parts.query.split("&"):
            name, sep, value = item.partition("=")
            low = urllib.parse.unquote_plus(name).lower()
            secret = any(s in low for s in SECRET_PARAMS) or bool(_SECRET_SEGMENT.fullmatch(value))
            pairs.append(f"{name}{sep}{MASK if (secret and sep) else value}" if sep else
                         (MASK if _SECRET_SEGMENT.fullmatch(name) else name))
        query = "?" + "&".join(pairs)
    frag = f"#{MASK}" if parts.fragment else ""
    return f"{parts.scheme}://{netloc}{path}{query}{frag}"


def secrets_of(url: str) -> list[str]:
    """The secret pieces of ``url`` (userinfo, password, secret query values, token segments),
    longest first: :func:`scrub` removes them from any text."""
    out: set[str] = set()
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return [url]
    if "@" in parts.netloc:
        userinfo = parts.netloc.rsplit("@", 1)[0]
        out.update({userinfo, *userinfo.split(":", 1)})
        out.update(urllib.parse.unquote(p) for p in userinfo.split(":", 1))
    for seg in parts.path.split("/"):
        if _SECRET_SEGMENT.fullmatch(seg):
            out.add(seg)
    for item in parts.query.split("&") if parts.query else ():
        name, sep, value = item.partition("=")
        if sep and value and (any(s in urllib.parse.unquote_plus(name).lower() for s in SECRET_PARAMS)
                              or _SECRET_SEGMENT.fullmatch(value)):
            out.update({value, urllib.parse.unquote_plus(value)})
    if parts.fragment:
        out.add(parts.fragment)
    return sorted((s for s in out if len(s) >= 3), key=len, reverse=True)


def scrub(text: str, urls: Iterable[str]) -> str:
    """``text`` with every URL of ``urls`` redacted, and any secret piece of them masked."""
    for url in sorted(set(urls), key=len, reverse=True):
        text = text.replace(url, redact_url(url))
        for piece in secrets_of(url):
            text = text.replace(piece, MASK)
    return text


def check_webhook_url(url: Any) -> str:
    """``url`` if it is an ``http://`` or ``https://`` URL with a host (a ``UsageError`` showing
    it redacted otherwise)."""
    hint = "A webhook is an http:// or https:// URL, e.g. --webhook https://hooks.example.org/certdoctor"
    if not isinstance(url, str) or not url.strip():
        raise UsageError("a webhook URL must be a non-empty string", hint)
    url = url.strip()
    shown = redact_url(url)
    if len(url) > MAX_URL or any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        raise UsageError(f"webhook {shown}: longer than {MAX_URL} characters or holds blanks/control characters",
                         hint)
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        raise UsageError(f"webhook {shown}: not a URL ({scrub(str(exc), [url])})", hint) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"webhook {shown}: not an http(s) URL with a host", hint)
    return url


# --------------------------------------------------------------------------- events

def _trim(doc: dict[str, Any]) -> bytes:
    body = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
    for key in ("certificates", "findings"):
        if len(body) <= policy.WEBHOOK_MAX_EVENT_BYTES:
            break
        doc[key] = doc[key][:1]
        doc["truncated"] = True
        body = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
    return body


def event(row: "Row", transition: "Transition", previous: Mapping[str, Any] | None,
          new: Mapping[str, Any] | None) -> dict[str, Any]:
    """The JSON event of one transition of ``row`` (``previous``/``new``: the target's snapshots
    before and after, :mod:`certdoctor.monitor.changes`): docs/MONITOR.md lists its fields."""
    from certdoctor.model import to_jsonable
    from certdoctor.monitor.changes import state_of

    doc = row.to_json()
    return {
        "event_version": EVENT_VERSION,
        "source": "certdoctor monitor",
        "kind": transition.kind,
        "target": row.target,
        "target_kind": row.kind,
        "labels": doc["labels"],
        "checked_at": doc["checked_at"],
        "transition": to_jsonable(transition),
        "old": state_of(previous),
        "new": state_of(new),
        "status": row.status,
        "reason": row.reason,
        "days_left": row.days_left,
        "not_after": doc["not_after"],
        "findings": doc["findings"],
        "certificates": doc["certificates"],
    }


@dataclass(frozen=True, slots=True)
class WebhookError:
    """One event not delivered: the hook (redacted), the target and transition, how many
    tries, and why (already scrubbed of the URL's secrets)."""

    webhook: str
    target: str
    kind: str
    tries: int
    error: str

    def to_json(self) -> dict[str, Any]:
        return {"webhook": self.webhook, "target": self.target, "kind": self.kind, "tries": self.tries,
                "error": self.error}


@dataclass
class _Job:
    url: str
    body: bytes
    target: str
    kind: str


_RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})


@dataclass
class Alerts:
    """The run's webhook sender. ``post(url, body, timeout=…) -> status`` is the transport
    (:func:`certdoctor.net.webhook.post_json`)."""

    tries: int = field(default_factory=lambda: policy.WEBHOOK_TRIES)
    backoff: tuple[float, ...] = field(default_factory=lambda: tuple(policy.WEBHOOK_BACKOFF_SECONDS))
    timeout: float = field(default_factory=lambda: policy.WEBHOOK_TIMEOUT_SECONDS)
    senders: int = field(default_factory=lambda: policy.WEBHOOK_SENDERS)
    max_queue: int = field(default_factory=lambda: policy.WEBHOOK_MAX_QUEUE)
    post: Callable[..., int] | None = None

    def __post_init__(self) -> None:
        self._queue: queue.Queue[_Job | None] = queue.Queue(max(1, self.max_queue))
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._pending = 0
        self._idle = threading.Condition(self._lock)
        self._closed = False
        self._known: set[str] = set()
        self.sent = 0
        self.errors: list[WebhookError] = []
        self._in_flight: dict[int, _Job] = {}

    # ----------------------------------------------------------------------- enqueue
    def submit(self, urls: Iterable[str], doc: Mapping[str, Any]) -> None:
        """Queue ``doc`` for each URL; never blocks, never raises (a full queue is an error)."""
        urls = list(urls)
        if not urls:
            return
        body = _trim(dict(doc))
        for url in urls:
            job = _Job(url, body, str(doc.get("target")), str(doc.get("kind")))
            with self._lock:
                self._known.add(url)
                if self._closed:
                    self._fail(job, 0, "the run had ended")
                    continue
                self._pending += 1
            self._start()
            try:
                self._queue.put_nowait(job)
            except queue.Full:
                with self._lock:
                    self._pending -= 1
                    self._fail(job, 0, f"not sent: more than {self.max_queue} events waiting")
                    self._idle.notify_all()

    def _start(self) -> None:
        with self._lock:
            if len(self._threads) >= max(1, self.senders):
                return
            t = threading.Thread(target=self._worker, name=f"certdoctor-webhook-{len(self._threads)}", daemon=True)
            self._threads.append(t)
        t.start()

    # ----------------------------------------------------------------------- deliver
    def _worker(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            with self._lock:
                self._in_flight[id(job)] = job
            try:
                self._deliver(job)
            except BaseException as exc:  # noqa: BLE001 - a sender never dies silently
                with self._lock:
                    self._fail(job, 0, f"{type(exc).__name__}: {exc}")
            finally:
                with self._lock:
                    self._in_flight.pop(id(job), None)
                    self._pending -= 1
                    self._idle.notify_all()

    def _deliver(self, job: _Job) -> None:
        post = self.post
        if post is None:
            from certdoctor.net.webhook import post_json as post
        last = "not tried"
        tries = max(1, self.tries)
        for n in range(1, tries + 1):
            if self._closed:
                with self._lock:
                    self._fail(job, n - 1, f"the run ended before it was delivered ({last})")
                return
            try:
                status = post(job.url, job.body, timeout=self.timeout)
            except Exception as exc:  # noqa: BLE001 - OSError, ssl, http.client: all a failed try
                last = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                retry = True
            else:
                if 200 <= status < 300:
                    with self._lock:
                        self.sent += 1
                    return
                last = f"HTTP {status}"
                retry = status in _RETRY_STATUS
            if not retry:
                with self._lock:
                    self._fail(job, n, last)
                return
            if n < tries:
                wait = self.backoff[min(n - 1, len(self.backoff) - 1)] if self.backoff else 0.0
                time.sleep(wait)
        with self._lock:
            self._fail(job, tries, last)

    def _fail(self, job: _Job, tries: int, why: str) -> None:
        """(under the lock) record one undelivered event, redacted."""
        self.errors.append(WebhookError(redact_url(job.url), job.target, job.kind, tries,
                                        scrub(why, self._known | {job.url})))

    # ----------------------------------------------------------------------- end
    def close(self, drain: float | None = None) -> list[WebhookError]:
        """Wait at most ``drain`` seconds (default :data:`~certdoctor.policy.WEBHOOK_DRAIN_SECONDS`)
        for the queued and in-flight events; whatever is left is reported as not delivered. The
        senders are daemon threads: a hook that stalls never keeps the process alive."""
        limit = policy.WEBHOOK_DRAIN_SECONDS if drain is None else drain
        end = time.monotonic() + max(0.0, limit)
        with self._lock:
            while self._pending > 0:
                left = end - time.monotonic()
                if left <= 0:
                    break
                self._idle.wait(left)
            self._closed = True
            leftovers: list[_Job] = list(self._in_flight.values())
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                leftovers.append(job)
                with self._lock:
                    self._pending -= 1
        with self._lock:
            for job in leftovers:
                self._fail(job, 0, f"not delivered within {limit:g} s after the last row (the hook is slow or "
                                   "stalled)")
            self._in_flight.clear()
            errors = list(self.errors)
        for _ in self._threads:
            try:
                self._queue.put_nowait(None)
            except queue.Full:  # pragma: no cover
                break
        return errors


__all__ = ["Alerts", "WebhookError", "redact_url", "scrub", "secrets_of", "check_webhook_url", "event",
           "EVENT_VERSION", "MASK"]
