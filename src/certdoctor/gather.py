"""All the I/O of one diagnosis, and nothing else: the result is one :class:`~certdoctor.evidence.Evidence`.

In order:

1. :mod:`certdoctor.trust.effective` — the store the chosen client really uses here, and why
   (files and environment are read here, once).
2. :mod:`certdoctor.net.probe` — one handshake that records the presented chain, the TLS facts and
   the stapled OCSP response (no data sent).
3. :mod:`certdoctor.net.aia` — the AIA chase: while the top of the path has no issuer among the
   anchors and the certificates in hand, download its "CA Issuers" URL (within one time budget).
4. The interception probes — only when the path does not reach the store. Through a proxy: the
   same target reached directly (no proxy, a short timeout), and the canary hosts through the same
   proxy. Without a proxy, when the leaf looks minted on the fly (minutes old, short-lived): the
   canary hosts reached directly (a transparent interceptor signs them too). All bounded by
   :data:`policy.CANARY_BUDGET_SECONDS` (+ :data:`policy.DIRECT_PROBE_TIMEOUT_SECONDS`).
5. :mod:`certdoctor.revocation.gather` — the CRL/OCSP answers about the leaf, as far as judging needs.
6. :mod:`certdoctor.net.client` — the real client library against the URL with exactly that trust.

Which of 4 and 5 to do depends on the path; the path is computed with the same pure function the
checks use (:func:`certdoctor.x509.path.build_path`), so gathering and judging agree on it.

The steps overlap where nothing orders them (each is blocking I/O in a thread of its own, all
under the one deadline): the handshake starts first and, while it waits, the trust store is read
and the imports the later steps need are made; the real client (6) runs from then on, alongside
everything else (with ``--pin`` it waits for the path: a server failing the pin is sent no
request). When the caller asks (``fork=True``: the command line does) and the process runs one
thread when gathering starts (on Linux), the real client runs in a forked child instead
(:class:`_Forked`): threads take turns in one
interpreter, so importing ``requests`` in one while another imports ``cryptography`` saves
nothing, where a child on the other core imports and connects while this process probes,
parses and builds the path; the trust is worked out before the fork, the probe starts right
after it. The staple handshake — made only when the leaf names an OCSP responder, or the
caller asks (``staple=True``) — runs alongside the AIA chase, and the first CRL and OCSP
downloads start together while it finishes (:func:`certdoctor.revocation.gather.gather`
``prefetch``). The result is the one the same steps give one after the other
(``CERTDOCTOR_SEQUENTIAL=1``, for the tests and the benchmark): a test compares both on every
lab scenario, and tests/integration/test_diagnose_forked.py the forked client's.

    >>> ev = gather("https://expired-leaf.lab.test:8443/", ca_file="lab-root.pem")   # doctest: +SKIP
    >>> from certdoctor.diagnose import judge; judge(ev).primary.code                 # doctest: +SKIP
"""

from __future__ import annotations

import datetime as _dt
import sys
from typing import TYPE_CHECKING, Sequence

from certdoctor import policy
from certdoctor.errors import InputError, UsageError
from certdoctor.model import CLIENTS, CertInfo, is_ip

if TYPE_CHECKING:  # pragma: no cover
    from cryptography import x509

    from certdoctor.evidence import CanaryProbe, Evidence, RevocationEvidence

    from certdoctor.net.fetch import FetchCache
    from certdoctor.x509.path import PathResult

#: hosts probed through the same proxy to prove it re-signs every site (the default of
#: ``--canary`` / ``CERTDOCTOR_CANARIES``)
CANARY_HOSTS = ("pypi.org", "www.python.org")
#: the environment variable naming the canary hosts (comma-separated ``HOST[:PORT]``; ``none``: no canary)
CANARY_ENV = "CERTDOCTOR_CANARIES"


def canary_hosts(canaries: "Sequence[str] | str | None" = None, environ=None) -> tuple[tuple[str, int], ...]:
    """The canary hosts as ``(host, port)``: ``canaries`` when given (``HOST[:PORT]`` items, or one
    comma-separated string), else ``CERTDOCTOR_CANARIES``, else :data:`CANARY_HOSTS`. ``none``
    (alone) means no canary. A malformed item is bad usage.

        >>> canary_hosts(["intranet.example:8443", "[::1]"], environ={})
        (('intranet.example', 8443), ('::1', 443))
    """
    import os

    env = os.environ if environ is None else environ
    if canaries is None:
        raw = (env.get(CANARY_ENV) or "").strip()
        items = [x for x in raw.split(",")] if raw else list(CANARY_HOSTS)
        source = CANARY_ENV if raw else None
    else:
        items = list(canaries.split(",")) if isinstance(canaries, str) else [x for c in canaries for x in c.split(",")]
        source = "--canary"
    items = [x.strip() for x in items if x.strip()]
    if [x.lower() for x in items] == ["none"]:
        return ()
    out: list[tuple[str, int]] = []
    for item in items:
        pair = _host_port(item)
        if pair is None:
            raise UsageError(f"bad canary host {item!r}" + (f" (from {source})" if source else ""),
                             "Give HOST or HOST:PORT, e.g. --canary pypi.org --canary intranet.example:8443 "
                             f"(or {CANARY_ENV}=pypi.org,intranet.example:8443; 'none' for no canary).")
        if pair not in out:
            out.append(pair)
    if len(out) > policy.MAX_CANARIES:
        raise UsageError(f"{len(out)} canary hosts given, at most {policy.MAX_CANARIES} are probed",
                         "Name fewer --canary hosts: one or two that the proxy surely intercepts are enough.")
    return tuple(out)


def _host_port(item: str) -> tuple[str, int] | None:
    """``host``, ``host:port``, ``[v6]`` or ``[v6]:port`` → ``(host, port)``; ``None`` if malformed."""
    import re

    if "://" in item or "/" in item or any(c.isspace() for c in item):
        return None
    m = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\](?::(\d{1,5}))?", item)
    if m:
        host, port = m.group(1), m.group(2)
    elif item.count(":") == 1:
        host, port = item.split(":")
    elif ":" in item:
        return None  # a bare IPv6 address needs brackets (its last group would read as a port)
    else:
        host, port = item, None
    host = host.rstrip(".")
    if not host or len(host) > 253 or not re.fullmatch(r"[A-Za-z0-9._:-]+", host):
        return None
    if port is not None and not (port.isdigit() and 0 < int(port) < 65536):
        return None
    return host.lower(), int(port) if port else 443


def _der(cert: "x509.Certificate") -> bytes:
    from cryptography.hazmat.primitives import serialization

    return cert.public_bytes(serialization.Encoding.DER)


def resolve_python(python: str | None) -> str:
    """``"3.13"`` for 3.13 rules, else this Python's ``major.minor``; refuses anything else."""
    if python not in (None, "3.13", "current"):
        raise UsageError(f"--python {python!r} is not supported", "Use --python 3.13 (or leave it out).")
    if python is None or python == "current":
        return "3.13" if sys.version_info >= (3, 13) else f"{sys.version_info[0]}.{sys.version_info[1]}"
    return python


def gather(
    target: str,
    *,
    client: str = "requests",
    ca_file: str | None = None,
    python: str | None = None,
    proxy: str | None = None,
    servername: str | None = None,
    timeout: float = policy.TIMEOUT_SECONDS,
    now: _dt.datetime | None = None,
    environ=None,
    aia: bool = True,
    revocation: bool = True,
    pins: Sequence[str] = (),
    warn_days: int = policy.EXPIRING_SOON_DAYS,
    cache: "FetchCache | None" = None,
    run_real_client: bool = True,
    canaries: "Sequence[str] | str | None" = None,
    allow_private_fetch: bool | None = None,
    revocation_untrusted: bool = False,
    staple: bool | None = None,
    warm: Sequence[str] = (),
    fork: bool = False,
) -> "Evidence":
    """Everything the network (and the environment) says about ``target`` for ``client``.

    The parameters are :func:`certdoctor.diagnose.diagnose`'s. Raises only for bad usage (an
    unknown client, a malformed target or pin) and what the caller's own input breaks; a server
    that fails is evidence.

    ``timeout`` bounds the whole gathering (one :class:`~certdoctor.net.deadline.Deadline`: the
    probe, the AIA chase, revocation, the real client), within the running command's deadline.
    The AIA/CRL/OCSP URLs the certificates name are fetched only where the target's own address
    allows (:func:`certdoctor.net.resolve.fetch_allowed`; ``allow_private_fetch`` lifts that —
    default: the running command's ``--allow-private-fetch``), and
    CRL/OCSP only for a path that reaches the store (``revocation_untrusted``: for any path).
    ``staple``: ask for a stapled OCSP response (``None``: when the leaf names an OCSP responder;
    ``False``: never). ``warm``: module names the caller needs once the evidence is judged (its
    renderer), imported after the later steps' own while the network waits (never with
    ``CERTDOCTOR_SEQUENTIAL``; a name that fails to import is left to the caller). ``fork``: run
    the real client in a forked child (:class:`_Forked`) where the process runs one thread; the
    command line asks for it (it is a process of its own), a program calling this library does
    not get a child process it did not ask for."""
    import os

    from certdoctor.net.client import ClientOutcome, run_client
    from certdoctor.net.deadline import can_fork, within
    from certdoctor.net.proxy import effective_proxy
    from certdoctor.net.resolve import FetchScope, private_fetch_allowed
    from certdoctor.net.target import parse_target
    from certdoctor.trust.effective import effective_trust

    # one deadline for all of it (within the running command's, if that ends first)
    with within(timeout) as deadline:
        if client not in CLIENTS:
            raise UsageError(f"unknown client {client!r}", f"Choose one of: {', '.join(CLIENTS)}.")
        python = resolve_python(python)
        env = os.environ if environ is None else environ
        tgt = parse_target(target, servername)
        if pins:
            from certdoctor.pinning.pins import parse_pins

            pins = parse_pins(pins)  # a malformed pin is bad usage, before any connection
        canary_list = canary_hosts(canaries, env)  # a malformed canary too
        strict_python = python if python == "3.13" else None
        together = not sequential()
        used_proxy = effective_proxy(tgt.url, proxy, env)
        sni = None if is_ip(tgt.servername) else tgt.servername
        early_client = run_real_client and not pins
        # the real client on the other core (a forked child: see _Forked) where it can be
        forked = fork and together and early_client and can_fork()

        def probe_step() -> _Step:
            from certdoctor.net.probe import probe

            return _Step(lambda: probe(tgt.host, tgt.port, servername=sni, proxy=used_proxy,
                                       timeout=max(0.05, deadline.op(timeout)), ocsp=False), together)

        # the handshake first: while it waits for the server, this thread works out the trust,
        # the real client starts, and the anchors and the later steps' imports are read in the
        # background (one after the other, as the code asks for them, with CERTDOCTOR_SEQUENTIAL).
        # A forked client needs the trust first, and no thread may run while it is forked
        probing = None if forked else probe_step()
        trust = effective_trust(client, ca_file=ca_file, environ=env, python=strict_python)
        clock = now or _dt.datetime.now(_dt.timezone.utc)

        def real_client() -> "ClientOutcome":
            return run_client(client, tgt.url, trust, python=strict_python, proxy=used_proxy, timeout=timeout,
                              servername=tgt.servername, deadline=deadline, pins=pins or None)

        # the real client needs nothing the probe finds, except with --pin: a server failing
        # the pin is sent no request, so then it waits for the path
        running: "_Step | _Forked | None" = None
        if forked:
            running = _Forked(real_client, deadline, client)
        elif early_client:
            running = _Step(real_client, together)
        try:
            if probing is None:  # forked: the handshake starts now that the child runs
                probing = probe_step()
            # the anchors, read once the real client's library is imported: reading a bundle silences
            # cryptography's warnings with warnings.catch_warnings(), which swaps the whole process's
            # filter list for a while, so a filter a library adds meanwhile in another thread
            # (requests silences urllib3's DependencyWarning as it is imported) would be lost
            anchoring = _Step(lambda: _anchors(trust, client if together and early_client and not forked else None),
                              together)
            if together:
                _Step(lambda: (anchoring.result(), _warm_imports(warm)), True)
            res = probing.result()
            store = anchoring.result()
            # what the certificates' URLs may reach: no more internal than the address really connected
            # to (through a proxy certdoctor does not see it: public)
            allow = private_fetch_allowed() if allow_private_fetch is None else allow_private_fetch
            scope = FetchScope.for_target(res.address, proxied=bool(used_proxy), allow_private=allow)
            attempts: tuple = ()
            canary: tuple[CanaryProbe, ...] = ()
            rev: RevocationEvidence | None = None
            seen: list = []
            path: "PathResult | None" = None
            try:
                certs = res.certificates() if res.chain_der else ()
            except InputError:  # a certificate cryptography cannot read: judged as MALFORMED_CERT (checks/context)
                certs = ()
            stapling: _Step | None = None
            if revocation and certs and res.failure is None and _wants_staple(staple, certs[0], clock):
                from certdoctor.net.probe import fetch_staple

                stapling = _Step(lambda: fetch_staple(tgt.host, tgt.port, servername=sni, proxy=used_proxy,
                                                      timeout=max(0.05, deadline.op(timeout))), together)
            if certs:
                from certdoctor.net.aia import chase
                from certdoctor.x509.path import build_path, fetched_pool

                if aia:
                    attempts = chase(certs, store, cache=cache, budget=min(policy.AIA_BUDGET_SECONDS, timeout),
                                     deadline=deadline, scope=scope)
                seen = list(certs) + fetched_pool(attempts)
                path = build_path(certs, store, host=tgt.servername, now=clock, aia_attempts=attempts,
                                  verify_rfc5280=False)
                if run_real_client and pins:
                    running = _Step(real_client, together and _pins_match(path, pins))
                if not path.trusted:
                    top = path.top or CertInfo.from_certificate(certs[0], clock)
                    canary = _interception_probes(tgt, sni, certs, top, used_proxy, canary_list,
                                                  max(0.05, deadline.op(timeout)), clock)
                # an untrusted chain's CRL/OCSP URLs are anyone's to choose, and its status changes
                # nothing (it fails anyway): not asked unless the caller says so
                if revocation and (path.trusted or revocation_untrusted):
                    rev = _revocation(path, clock, min(policy.REVOCATION_BUDGET_SECONDS, deadline.remaining()),
                                      stapling, cache, scope, together)
            if stapling is not None:
                from dataclasses import replace

                res = replace(res, ocsp_staple=stapling.result(), ocsp_requested=True)

            outcome = None
            if run_real_client and pins and not _pins_match(path, pins):
                # the server just failed --pin: it gets no request (URL, headers) from the real client
                outcome = ClientOutcome.skipped(client, "pin mismatch")
            elif running is not None:
                ran = running.result()
                # a server that showed no certificate gets no verdict from the client (it ran alongside)
                outcome = ran if res.failure is None or res.chain_der else None
            from certdoctor.evidence import Evidence, Options, TrustEvidence

            options = Options(proxy=used_proxy, proxy_arg=proxy, ca_file=ca_file, servername=servername,
                              timeout=timeout, aia=aia, revocation=revocation, pins=tuple(pins), warn_days=warn_days,
                              run_real_client=run_real_client, clock_pinned=now is not None)
            return Evidence(tgt, client, python, clock, TrustEvidence.of(trust, store, seen), res, tuple(attempts),
                            rev, canary, outcome, options)
        except BaseException:
            if isinstance(running, _Forked):  # no child left behind by a step that failed
                running.cancel()
            raise


#: the environment variable that makes :func:`gather` run its steps one after the other
#: (``1``): the order they overlap in otherwise. For the tests and the benchmark, which compare both.
SEQUENTIAL_ENV = "CERTDOCTOR_SEQUENTIAL"


def sequential() -> bool:
    """True when ``CERTDOCTOR_SEQUENTIAL`` asks for the steps one after the other."""
    import os

    return os.environ.get(SEQUENTIAL_ENV, "").strip() not in ("", "0")


class _Step:
    """One blocking step of the gathering: in a thread of its own from now on (``together``), or
    run where its result is first asked for (one after the other, in the order the code asks).

    Every step is network I/O bounded by the command's deadline (the thread runs in a copy of
    this context, so the step sees that deadline); :meth:`result` waits for it, raises what it
    raised. A step never outlives its deadline by more than its own unwinding."""

    __slots__ = ("_fn", "_job", "_done")

    def __init__(self, fn, together: bool) -> None:
        from certdoctor.net.deadline import Job

        self._fn = fn
        self._job = Job(fn, "certdoctor-gather") if together else None
        self._done: tuple | None = None  # one after the other: (value, error) once run

    def result(self):
        if self._job is not None:
            return self._job.result()
        if self._done is None:
            try:
                self._done = (self._fn(), None)
            except BaseException as exc:  # handed to whoever asks for the result
                self._done = (None, exc)
        if self._done[1] is not None:
            raise self._done[1]
        return self._done[0]


class _Forked:
    """The real client's run in a forked child (:class:`~certdoctor.net.deadline.ForkJob`): on
    the other core, its library's import and its round trips overlap the probe, the parsing and
    the path instead of taking turns with them (threads share one interpreter). Its outcome is
    the one the same run gives in a thread; a child that gives none by the deadline (and its
    grace) is killed, and the outcome says the run took too long, as a run in a thread would. A
    child that dies without an answer (killed, out of memory) is a failed run whose error says so
    (``error_type`` ``ChildLost``): the checks then report the verdict as unconfirmed."""

    __slots__ = ("_job", "_deadline", "_client", "_start")

    def __init__(self, fn, deadline, client: str) -> None:
        import time

        from certdoctor.net.deadline import ForkJob

        self._deadline, self._client, self._start = deadline, client, time.monotonic()
        self._job = ForkJob(fn, deadline, f"the real {client} run")

    def result(self) -> "ClientOutcome":
        import time

        from certdoctor.net.client import ClientOutcome
        from certdoctor.net.deadline import ChildLost

        try:
            return self._job.result()
        except ChildLost as exc:  # past the deadline: what a run in a thread says then; else unconfirmed
            return ClientOutcome(self._client, False, exc.message,
                                 "TimeoutError" if self._deadline.expired else "ChildLost", None, None,
                                 time.monotonic() - self._start)

    def cancel(self) -> None:
        self._job.cancel()


#: the library each client's run imports first (the real client's thread imports it itself)
_CLIENT_LIBRARY = {"requests": "requests", "pip": "requests", "httpx": "httpx", "urllib": "urllib.request"}
#: what the steps after the handshake import: the X.509 parser and path builder, the AIA chase,
#: the checks (judge imports every one of them)
WARM_MODULES = ("cryptography.x509", "cryptography.x509.verification", "certdoctor.x509.path", "certdoctor.net.aia",
                "certdoctor.checks", "certdoctor.checks.context", "certdoctor.checks.crypto",
                "certdoctor.checks.hostname", "certdoctor.checks.pins", "certdoctor.checks.presentation",
                "certdoctor.checks.reconcile", "certdoctor.checks.revocation", "certdoctor.checks.strict",
                "certdoctor.checks.trust", "certdoctor.checks.validity", "certdoctor.checks.x509rules")


def _anchors(trust, client: str | None) -> tuple:
    """``trust.anchors()``, after ``client``'s library is imported (its thread is importing it:
    this one waits on that module's import lock, using no CPU; ``None``: nothing to wait for)."""
    if client is not None:
        import importlib

        try:
            importlib.import_module(_CLIENT_LIBRARY.get(client, "requests"))
        except Exception:  # noqa: BLE001 - the client's run reports its own import error
            pass
    return trust.anchors()


def _warm_imports(more: Sequence[str] = ()) -> None:
    """What the steps after the handshake need, imported while the handshake waits for the
    server: after the real client's library and the anchors, so that the client, whose own
    round trips follow its imports, is not slowed by imports needed only later; then ``more``
    (the caller's renderer: with the real client in a child, this process waits for its round
    trips, and rendering need not import anything after that)."""
    import importlib

    for name in (*WARM_MODULES, *more):
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - only a head start: the step imports it again and says why
            return


def _wants_staple(staple: bool | None, leaf: "x509.Certificate", now: _dt.datetime) -> bool:
    """A stapled OCSP response is asked for (one more handshake) when the caller says so
    (``staple=True``), or by default when the leaf names an OCSP responder: without one a
    server has nothing to staple from unless it was handed a response file, which ``--staple``
    reads."""
    if staple is not None:
        return staple
    try:
        return bool(CertInfo.from_certificate(leaf, now).ocsp_urls)
    except Exception:  # noqa: BLE001 - a leaf whose extensions cannot be read names no responder
        return False


def _pins_match(path: "PathResult | None", pins: Sequence[str]) -> bool:
    from certdoctor.checks.pins import pins_match

    return pins_match(path, pins)


def _interception_probes(tgt, sni: str | None, certs: "Sequence[x509.Certificate]", top: CertInfo,
                         proxy: str | None, hosts: Sequence[tuple[str, int]], timeout: float,
                         now: _dt.datetime) -> "tuple[CanaryProbe, ...]":
    """The handshakes that prove or disprove interception of an untrusted path (see the module
    docstring): through a proxy, the target directly, then the canaries through the proxy;
    without one, the canaries directly when the leaf looks minted on the fly."""
    import time

    from certdoctor.checks.trust import freshly_minted

    out: list[CanaryProbe] = []
    if proxy:
        out.append(_probe_one(tgt.host, tgt.port, sni, None, min(timeout, policy.DIRECT_PROBE_TIMEOUT_SECONDS),
                              same_target=True))
    elif not freshly_minted(CertInfo.from_certificate(certs[0], now), now):
        return ()
    from certdoctor.net.deadline import current

    budget = min(policy.CANARY_BUDGET_SECONDS, max(timeout, policy.CANARY_TIMEOUT_SECONDS))
    command = current()  # never beyond the command's whole-run deadline (--timeout)
    if command is not None:
        budget = min(budget, command.remaining())
    deadline = time.monotonic() + budget
    out += _canaries(top, certs, proxy, hosts, timeout, deadline)
    return tuple(out)


def _probe_one(host: str, port: int, servername: str | None, proxy: str | None, timeout: float, *,
               same_target: bool = False) -> "CanaryProbe":
    """One interception probe as evidence: the chain, or why there is none."""
    import time

    from certdoctor.evidence import CanaryProbe
    from certdoctor.net.probe import probe

    t0 = time.monotonic()
    kind = dict(via_proxy=proxy is not None, same_target=same_target)
    try:
        res = probe(host, port, servername=servername, proxy=proxy, timeout=timeout)
    except Exception as exc:  # a probe that cannot fly proves nothing either way
        return CanaryProbe(host, port, error=f"{type(exc).__name__}: {exc}", elapsed=time.monotonic() - t0, **kind)
    elapsed = round(time.monotonic() - t0, 3)
    if res.failure is not None or not res.chain_der:
        why = res.failure.summary if res.failure is not None else "no certificate presented"
        return CanaryProbe(host, port, tuple(res.chain_der), error=why, elapsed=elapsed, **kind)
    return CanaryProbe(host, port, tuple(res.chain_der), elapsed=elapsed, **kind)


def _canaries(top: CertInfo, certs: "Sequence[x509.Certificate]", proxy: str | None,
              hosts: Sequence[tuple[str, int]], timeout: float, deadline: float) -> "list[CanaryProbe]":
    """Probe the canary hosts (through ``proxy``, or directly) until one is signed like the target
    (it re-signs), within ``deadline``; a host the budget left no time for is recorded as such."""
    import time

    from certdoctor.checks.trust import same_signer, signs_alike
    from certdoctor.evidence import CanaryProbe

    out: list[CanaryProbe] = []
    for host, port in hosts:
        left = deadline - time.monotonic()
        if left < policy.TIMEOUT_MIN_SECONDS:
            out.append(CanaryProbe(host, port, error="not probed: the canary time budget ran out first",
                                   via_proxy=proxy is not None))
            continue
        sni = None if is_ip(host) else host
        seen = _probe_one(host, port, sni, proxy, min(timeout, policy.CANARY_TIMEOUT_SECONDS, left))
        out.append(seen)
        if seen.error is None and seen.chain_der:
            chain = seen.certificates()
            if (signs_alike(top, chain) if proxy else same_signer(chain, certs)):
                break
    return out


def _revocation(path: "PathResult", now: _dt.datetime, budget: float, stapling: "_Step | None",
                cache: "FetchCache | None", scope=None, together: bool = False) -> "RevocationEvidence | None":
    """The answers about the leaf (issued by the next certificate of the path), if it names a
    source. ``stapling`` is the staple handshake under way (``None``: not asked for); with
    ``together`` the CRL and OCSP downloads start while it finishes."""
    if len(path.path) < 2:
        return None
    leaf, issuer = path.path[0], path.path[1]
    stapled = (lambda: stapling.result()) if stapling is not None else None
    if not (leaf.crl_urls or leaf.ocsp_urls or (stapled and stapled())):
        return None
    from certdoctor.evidence import RevocationEvidence
    from certdoctor.revocation.gather import gather as gather_revocation

    try:
        return gather_revocation(leaf.certificate(), issuer.certificate(), now=now, budget=budget,
                                 timeout=max(0.05, min(3.0, budget)), stapled=stapled, cache=cache, scope=scope,
                                 prefetch=together)
    except Exception as exc:  # a step that could not run is data
        return RevocationEvidence(leaf.der, issuer.der, stapled=stapled() if stapled else None, error=str(exc))


__all__ = ["gather", "sequential", "SEQUENTIAL_ENV", "resolve_python", "canary_hosts", "CANARY_HOSTS", "CANARY_ENV"]
