"""Expiry of every certificate of every chain, files and endpoints alike, with Nagios states.

    >>> from certdoctor.expiry import check_expiry
    >>> report = check_expiry(["chain.pem", "example.org:443"], warn_days=30, crit_days=7)  # doctest: +SKIP
    >>> report.summary                                                                       # doctest: +SKIP
    'CERT OK - 5 certificates in 2 chains, soonest example.org expires in 84 days | days_left=84;30;7'
    >>> report.exit_code                                                                     # doctest: +SKIP
    0

States: a certificate is CRITICAL when expired, not yet valid, or ``days_left < crit_days``;
WARNING when ``days_left < warn_days``; else OK (``days_left``: whole days, toward zero).
A source that could not be read or reached is UNKNOWN (with its error), never a crash. The
run's state is the worst one, ranked CRITICAL > UNKNOWN > WARNING > OK: a source that could
not be checked may hide an expired certificate, so it outranks a warning.

For endpoints the local clock is compared with the server's HTTP ``Date`` header, read with a
HEAD request over a *verified* connection (the default store, or ``ca_file``); when the chain
does not verify there, the skew stays unknown (``None``). A skew over 5 minutes is a
``CLOCK_SKEW`` finding (WARNING): expiry and TLS verification both depend on the clock.

Endpoints are reached through ``proxy`` (an ``http://`` CONNECT proxy), else through the proxy
that ``HTTPS_PROXY``/``ALL_PROXY``/``NO_PROXY`` name for each host, as requests would
(:func:`certdoctor.net.proxy.effective_proxy`); the chain and the verified ``Date`` request both
go that way.
"""

from __future__ import annotations


import datetime as _dt
import enum
import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from certdoctor import policy
from certdoctor.errors import CertdoctorError, UsageError
from certdoctor.model import Actor, Code, Finding, Severity

if TYPE_CHECKING:  # pragma: no cover
    from cryptography import x509

    from certdoctor.net.target import Target

DEFAULT_WARN_DAYS = policy.EXPIRING_SOON_DAYS
DEFAULT_CRIT_DAYS = policy.CRITICAL_DAYS
DEFAULT_TIMEOUT = policy.TIMEOUT_SECONDS
CLOCK_SKEW_LIMIT = policy.CLOCK_SKEW_SECONDS
DAY = 86400.0


class State(str, enum.Enum):
    """Nagios plugin states; ``exit_code`` is the plugin exit status."""

    OK = "OK"
    WARNING = "WARNING"
    CRITICAL = "CRITICAL"
    UNKNOWN = "UNKNOWN"

    @property
    def exit_code(self) -> int:
        return {"OK": 0, "WARNING": 1, "CRITICAL": 2, "UNKNOWN": 3}[self.value]

    @property
    def rank(self) -> int:
        """Order used to pick a run's worst state: CRITICAL > UNKNOWN > WARNING > OK."""
        return {"OK": 0, "WARNING": 1, "UNKNOWN": 2, "CRITICAL": 3}[self.value]


def worst(states: Iterable[State]) -> State:
    return max(states, key=lambda s: s.rank, default=State.OK)


@dataclass(frozen=True, slots=True)
class CertExpiry:
    """One certificate's validity window as of ``now``.

    ``days_left`` is whole days until notAfter, rounded toward zero (negative once expired
    by a full day; ``expired`` is exact).
    ``lifetime_used`` is the share of notBefore..notAfter elapsed, in percent, clamped to
    0..100 (``expired``/``not_yet_valid`` say which end was passed). ``der`` is the certificate
    (left out of JSON: the document's ``certificates`` hold it).
    """

    index: int
    name: str
    subject: str
    issuer: str
    not_before: _dt.datetime
    not_after: _dt.datetime
    days_left: int
    lifetime_used: float
    expired: bool
    not_yet_valid: bool
    state: State
    fingerprint_sha256: str
    der: bytes = field(default=b"", repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class ClockCheck:
    """The server's HTTP ``Date`` versus the local clock.

    ``skew_seconds`` = server time - local time (positive: the local clock is behind);
    ``None`` when unknown, and ``note`` says why (e.g. the chain did not verify).
    """

    server_date: _dt.datetime | None
    skew_seconds: float | None
    flagged: bool
    note: str


@dataclass(frozen=True, slots=True)
class SourceExpiry:
    """One source (file or endpoint): its chain, or the error that stopped it (UNKNOWN).

    ``kind`` is what :func:`certdoctor.net.target.classify` made of it (``"file"`` or
    ``"endpoint"``; a source it refused is ``"endpoint"`` unless it looks like a path); ``target``
    is the parsed endpoint (``None`` for a file).
    """

    source: str
    kind: str  # "file" or "endpoint"
    host: str | None
    port: int | None
    certs: tuple[CertExpiry, ...]
    state: State
    error: str | None
    findings: tuple[Finding, ...]
    clock: ClockCheck | None
    target: "Target | None" = None


@dataclass(frozen=True, slots=True)
class ExpiryReport:
    """The whole run: per-source results, the worst state and the Nagios summary line."""

    sources: tuple[SourceExpiry, ...]
    state: State
    exit_code: int
    summary: str
    warn_days: int
    crit_days: int
    now: _dt.datetime
    soonest_days_left: int | None


# --------------------------------------------------------------------------- computation


def _utc(value: _dt.datetime) -> _dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=_dt.timezone.utc)


def _cert_name(cert: "x509.Certificate") -> str:
    from cryptography import x509

    try:
        cn = cert.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)
        if cn:
            return str(cn[0].value)
    except Exception:
        pass
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = san.get_values_for_type(x509.DNSName) or [str(i) for i in san.get_values_for_type(x509.IPAddress)]
        if names:
            return names[0]
    except Exception:
        pass
    try:
        return cert.subject.rfc4514_string() or "(empty subject)"
    except Exception:  # pragma: no cover
        return "(unparsable subject)"


def cert_expiry(cert: "x509.Certificate", index: int, now: _dt.datetime, warn_days: int, crit_days: int) -> CertExpiry:
    """The :class:`CertExpiry` of one certificate."""
    from certdoctor.model import fingerprint_sha256

    now = _utc(now)
    nb, na = cert.not_valid_before_utc, cert.not_valid_after_utc
    left = (na - now).total_seconds()
    days_left = math.trunc(left / DAY)  # toward zero: "expired 10 days ago" is -10
    life = (na - nb).total_seconds()
    used = 100.0 if life <= 0 else (now - nb).total_seconds() / life * 100.0
    used = round(min(100.0, max(0.0, used)), 1)
    expired, not_yet = now > na, now < nb
    if expired or not_yet or days_left < crit_days:
        state = State.CRITICAL
    elif days_left < warn_days:
        state = State.WARNING
    else:
        state = State.OK
    try:
        subject, issuer = cert.subject.rfc4514_string(), cert.issuer.rfc4514_string()
    except Exception:  # pragma: no cover
        subject = issuer = "(unparsable)"
    return CertExpiry(index=index, name=_cert_name(cert), subject=subject, issuer=issuer, not_before=nb,
                      not_after=na, days_left=days_left, lifetime_used=used, expired=expired,
                      not_yet_valid=not_yet, state=state, fingerprint_sha256=fingerprint_sha256(cert),
                      der=_der(cert))


def _der(cert: "x509.Certificate") -> bytes:
    from cryptography.hazmat.primitives import serialization

    return cert.public_bytes(serialization.Encoding.DER)


def _findings(certs: Sequence[CertExpiry], warn_days: int, crit_days: int, now: _dt.datetime) -> list[Finding]:
    out: list[Finding] = []
    for c in certs:
        if c.expired:
            ago = int((now - c.not_after).total_seconds() // DAY)
            out.append(Finding(Code.EXPIRED, Severity.ERROR, f"{c.name} expired {_days(ago)} ago",
                               evidence=(f"notAfter {c.not_after.isoformat()}",),
                               fix="Renew the certificate and install it on the server.",
                               who=Actor.SERVER_OPERATOR, cert_index=c.index, rule="expired"))
        elif c.not_yet_valid:
            out.append(Finding(Code.NOT_YET_VALID, Severity.ERROR,
                               f"{c.name} is not valid before {c.not_before.isoformat()}",
                               evidence=(f"notBefore {c.not_before.isoformat()}",),
                               fix="Check the clocks (this machine's and the issuing CA's) or wait.",
                               who=Actor.SERVER_OPERATOR, cert_index=c.index, rule="not_yet_valid"))
        elif c.state is not State.OK:
            limit = crit_days if c.state is State.CRITICAL else warn_days
            out.append(Finding(Code.EXPIRING_SOON,
                               Severity.ERROR if c.state is State.CRITICAL else Severity.WARNING,
                               f"{c.name} expires in {_days(c.days_left)} (threshold {limit})",
                               evidence=(f"notAfter {c.not_after.isoformat()}",),
                               fix="Renew the certificate before it expires.",
                               who=Actor.SERVER_OPERATOR, cert_index=c.index, rule="expiring_soon"))
    return out


def _days(n: int) -> str:
    return f"{n} day" if abs(n) == 1 else f"{n} days"


# --------------------------------------------------------------------------- sources


def parse_endpoint(source: str) -> tuple[str, int, str]:
    """``host[:port]`` or ``https://host[:port]/path`` to (host, port, path), by
    :func:`certdoctor.net.target.parse_target` (its hint names files too: expiry takes both).
    Which of the two a source is, is :func:`certdoctor.net.target.classify`'s call.

        >>> parse_endpoint("https://example.org:8443/health?full=1")
        ('example.org', 8443, '/health?full=1')
    """
    from certdoctor.net.target import parse_target

    t = parse_target(source, files=True)
    return t.host, t.port, t.path


def _load_file(path: str, password: str | None = None) -> tuple["x509.Certificate", ...]:
    from certdoctor.x509.load import load_file

    return tuple(load_file(path, password=password))


def _fetch(host: str, port: int, servername: str | None, timeout: float,
           proxy: str | None = None) -> tuple["x509.Certificate", ...]:
    from certdoctor.net.probe import fetch_chain

    kw: dict[str, Any] = {"timeout": timeout}
    if servername:
        kw["servername"] = servername
    if proxy:
        kw["proxy"] = proxy
    return tuple(fetch_chain(host, port, **kw))


def _verify_context(ca_file: str | os.PathLike[str] | None) -> tuple[Any, str]:
    import ssl

    if ca_file:
        return ssl.create_default_context(cafile=str(ca_file)), f"--ca-file {ca_file}"
    ctx = ssl.create_default_context()  # the OS store (and SSL_CERT_FILE/SSL_CERT_DIR)
    try:
        import certifi

        ctx.load_verify_locations(cafile=certifi.where())
        return ctx, "the default store (system + certifi)"
    except Exception:
        return ctx, "the default store (system)"


def clock_check(host: str, port: int, *, servername: str | None = None, path: str = "/",
                ca_file: str | os.PathLike[str] | None = None, timeout: float = DEFAULT_TIMEOUT,
                proxy: str | None = None) -> ClockCheck:
    """Read the server's ``Date`` with a HEAD request over a verified connection only.

    ``proxy``: an ``http://[user:pass@]host:port`` proxy to tunnel through with CONNECT (the
    TLS inside is verified all the same); ``None`` connects directly.
    """
    import email.utils
    import http.client
    import socket
    import ssl

    from certdoctor.net.deadline import bounded_response, effective

    ctx, store = _verify_context(ca_file)
    name = servername or host
    sock = None
    d = effective(None, timeout)  # the command's deadline: connect, handshake and headers together
    try:
        t0 = time.time()
        if d.expired:
            return ClockCheck(None, None, False, "unknown: " + d.message(f"HEAD {path}"))
        if proxy:
            from certdoctor.net.proxy import open_tunnel

            raw = open_tunnel(proxy, host, port, d.op(timeout, floor=0.05), "certdoctor-expiry")
        else:
            raw = socket.create_connection((host, port), timeout=d.op(timeout, floor=0.05))
        try:
            raw.settimeout(d.op(timeout, floor=0.05))
            sock = ctx.wrap_socket(raw, server_hostname=name)
        except BaseException:
            raw.close()
            raise
        host_header = name if port == 443 else f"{name}:{port}"
        sock.settimeout(d.op(timeout, floor=0.05))
        sock.sendall(f"HEAD {path} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: certdoctor-expiry\r\n"
                     "Connection: close\r\nAccept: */*\r\n\r\n".encode("latin-1"))
        resp = bounded_response(sock, d, method="HEAD", per_read=timeout)  # headers within the deadline
        t1 = time.time()
        date = resp.getheader("Date")
        resp.close()
    except (socket.timeout, TimeoutError) as exc:
        if d.expired:
            return ClockCheck(None, None, False, "unknown: " + d.message(f"HEAD {path}"))
        return ClockCheck(None, None, False, f"unknown: HEAD {path} failed: {exc}")
    except ssl.SSLCertVerificationError as exc:
        reason = getattr(exc, "verify_message", None) or str(exc)
        return ClockCheck(None, None, False,
                          f"unknown: the chain does not verify against {store} ({reason}); "
                          "the Date header is only read over a verified connection")
    except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
        return ClockCheck(None, None, False, f"unknown: HEAD {path} failed: {exc}")
    finally:
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass
    if not date:
        return ClockCheck(None, None, False, "unknown: the server sent no Date header")
    try:
        server = email.utils.parsedate_to_datetime(date)
    except (TypeError, ValueError):
        return ClockCheck(None, None, False, f"unknown: unparsable Date header {date!r}")
    server = _utc(server)
    local_mid = (t0 + t1) / 2.0
    # Date has 1 s resolution, truncated: the true server time is in [Date, Date + 1)
    skew = round(server.timestamp() + 0.5 - local_mid, 1)
    flagged = abs(skew) > CLOCK_SKEW_LIMIT
    note = (f"server Date {server.isoformat()} (verified against {store}); local clock is "
            f"{_skew_words(skew)}")
    return ClockCheck(server, skew, flagged, note)


def _alongside(fn):
    """``fn`` started in a thread now (the command's deadline context copied); the callable
    returned waits for its result, raising what it raised. ``fn`` is bounded by that deadline."""
    import contextvars
    import threading

    box: dict = {}
    ctx = contextvars.copy_context()

    def work() -> None:
        try:
            box["value"] = ctx.run(fn)
        except BaseException as exc:  # handed to whoever waits
            box["error"] = exc

    t = threading.Thread(target=work, name="certdoctor-clock", daemon=True)
    t.start()

    def wait():
        t.join()
        if "error" in box:
            raise box["error"]
        return box["value"]

    return wait


def _settle(waiting) -> None:
    """Wait for a step started alongside whose result is no longer wanted (never left running)."""
    if waiting is not None:
        try:
            waiting()
        except Exception:  # noqa: BLE001 - its result is discarded either way
            pass


def _skew_words(skew: float) -> str:
    if abs(skew) < 2:
        return "in step (within 2 s)"
    side = "behind" if skew > 0 else "ahead"
    a = abs(skew)
    amount = f"{a:.0f} s" if a < 120 else (f"{a / 60:.1f} min" if a < 7200 else f"{a / 3600:.1f} h")
    return f"{amount} {side}"


def _check_source(source: str, warn_days: int, crit_days: int, now: _dt.datetime, *, timeout: float,
                  servername: str | None, ca_file: str | None, check_clock: bool,
                  proxy: str | None = None, environ=None, password: str | None = None) -> SourceExpiry:
    from certdoctor.net.target import ENDPOINT, FILE, classify, looks_like_path

    kind = "file" if looks_like_path(source) else "endpoint"
    host = port = target = None
    url_path = "/"
    clocking = None
    try:
        src = classify(source, servername=servername, kinds=(FILE, ENDPOINT))  # the one rule set
        kind = src.kind
        if src.target is None:
            certs = _load_file(source, password)
        else:
            target = src.target
            host, port, url_path = target.host, target.port, target.path
            from certdoctor.net.proxy import proxy_for_host

            proxy = proxy_for_host(host, port, proxy, environ)
            from certdoctor.net.deadline import effective

            if check_clock:  # its own verified connection: made while the chain is read, not after
                h, p, px = host, port, proxy
                clocking = _alongside(lambda: clock_check(h, p, servername=servername, path=url_path,
                                                          ca_file=ca_file, timeout=timeout, proxy=px))
            certs = _fetch(host, port, servername, max(0.05, effective(None, timeout).op(timeout)), proxy)
        if not certs:
            raise UsageError(f"{source}: no certificate", None)
    except CertdoctorError as exc:
        _settle(clocking)
        return SourceExpiry(source, kind, host, port, (), State.UNKNOWN, exc.message, (), None, target)
    except ImportError as exc:  # pragma: no cover - load.py / probe.py not installed
        _settle(clocking)
        return SourceExpiry(source, kind, host, port, (), State.UNKNOWN, f"cannot check: {exc}", (), None, target)
    except Exception as exc:  # one bad source never sinks the run
        _settle(clocking)
        return SourceExpiry(source, kind, host, port, (), State.UNKNOWN,
                            f"{source}: {type(exc).__name__}: {exc}", (), None, target)
    rows = tuple(cert_expiry(c, i, now, warn_days, crit_days) for i, c in enumerate(certs))
    findings = _findings(rows, warn_days, crit_days, now)
    state = worst(r.state for r in rows)
    clock = None
    if kind == "endpoint" and clocking is not None:
        assert host is not None and port is not None
        clock = clocking()
        if clock.flagged:
            findings.append(Finding(
                Code.CLOCK_SKEW, Severity.WARNING,
                f"local clock differs from {host}'s by {_skew_words(clock.skew_seconds or 0.0)}",
                explanation="Certificate validity is judged by the local clock: a wrong clock "
                            "makes valid certificates look expired or not yet valid.",
                evidence=(clock.note,), fix="Synchronise this machine's clock (NTP).",
                who=Actor.CLIENT_USER))
            state = worst((state, State.WARNING))
    return SourceExpiry(source, kind, host, port, rows, state, None, tuple(findings), clock, target)


def check_expiry(
    sources: Iterable[str | os.PathLike[str]],
    warn_days: int = DEFAULT_WARN_DAYS,
    crit_days: int = DEFAULT_CRIT_DAYS,
    now: _dt.datetime | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    servername: str | None = None,
    ca_file: str | os.PathLike[str] | None = None,
    check_clock: bool = True,
    concurrency: int = 16,
    proxy: str | None = None,
    environ=None,
    password: str | None = None,
) -> ExpiryReport:
    """Expiry of every certificate of every source (files and endpoints), as one report.

    ``sources``: classified by :func:`certdoctor.net.target.classify`: existing paths are
    certificate files (PEM, DER, PKCS#7, PKCS#12), a name that looks like a file but does not
    exist is a missing file (UNKNOWN, no DNS lookup); anything else is ``host[:port]`` or an
    ``https://`` URL whose presented chain is read. Endpoints are
    checked in a thread pool (``concurrency`` workers). ``now`` pins the time of the expiry
    arithmetic (the clock-skew check always uses the real clock). ``servername`` is the SNI
    (and verified name) for every endpoint. ``ca_file`` is the trust used for the verified
    ``Date`` request; ``check_clock=False`` skips it. ``proxy`` is an ``http://`` CONNECT proxy
    for every endpoint; without it each endpoint follows ``HTTPS_PROXY``/``ALL_PROXY``/``NO_PROXY``
    of ``environ`` (default ``os.environ``) as requests would. ``password`` opens every
    password-protected PKCS#12 file among the sources. Bad thresholds raise :class:`UsageError`.
    """
    if warn_days < 0 or crit_days < 0:
        raise UsageError(f"thresholds must not be negative (warn {warn_days}, crit {crit_days})", None)
    if warn_days < crit_days:
        raise UsageError(f"--warn-days ({warn_days}) must not be below --crit-days ({crit_days})", None)
    if timeout <= 0:
        raise UsageError(f"timeout must be positive, not {timeout}", None)
    srcs = [os.fspath(s) for s in sources]
    if not srcs:
        raise UsageError("no source given: name a certificate file, host[:port] or https:// URL", None)
    now = _utc(now or _dt.datetime.now(_dt.timezone.utc))
    ca = os.fspath(ca_file) if ca_file else None

    def one(src: str) -> SourceExpiry:
        return _check_source(src, warn_days, crit_days, now, timeout=timeout, servername=servername,
                             ca_file=ca, check_clock=check_clock, proxy=proxy, environ=environ,
                             password=password)

    import contextvars

    from certdoctor.net.deadline import within

    workers = max(1, min(int(concurrency), len(srcs)))
    with within(timeout):  # one deadline for the whole run (the command's, if it set one)
        if workers == 1:
            results = tuple(one(s) for s in srcs)
        else:
            ctx = contextvars.copy_context()
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="certdoctor-expiry") as pool:
                results = tuple(pool.map(lambda src: ctx.copy().run(one, src), srcs))
    return build_report(results, warn_days, crit_days, now)


def build_report(results: Sequence[SourceExpiry], warn_days: int, crit_days: int, now: _dt.datetime) -> ExpiryReport:
    """The run's state and Nagios summary from per-source results."""
    state = worst(r.state for r in results)
    certs = [(r, c) for r in results for c in r.certs]
    chains = sum(1 for r in results if r.certs)
    unknown = [r for r in results if r.state is State.UNKNOWN]
    soonest = min((c.days_left for _, c in certs), default=None)
    parts: list[str] = []
    if certs:
        # the headline certificate: worst state first, then the nearest notAfter
        _, head = min(certs, key=lambda rc: (-rc[1].state.rank, rc[1].days_left))
        if head.expired:
            ago = int((now - head.not_after).total_seconds() // DAY)
            phrase = f"{head.name} expired {_days(ago)} ago"
        elif head.not_yet_valid:
            start = int((head.not_before - now).total_seconds() // DAY)
            phrase = f"{head.name} is not valid yet (starts in {_days(start)})"
        else:
            phrase = f"soonest {head.name} expires in {_days(head.days_left)}"
        n = len(certs)
        parts.append(f"{n} certificate{'s' if n != 1 else ''} in {chains} chain{'s' if chains != 1 else ''}, {phrase}")
    skewed = [r for r in results if r.clock is not None and r.clock.flagged]
    for r in skewed:
        parts.append(f"clock skew {_skew_words(r.clock.skew_seconds or 0.0)} vs {r.host}")  # type: ignore[union-attr]
    if unknown:
        first = unknown[0]
        more = f" (+{len(unknown) - 1} more)" if len(unknown) > 1 else ""
        parts.append(f"{len(unknown)} of {len(results)} source{'s' if len(results) != 1 else ''} "
                     f"not checked: {_one_line(first.error or first.source)}{more}")
    summary = f"CERT {state.value} - " + "; ".join(parts)
    if soonest is not None:
        summary += f" | days_left={soonest};{warn_days};{crit_days}"
    return ExpiryReport(sources=tuple(results), state=state, exit_code=state.exit_code, summary=summary,
                        warn_days=warn_days, crit_days=crit_days, now=now, soonest_days_left=soonest)


def _one_line(text: str) -> str:
    return " ".join(text.split()).replace("|", "/")


__all__ = [
    "DEFAULT_WARN_DAYS",
    "DEFAULT_CRIT_DAYS",
    "CLOCK_SKEW_LIMIT",
    "State",
    "CertExpiry",
    "ClockCheck",
    "SourceExpiry",
    "ExpiryReport",
    "check_expiry",
    "build_report",
    "cert_expiry",
    "clock_check",
    "parse_endpoint",
    "worst",
]
