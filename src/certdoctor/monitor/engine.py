"""The asyncio engine: every target checked with bounded concurrency, each yielding exactly one row.

    >>> engine = Engine(concurrency=200)
    >>> async for row in engine.rows(specs):                 # doctest: +SKIP
    ...     print(row.target, row.status)

An endpoint is checked as ``certdoctor diagnose`` checks it, minus the real client: one async
handshake (:func:`certdoctor.net.aprobe.aprobe`: the chain even when it does not verify), an
:class:`~certdoctor.evidence.Evidence` built from it and the target's effective trust, judged
by the same pure checks (:func:`certdoctor.diagnose.judge`), so the codes are diagnose's. No AIA
chase (a missing intermediate is a finding, as for the clients that do not chase either), no
interception canary; ``revocation = true`` gathers CRL/OCSP for a trusted path (in a bounded
thread pool, one :class:`~certdoctor.net.fetch.FetchCache` for the whole run: each CRL is
downloaded once); ``confirm = true`` runs the real client too (a bounded thread pool).

A certificate source (one file, after :func:`certdoctor.monitor.config.expand`) is read with
:func:`certdoctor.x509.load.load_bundle_file` (PEM, DER, PKCS#7, PKCS#12 with its password) and
every certificate in it is judged against the clock.

Bounds: at most ``concurrency`` targets in flight (the source iterator is pulled only when one
finishes: look-ahead = ``concurrency``), each under its own deadline (its ``timeout`` plus
:data:`~certdoctor.policy.MONITOR_DEADLINE_MARGIN_SECONDS`). A target that raises is a row with
status ``error``; nothing one target does costs another its row. The engine holds no global
state: the trust stores it loads are cached on the instance, for one run.

Judgements are reused (most fleets repeat chains; the checks cost ~10 ms a target, the
handshake ~2 ms): a target is judged at the wall clock in whole seconds, and the checks' verdict
(:func:`certdoctor.checks.runner.judge`) is kept, in an LRU of
:data:`~certdoctor.policy.MONITOR_JUDGEMENT_CACHE` entries, under everything the checks read of
its evidence but the URL: the presented chain (DER), client, CA file, Python, options, the name
checked (``servername``: the hostname check is per name) and that clock. Another target with the
same key gets that verdict with its own URL filled into the suggested commands
(:func:`certdoctor.diagnose.diagnosis_of`) and its own probe facts in its row. Verdicts older
than the second before the newest clock are dropped, so the cache holds what one or two seconds
of targets need, however long the run. Not reused: a
failed handshake, a chain that does not parse (its findings name host:port), and targets with
``revocation`` or ``confirm`` (their evidence is per target).
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import time
from typing import TYPE_CHECKING, AsyncIterator, Iterable, Mapping

from certdoctor import policy
from certdoctor.errors import CertdoctorError
from certdoctor.model import Actor, Code, Finding, Severity, is_ip
from certdoctor.monitor import result as R
from certdoctor.monitor.config import ENDPOINT, TargetSpec, expand_all

if TYPE_CHECKING:  # pragma: no cover
    from certdoctor.diagnose import Diagnosis
    from certdoctor.net.fetch import FetchCache


class Engine:
    """One run's engine. ``now`` pins the clock (default: the wall clock at each target);
    ``environ`` is the environment the effective trust and proxies are read from (default
    ``os.environ``); ``cache`` the revocation download cache (default: the user's cache dir)."""

    def __init__(self, *, concurrency: int = policy.MONITOR_CONCURRENCY, now: _dt.datetime | None = None,
                 environ: Mapping[str, str] | None = None, cache: "FetchCache | None" = None) -> None:
        import os

        self.concurrency = max(1, min(int(concurrency), policy.MONITOR_MAX_CONCURRENCY))
        self.now = now
        self.environ = os.environ if environ is None else environ
        # whether the environment names a proxy at all (read once: effective_proxy scans and sorts
        # the whole environment, per target, to find none in the usual fleet)
        self._env_proxy = any(k.lower() in ("https_proxy", "all_proxy") and v for k, v in self.environ.items())
        self._cache = cache
        self._trust: dict[tuple[str, str | None], tuple] = {}
        self._judged: dict[tuple, tuple] = {}  # judgement key -> (verdict, TrustEvidence), LRU order
        self.reused = 0  # endpoints whose judgement was reused (see _endpoint)
        self._judged_at = _dt.datetime.min.replace(tzinfo=_dt.timezone.utc)  # the newest clock in a key
        self._confirm = asyncio.Semaphore(policy.MONITOR_CONFIRM_CONCURRENCY)
        self._revocation = asyncio.Semaphore(policy.MONITOR_REVOCATION_CONCURRENCY)
        self.started = 0
        self.finished = 0

    # ----------------------------------------------------------------------- scheduling
    async def rows(self, specs: Iterable[TargetSpec]) -> AsyncIterator[R.Row]:
        """One row per target (files and globs expanded), in completion order."""
        import collections

        source = iter(expand_all(specs))
        pending: set[asyncio.Task] = set()
        done: collections.deque[asyncio.Task] = collections.deque()
        wake = asyncio.Event()

        def finished(task: asyncio.Task) -> None:
            # a done callback per task: asyncio.wait(pending) would add and remove one on every
            # pending task for each completion (O(concurrency) per row)
            pending.discard(task)
            done.append(task)
            wake.set()

        exhausted = False
        try:
            while True:
                while not exhausted and len(pending) < self.concurrency:
                    try:
                        spec = next(source)
                    except StopIteration:
                        exhausted = True
                        break
                    self.started += 1
                    task = asyncio.ensure_future(self.row(spec))
                    pending.add(task)
                    task.add_done_callback(finished)
                if not pending and not done:
                    return
                if not done:
                    await wake.wait()
                    wake.clear()
                while done:
                    task = done.popleft()
                    self.finished += 1
                    yield task.result()
        finally:
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)

    async def row(self, spec: TargetSpec) -> R.Row:
        """The row of one target; never raises (but for cancellation)."""
        t0 = time.monotonic()
        clock = self._clock()
        try:
            if spec.error:
                return _error_row(spec, clock, t0, R.UNKNOWN, spec.error)
            limit = spec.timeout + policy.MONITOR_DEADLINE_MARGIN_SECONDS
            check = self._endpoint(spec, clock) if spec.kind == ENDPOINT else self._file(spec, clock)
            try:
                return await asyncio.wait_for(check, limit)
            except TimeoutError:
                return _error_row(spec, clock, t0, R.UNKNOWN, f"no result within {limit:g} s (the target's "
                                  "timeout plus the judging margin)", code=Code.TIMEOUT)
        except asyncio.CancelledError:
            raise
        except CertdoctorError as exc:  # this target's own input (a CA file, a password …)
            text = exc.message + (f" ({exc.hint})" if exc.hint else "")
            return _error_row(spec, clock, t0, R.UNKNOWN, text)
        except Exception as exc:  # noqa: BLE001 - a bug is this target's row, the run goes on
            return _error_row(spec, clock, t0, R.ERROR, f"{type(exc).__name__}: {exc}")

    def _clock(self) -> _dt.datetime:
        # whole seconds: the targets checked in one second with one chain share one judgement
        return self.now or _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)

    # ----------------------------------------------------------------------- endpoints
    def _trust_for(self, client: str, ca_file: str | None):
        key = (client, ca_file)
        if key not in self._trust:
            from certdoctor.gather import resolve_python
            from certdoctor.trust.effective import effective_trust

            python = resolve_python(None)
            trust = effective_trust(client, ca_file=ca_file, environ=self.environ,
                                    python=python if python == "3.13" else None)
            self._trust[key] = (trust, tuple(trust.anchors()), python)
        return self._trust[key]

    def _fetch_cache(self):
        if self._cache is None:
            from certdoctor.net.fetch import FetchCache

            self._cache = FetchCache()
        return self._cache

    async def _endpoint(self, spec: TargetSpec, clock: _dt.datetime) -> R.Row:
        from certdoctor import checks
        from certdoctor.diagnose import diagnosis_of
        from certdoctor.errors import InputError
        from certdoctor.evidence import Evidence, Options, TrustEvidence
        from certdoctor.net.aprobe import aprobe
        from certdoctor.net.proxy import effective_proxy
        from certdoctor.net.target import parse_target

        t0 = time.monotonic()
        tgt = parse_target(spec.input, spec.servername)
        proxy = effective_proxy(tgt.url, spec.proxy, self.environ) if (spec.proxy or self._env_proxy) else None
        trust, store, python = self._trust_for(spec.client, spec.ca_file)
        sni = None if is_ip(tgt.servername) else tgt.servername
        res = await aprobe(tgt.host, tgt.port, servername=sni, address=spec.address, proxy=proxy,
                           timeout=spec.timeout)
        options = Options(proxy=proxy, proxy_arg=spec.proxy, ca_file=spec.ca_file, servername=spec.servername,
                          timeout=spec.timeout, aia=False, revocation=spec.revocation, pins=spec.pins,
                          warn_days=spec.warn_days, run_real_client=spec.confirm, clock_pinned=self.now is not None)
        key = None
        if res.failure is None and res.chain_der and not spec.revocation and not spec.confirm:
            # everything the checks read of this evidence but the URL (filled in per target below)
            key = (res.chain_der, spec.client, spec.ca_file, python, options, tgt.servername, clock)
            if clock > self._judged_at:  # a new second: verdicts of the seconds before it are dead weight
                self._judged_at = clock
                for old in [k for k in self._judged if k[-1] < clock - _dt.timedelta(seconds=1)]:
                    del self._judged[old]
            hit = self._judged.pop(key, None)
            if hit is not None:
                self._judged[key] = hit  # most recently used
                self.reused += 1
                verdict, trust_ev, memo = hit
                evidence = Evidence(tgt, spec.client, python, clock, trust_ev, res, (), None, (), None, options)
                return endpoint_row(spec, diagnosis_of(evidence, verdict), clock, time.monotonic() - t0, memo)
        try:
            certs = res.certificates() if res.chain_der else ()
        except InputError:  # judged as INVALID_CERT / MALFORMED_CERT by the checks
            certs = ()
        rev = None
        if spec.revocation and certs:
            rev = await self._revocation_of(certs, store, tgt, clock, res, proxy, spec)
        outcome = None
        if spec.confirm and (res.failure is None or res.chain_der):
            outcome = await self._confirm_run(spec, tgt, trust, python, proxy)
        trust_ev = TrustEvidence.of(trust, store, certs)
        evidence = Evidence(tgt, spec.client, python, clock, trust_ev, res, (), rev, (), outcome, options)
        verdict = checks.judge(evidence)
        memo = None
        if key is not None and verdict.chain is not None:  # a chain that did not parse names host:port
            memo = {}
            self._judged[key] = (verdict, trust_ev, memo)
            while len(self._judged) > policy.MONITOR_JUDGEMENT_CACHE:
                del self._judged[next(iter(self._judged))]  # the least recently used
        return endpoint_row(spec, diagnosis_of(evidence, verdict), clock, time.monotonic() - t0, memo)

    async def _revocation_of(self, certs, store, tgt, clock, res, proxy, spec):
        from certdoctor.x509.path import build_path

        path = build_path(certs, store, host=tgt.servername, now=clock, verify_rfc5280=False)
        if not path.trusted:
            return None  # an untrusted chain's CRL URLs are anyone's to choose (as in diagnose)
        from certdoctor.gather import _revocation
        from certdoctor.net.resolve import FetchScope, private_fetch_allowed

        scope = FetchScope.for_target(res.address, proxied=bool(proxy), allow_private=private_fetch_allowed())
        budget = min(policy.REVOCATION_BUDGET_SECONDS, spec.timeout)
        loop = asyncio.get_running_loop()
        async with self._revocation:
            return await loop.run_in_executor(None, _revocation, path, clock, budget, None, self._fetch_cache(),
                                              scope)

    async def _confirm_run(self, spec, tgt, trust, python, proxy):
        from certdoctor.net.client import run_client
        from certdoctor.net.deadline import Deadline

        loop = asyncio.get_running_loop()
        async with self._confirm:
            deadline = Deadline(spec.timeout)
            return await loop.run_in_executor(None, lambda: run_client(
                spec.client, tgt.url, trust, python=python if python == "3.13" else None, proxy=proxy,
                timeout=spec.timeout, servername=tgt.servername, deadline=deadline))

    # ----------------------------------------------------------------------- files
    async def _file(self, spec: TargetSpec, clock: _dt.datetime) -> R.Row:
        t0 = time.monotonic()
        return file_row(spec, clock, t0)


# --------------------------------------------------------------------------- row builders

def error_row(spec: TargetSpec, clock: _dt.datetime, t0: float, status: str, text: str, *,
              code: Code | None = None) -> R.Row:
    """The row of a target that has no result: ``status`` (``unknown``/``error``) and ``text``
    (its ``error``); ``code`` adds one finding of that code (e.g. TIMEOUT)."""
    host = port = None
    if spec.kind == ENDPOINT:
        try:
            from certdoctor.net.target import parse_target

            t = parse_target(spec.input, spec.servername)
            host, port = t.host, t.port
        except CertdoctorError:
            pass
    findings: tuple[Finding, ...] = ()
    if code is not None:
        findings = (Finding(code, Severity.ERROR, text, who=Actor.SERVER_OPERATOR,
                            fix="Check that the target answers; raise its timeout if it is just slow."),)
    return R.Row(target=spec.input, kind=spec.kind, origin=spec.origin, status=status,
                 reason=code.value if code is not None else None, verified=None, error=text, checked_at=clock,
                 elapsed=round(time.monotonic() - t0, 6), host=host, port=port, servername=spec.servername,
                 path=spec.input if spec.kind != ENDPOINT else None, labels=spec.labels, warn_days=spec.warn_days,
                 crit_days=spec.crit_days, findings=findings)


_error_row = error_row


def _path_positions(d: "Diagnosis") -> set[int]:
    """Positions (as presented) of the certificates on the verified (or best) path."""
    chain, path = d.chain, d.path
    if chain is None:
        return set()
    if path is not None and path.path:
        fps = {c.fingerprint_sha256 for c in path.path}
        return {i for i, c in enumerate(chain.certs) if c.fingerprint_sha256 in fps}
    return set(chain.path)


def _chain_facts(d: "Diagnosis") -> tuple:
    """``(facts of every presented certificate, days left on the path, its first notAfter)``:
    a function of the chain, the path and the clock only (shared by targets reusing a verdict)."""
    on_path = _path_positions(d)
    certs = tuple(R.facts(info, i, d.now, i in on_path) for i, info in enumerate(d.chain.certs)) if d.chain else ()
    path_infos = list(d.path.path) if d.path is not None else []
    if not path_infos:
        path_infos = [d.chain.certs[i] for i in sorted(on_path)] if d.chain else []
    by_fp = {c.fingerprint_sha256: c.days_left for c in certs}
    days = [by_fp[info.fingerprint_sha256] if info.fingerprint_sha256 in by_fp else
            R.facts(info, 0, d.now, True).days_left for info in path_infos]
    not_afters = [info.not_after for info in path_infos]
    return certs, (min(days) if days else None), (min(not_afters) if not_afters else None)


def endpoint_row(spec: TargetSpec, d: "Diagnosis", clock: _dt.datetime, elapsed: float,
                 memo: dict | None = None) -> R.Row:
    """The row of a judged endpoint: facts of every presented certificate, the expiry of the path.
    ``memo`` (kept with a reused verdict) holds what depends on the chain and clock only."""
    probe = d.probe
    if memo is not None and "facts" in memo:
        certs, days_left, not_after = memo["facts"]
    else:
        certs, days_left, not_after = _chain_facts(d)
        if memo is not None:
            memo["facts"] = (certs, days_left, not_after)
    findings = R.with_critical_days(d.findings, spec.crit_days)
    status, reason = R.status_of(findings, days_left, spec.warn_days, spec.crit_days,
                                 have_certificates=bool(probe.chain_der))
    verified = (d.path.trusted and not any(f.severity is Severity.ERROR for f in findings)) if d.path else (
        False if probe.chain_der or probe.failure is not None else None)
    if not probe.chain_der:
        verified = None
    return R.Row(
        target=spec.input, kind=ENDPOINT, origin=spec.origin, status=status, reason=reason, verified=verified,
        error=probe.failure.summary if (probe.failure is not None and not probe.chain_der) else None,
        checked_at=clock, elapsed=round(elapsed, 6), host=probe.host, port=probe.port,
        servername=d.target.servername, address=probe.address, labels=spec.labels, warn_days=spec.warn_days,
        crit_days=spec.crit_days, days_left=days_left, not_after=not_after,
        tls_version=probe.tls_version, cipher=probe.cipher, trust=d.trust.source if d.trust is not None else None,
        findings=tuple(findings), certificates=certs)


def _file_findings(infos, now, warn_days: int, crit_days: int, path: str) -> list[Finding]:
    out: list[Finding] = []
    for i, info in enumerate(infos):
        left = R.facts(info, i, now, True).days_left
        name = info.display_name
        ev = (f"file: {path}", f"notAfter = {info.not_after.isoformat()}", f"subject = {info.subject}")
        if info.expired:
            out.append(Finding(Code.EXPIRED, Severity.ERROR, f"Certificate #{i} ({name}) expired {-left} day(s) ago.",
                               "A server that loads this file presents an expired certificate; clients refuse it.",
                               ev, "Renew the certificate and deploy the new file.", Actor.SERVER_OPERATOR, i,
                               rule="expired"))
        elif info.not_yet_valid:
            out.append(Finding(Code.NOT_YET_VALID, Severity.ERROR,
                               f"Certificate #{i} ({name}) is not valid before {info.not_before:%Y-%m-%d %H:%M} UTC.",
                               "Its notBefore is in the future (or this machine's clock is behind).", ev,
                               "Check the clocks; reissue it with notBefore in the past.", Actor.SERVER_OPERATOR, i,
                               rule="not_yet_valid"))
        elif left < warn_days:
            sev = Severity.ERROR if left < crit_days else Severity.WARNING
            out.append(Finding(Code.EXPIRING_SOON, sev, f"Certificate #{i} ({name}) expires in {left} day(s).",
                               f"It expires on {info.not_after:%Y-%m-%d}.",
                               ev + (f"{'crit' if sev is Severity.ERROR else 'warn'}_days = "
                                     f"{crit_days if sev is Severity.ERROR else warn_days}",),
                               "Renew it now and make renewal automatic (ACME/certbot).", Actor.SERVER_OPERATOR, i,
                               rule="expiring_soon"))
    return out


def file_row(spec: TargetSpec, clock: _dt.datetime, t0: float) -> R.Row:
    """The row of one certificate file: every certificate in it judged against the clock."""
    import os

    from certdoctor.model import ChainInfo
    from certdoctor.x509.load import load_bundle_file

    path = spec.input
    shown = path if not os.path.islink(path) else f"{path} -> {os.path.realpath(path)}"
    loaded = load_bundle_file(path, password=spec.password)  # an unreadable file: UsageError/InputError
    certs = list(loaded.certificates)
    if not certs:
        return _error_row(spec, clock, t0, R.UNKNOWN, f"{path} holds no certificate")
    chain = ChainInfo.analyse(certs, clock)
    facts = tuple(R.facts(info, i, clock, True) for i, info in enumerate(chain.certs))
    findings = _file_findings(chain.certs, clock, spec.warn_days, spec.crit_days, shown)
    days_left = min(f.days_left for f in facts)
    status, reason = R.status_of(findings, days_left, spec.warn_days, spec.crit_days, have_certificates=True)
    return R.Row(target=path, kind=spec.kind, origin=spec.origin, status=status, reason=reason, verified=None,
                 error=None, checked_at=clock, elapsed=round(time.monotonic() - t0, 6),
                 path=os.path.realpath(path), labels=spec.labels, warn_days=spec.warn_days,
                 crit_days=spec.crit_days, days_left=days_left, not_after=min(f.not_after for f in facts),
                 findings=tuple(findings), certificates=facts)


__all__ = ["Engine", "endpoint_row", "file_row", "error_row"]
