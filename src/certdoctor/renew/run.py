"""``certdoctor renew``: the one call the CLI makes (:func:`renew`), and ``--check`` (:func:`check`).

    >>> report = renew(load_config("renew.toml"))                  # doctest: +SKIP
    >>> [(r.name, r.action) for r in report.results]               # doctest: +SKIP
    [('web', 'renewed')]

Per certificate, under one lock for the whole run (:class:`certdoctor.renew.record.Lock`):

1. ``current`` = the installed certificate (:func:`certdoctor.renew.install.current`);
2. a failed last attempt with a ``Retry-After`` still in the future: skipped (``deferred``)
   unless ``force``;
3. ARI first: when the directory advertises ``renewalInfo``, it is fetched and parsed
   (:func:`certdoctor.renew.schedule.parse_renewal_info`) and kept in the record; any ARI error
   never blocks: the lifetime rule decides and the result says so (``RENEW_ARI_FALLBACK``);
   :func:`~certdoctor.renew.schedule.should_renew` decides (its random point in the window is
   drawn from a generator seeded with the CertID, so every run and ``--check`` agree on it);
4. due (or ``force``, or nothing installed): the key (the installed one when ``key.reuse``, else a
   new one), the CSR (:func:`~certdoctor.renew.csr.make_csr`), the order
   (:meth:`~certdoctor.renew.acme.AcmeSession.issue`; ``replaces`` only when the directory
   advertises ARI; a transient failure is retried :data:`~certdoctor.policy.RENEW_TRIES` times
   with backoff, a ``Retry-After`` longer than
   :data:`~certdoctor.policy.RENEW_MAX_WAIT_IN_RUN_SECONDS` is recorded for the next run instead),
   the install (:func:`~certdoctor.renew.install.install`: beside, fsynced, swapped, previous
   kept), the deploy hook and the proof that every ``verify`` endpoint serves the new leaf
   (:mod:`certdoctor.renew.deploy`); with ``rollback_on_fail`` a failed deploy restores the
   previous files, runs the hook again and proves the previous leaf is served;
5. every attempt is recorded (:class:`certdoctor.renew.record.Record`).

A failure before the install changes nothing on disk; the old certificate stays installed and
served. Each failure is one :class:`~certdoctor.model.Finding` (an ERROR) with a stable code.
"""

from __future__ import annotations

import datetime as _dt
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from certdoctor import policy
from certdoctor._text import safe
from certdoctor.errors import CertdoctorError
from certdoctor.model import Actor, Code, Finding, Severity, fingerprint_sha256
from certdoctor.renew import record as R
from certdoctor.renew.config import CertConfig, RenewConfig
from certdoctor.renew.deploy import RenewFailure, Served, prove_served, run_hook

#: what happened to one certificate
RENEWED, NOT_DUE, DEFERRED, FAILED, ROLLED_BACK, NOT_SERVED, CHECKED = (
    "renewed", "not_due", "deferred", "failed", "rolled_back", "not_served", "checked")

#: ``--check`` statuses, worst last (Nagios codes)
STATUS_CODE = {"ok": 0, "warning": 1, "critical": 2, "unknown": 3}

RULES = {
    "unreachable": "the ACME server could not be reached", "timeout": "the ACME server did not answer in time",
    "tls": "the ACME server's certificate does not verify", "bad_response": "the ACME server answered nonsense",
    "account": "the ACME account could not be made or used", "unauthorized": "the CA refused the account",
    "already_replaced": "the CA says this certificate was already replaced (409 alreadyReplaced)",
    "rate_limited": "the CA's rate limit: rateLimited / 429", "challenge_failed": "the CA could not validate a name",
    "order_invalid": "the order went invalid", "finalize_failed": "the CA refused the CSR at finalize",
    "install_failed": "the new files could not be written", "no_certificate": "nothing is installed yet",
    "due": "the renewal time has come", "last_attempt_failed": "the last attempt did not renew",
    "ari_unusable": "renewalInfo could not be fetched or read",
}


@dataclass(frozen=True, slots=True)
class CertResult:
    """One certificate's outcome. ``action``: renewed, not_due, deferred, failed, rolled_back,
    not_served (``renew``) or checked (``--check``); ``status`` is the Nagios word."""

    name: str
    action: str
    status: str
    findings: tuple[Finding, ...] = ()
    decision: Any = None                 # schedule.Decision
    old_fingerprint: str | None = None
    new_fingerprint: str | None = None
    not_after: _dt.datetime | None = None
    last_attempt: R.Attempt | None = None
    served: tuple[Served, ...] = ()
    ari: Any = None                      # schedule.RenewalInfo the decision used
    error_kind: str | None = None

    @property
    def error(self) -> Finding | None:
        return next((f for f in self.findings if f.severity is Severity.ERROR), None)

    @property
    def ok(self) -> bool:
        return self.action in (RENEWED, NOT_DUE, CHECKED) and self.error is None


@dataclass(frozen=True, slots=True)
class RenewReport:
    results: tuple[CertResult, ...]
    check: bool
    config: str
    state: str | None = None
    checked_at: _dt.datetime = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc))

    @property
    def exit_code(self) -> int:
        """``renew``: 0 every certificate renewed or not due, 1 one failed (or is deferred after a
        failure). ``--check``: Nagios, the worst status (critical > warning > unknown > ok)."""
        if not self.check:
            return 0 if all(r.ok for r in self.results) else 1
        statuses = {r.status for r in self.results}
        for s in ("critical", "warning", "unknown"):
            if s in statuses:
                return STATUS_CODE[s]
        return 0


# --------------------------------------------------------------------------- helpers

def _now(now: _dt.datetime | None) -> _dt.datetime:
    now = now or _dt.datetime.now(_dt.timezone.utc)
    return now if now.tzinfo else now.replace(tzinfo=_dt.timezone.utc)


def _lifetime_left(cert, now: _dt.datetime) -> float:
    nb, na = cert.not_valid_before_utc, cert.not_valid_after_utc
    total = (na - nb).total_seconds()
    return (na - now).total_seconds() / total if total > 0 else 0.0


_ACME_CODES = {"rate_limited": Code.RENEW_RATE_LIMITED, "challenge_failed": Code.RENEW_CHALLENGE_FAILED,
               "order_invalid": Code.RENEW_ORDER_FAILED, "finalize_failed": Code.RENEW_ORDER_FAILED}
_ACME_FIX = {
    "unreachable": "Check the directory URL and that the ACME server is up and reachable from here; the next run "
                   "tries again (the old certificate stays in place).",
    "timeout": "The ACME server is slow or stalls; the next run tries again (or raise timeouts.acme / timeouts.order).",
    "tls": "Give ca_file the CA that issued the ACME server's certificate (TLS is always verified).",
    "bad_response": "The directory URL may not be an ACME directory; check it.",
    "account": "Check account.key, the contact address and the EAB credentials your CA gave you.",
    "unauthorized": "The CA refused the account or an identifier: check the names and the account's rights.",
    "already_replaced": "Another order already replaces this certificate; run again (without replaces), or --force.",
    "rate_limited": "Wait for the time the CA gave (Retry-After); the next run waits for it by itself.",
    "challenge_failed": "Make the CA reach the challenge: port 80 open to the internet for http-01 (or a webroot the "
                        "web server serves), the TXT record set by the hook for dns-01.",
    "order_invalid": "The CA gave up on the order: see the detail, fix the names or the challenge, and run again.",
    "finalize_failed": "The CA refused the CSR: check the names (every one in domains/ips) and the key type.",
}


def _acme_failure(exc) -> RenewFailure:
    kind = getattr(exc, "kind", "bad_response")
    detail = safe(getattr(exc, "detail", "") or str(exc))
    code = _ACME_CODES.get(kind, Code.RENEW_ACME_FAILED)
    retry = getattr(exc, "retry_after", None)
    evidence = [f"kind: {kind}", f"detail: {detail}", f"transient: {bool(getattr(exc, 'transient', False))}"]
    if retry is not None:
        evidence.append(f"retry-after: {retry:g} s")
    return RenewFailure(Finding(code, Severity.ERROR, f"ACME {kind.replace('_', ' ')}: {detail}",
                                "No certificate was issued; nothing was installed, the old certificate stays in place.",
                                tuple(evidence), _ACME_FIX.get(kind, _ACME_FIX["bad_response"]),
                                Actor.SERVER_OPERATOR, rule=kind),
                        kind=kind, transient=bool(getattr(exc, "transient", False)), retry_after=retry)


def _challenge_failure(exc: CertdoctorError) -> RenewFailure:
    return RenewFailure(Finding(Code.RENEW_CHALLENGE_FAILED, Severity.ERROR, safe(exc.message),
                                "No certificate was issued; nothing was installed, the old certificate stays in place.",
                                (f"error: {safe(exc.message)}",), exc.hint or _ACME_FIX["challenge_failed"],
                                Actor.SERVER_OPERATOR, rule="challenge_failed"), kind="challenge_failed")


def _install_failure(exc: BaseException, dest) -> RenewFailure:
    text = exc.message if isinstance(exc, CertdoctorError) else f"{getattr(exc, 'strerror', None) or exc}"
    return RenewFailure(Finding(Code.RENEW_INSTALL_FAILED, Severity.ERROR,
                                f"the new certificate could not be installed: {safe(text)}",
                                "The certificate was issued but not written: the files in place are the old ones, "
                                "untouched (new files are written beside them and swapped only when all are written).",
                                (f"destination: {safe(str(dest))}", f"error: {safe(text)}"),
                                "Free space (or raise the quota) on that filesystem and check its permissions, then "
                                "run again (--force issues again).", Actor.SERVER_OPERATOR, rule="install_failed"),
                        kind="install_failed")


def _responder(cfg: CertConfig):
    from certdoctor.renew import challenge as C

    ch = cfg.challenge
    if ch.type == "dns-01":
        return C.DnsHook(list(ch.hook), ch.timeout)
    if ch.webroot is not None:
        return C.Webroot(ch.webroot)
    return C.Http01Server(ch.listen or policy.RENEW_HTTP01_LISTEN)


def _account_key(cfg: CertConfig, state) -> "Any":
    from pathlib import Path
    import hashlib

    if cfg.account.key is not None:
        return cfg.account.key
    digest = hashlib.sha256(cfg.directory.encode()).hexdigest()[:16]
    return Path(state).parent / "accounts" / f"{digest}.key"


def open_session(cfg: CertConfig, state) -> Any:
    """The ACME session of ``cfg`` (its account key made 0600 when missing)."""
    from certdoctor.renew.acme import AcmeSession

    key = _account_key(cfg, state)
    if cfg.account.key is None:
        from certdoctor.fsutil import private_dir

        private_dir(key.parent, what="ACME account directory")
    return AcmeSession.open(cfg.directory, ca_file=cfg.ca_file, account_key=key, contact=cfg.account.contact,
                            eab_kid=cfg.account.eab_kid, eab_hmac_key=cfg.account.eab_hmac_key,
                            timeout=cfg.timeouts.acme)


# --------------------------------------------------------------------------- renew

class _Run:
    def __init__(self, config: RenewConfig, rec: R.Record, state, now, force, rollback, sleep, session_factory):
        self.config, self.rec, self.state = config, rec, state
        self.now, self.force, self.rollback = now, force, rollback
        self.sleep = sleep
        self.session_factory = session_factory or open_session

    def one(self, cfg: CertConfig) -> CertResult:
        from certdoctor.renew import install, schedule

        now = self.now
        dest = cfg.install.destination(cfg.name)
        notes: list[Finding] = []
        try:
            cur = install.current(dest)
        except CertdoctorError as exc:
            return CertResult(cfg.name, FAILED, "unknown", (Finding(
                Code.RENEW_INSTALL_FAILED, Severity.ERROR, f"the installed certificate cannot be read: {safe(exc.message)}",
                "certdoctor will not replace files it cannot read (they may be someone else's).",
                (f"destination: {safe(str(dest))}",), exc.hint or "Fix or remove the files named.",
                Actor.SERVER_OPERATOR, rule="install_failed"),), error_kind="install_failed")
        old_fp = fingerprint_sha256(cur.cert) if cur is not None else None
        not_after = cur.cert.not_valid_after_utc if cur is not None else None
        last = self.rec.last(cfg.name)
        not_before = self.rec.not_before(cfg.name)
        if not self.force and not_before is not None and not_before > now:
            why = f"last attempt failed at {last.started:%Y-%m-%d %H:%M:%S}Z ({safe(last.error_text or last.outcome)})"
            return CertResult(cfg.name, DEFERRED, "warning", (Finding(
                Code.RENEW_LAST_FAILED, Severity.WARNING,
                f"not tried before {not_before:%Y-%m-%d %H:%M:%S}Z: {why}",
                "The CA asked for a pause (Retry-After); trying earlier would only prolong the rate limit.",
                (f"retry-after: {last.retry_after}", f"next attempt: {not_before.isoformat()}"),
                "Nothing to do: a later run tries again by itself (--force tries now).",
                Actor.NOBODY, rule="last_attempt_failed"),), old_fingerprint=old_fp, not_after=not_after,
                last_attempt=last)
        session = None
        ari = None
        cid = schedule.cert_id(cur.cert) if cur is not None else None
        if cur is not None and not self.force:
            try:
                session = self.session_factory(cfg, self.state)
            except Exception as exc:  # the CA is down: the lifetime rule still says whether it matters
                if not _expected(exc):
                    raise
                notes.append(_ari_note(cid, exc))
            else:
                ari, note = self._ari(cfg, session, cur.cert, cid)
                if note is not None:
                    notes.append(note)
            decision = schedule.should_renew(cur.cert, ari, now, rng=None)
            if not decision.due:
                return CertResult(cfg.name, NOT_DUE, "ok", tuple(notes), decision, old_fp, None, not_after,
                                  last, ari=ari)
        elif cur is not None:
            decision = schedule.should_renew(cur.cert, None, now, rng=None, force=True)
        else:
            decision = None
        reason = decision.reason if decision is not None else "no certificate is installed yet"
        attempt = self.rec.begin(cfg.name, old_fingerprint=old_fp, reason=reason, now=now)
        try:
            if session is None:
                session = self._retrying(lambda: self.session_factory(cfg, self.state))
            issued, key_pem = self._issue(cfg, session, cur, cid)
        except Exception as exc:
            if not _expected(exc):
                raise
            failure = exc if isinstance(exc, RenewFailure) else _classify(exc)
            return self._failed(cfg, attempt, failure, old_fp, not_after, notes, decision, ari)
        from cryptography import x509

        new_cert = x509.load_pem_x509_certificate(issued.cert_pem)
        new_fp = fingerprint_sha256(new_cert)
        try:
            installed = install.install(dest, cert_pem=issued.cert_pem, chain_pem=issued.chain_pem,
                                        fullchain_pem=issued.fullchain_pem, key_pem=key_pem)
        except (CertdoctorError, OSError) as exc:
            return self._failed(cfg, attempt, _install_failure(exc, dest), old_fp, not_after, notes, decision, ari,
                                new_fp=new_fp)
        try:
            served = self._deploy(cfg, dest, new_fp, old_fp)
        except RenewFailure as failure:
            if not self.rollback:
                finding = failure.finding
                notes.append(Finding(
                    Code.DEPLOY_NOT_SERVED if failure.kind == "not_served" else Code.RENEW_HOOK_FAILED,
                    Severity.INFO, "the new certificate is installed; the previous files are kept beside it",
                    "Without --rollback-on-fail certdoctor leaves the new files in place after a failed deploy.",
                    (f"destination: {safe(str(dest))}",),
                    "Fix the deploy and reload the server by hand, or run with --rollback-on-fail to restore the "
                    "previous certificate automatically.", Actor.SERVER_OPERATOR, rule=finding.rule))
                return self._failed(cfg, attempt, failure, old_fp, new_cert.not_valid_after_utc, notes, decision,
                                    ari, new_fp=new_fp, outcome=R.NOT_SERVED, action=NOT_SERVED)
            notes.append(self._roll_back(cfg, dest, installed, old_fp, new_fp))
            return self._failed(cfg, attempt, failure, old_fp, not_after, notes, decision, ari, new_fp=new_fp,
                                outcome=R.ROLLED_BACK, action=ROLLED_BACK)
        self.rec.finish(attempt, outcome=R.RENEWED, new_fingerprint=new_fp)
        return CertResult(cfg.name, RENEWED, "ok", tuple(notes), decision, old_fp, new_fp,
                          new_cert.not_valid_after_utc, self.rec.last(cfg.name), served, ari)

    # ----------------------------------------------------------------------- steps
    def _ari(self, cfg: CertConfig, session, cert, cid: str):
        from certdoctor.renew import schedule

        if not getattr(session, "has_ari", False):
            return None, None
        stored = self.rec.ari(cfg.name)
        if stored is not None and stored.cert_id == cid and stored.retry_after is not None \
                and stored.fetched + _dt.timedelta(seconds=stored.retry_after) > self.now:
            # the CA's Retry-After has not passed: its last answer stands (RFC 9773 §4.3), no request
            return schedule.RenewalInfo(stored.start, stored.end, stored.explanation_url, stored.retry_after), None
        try:
            status, headers, body = session.renewal_info(cert)
            if status != 200:
                raise schedule.RenewalInfoError(f"renewalInfo answered HTTP {status}")
            info = schedule.parse_renewal_info(body, headers, self.now)
        except Exception as exc:  # an ARI error never blocks (RFC 9773 §4.3): the lifetime rule decides
            return None, _ari_note(cid, exc)
        self.rec.save_ari(cfg.name, cid, info, now=self.now)
        return info, None

    def _issue(self, cfg: CertConfig, session, cur, cid):
        from certdoctor.renew import csr as CSR
        from certdoctor.renew import keys

        if cfg.key.reuse and cur is not None and cur.key_path is not None:
            key = keys.load_key(cur.key_path)
        else:
            key = keys.generate_key(cfg.key.type)
        made = CSR.make_csr(list(cfg.domains), ips=tuple(cfg.ips), key=key)
        replaces = cid if (cur is not None and getattr(session, "has_ari", False)) else None
        responder = _responder(cfg)

        def order():
            nonlocal replaces
            try:
                return session.issue(made.csr_pem, responder=responder, replaces=replaces, profile=cfg.profile,
                                     deadline=cfg.timeouts.order)
            except Exception as exc:
                if not (_is_acme_failure(exc) and exc.kind == "already_replaced" and replaces is not None):
                    raise
            replaces = None  # RFC 9773 §5: another order replaces it already; one order without the field
            return session.issue(made.csr_pem, responder=responder, replaces=None, profile=cfg.profile,
                                 deadline=cfg.timeouts.order)

        with _serving(responder):
            return self._retrying(order), made.key_pem

    def _retrying(self, step):
        """``step()``, a transient ACME failure tried again like an order (policy RENEW_TRIES)."""
        tries = max(1, policy.RENEW_TRIES)
        for n in range(tries):
            try:
                return step()
            except Exception as exc:
                if not _is_acme_failure(exc):
                    raise
                wait = exc.retry_after if exc.retry_after is not None else \
                    policy.RENEW_BACKOFF_SECONDS[min(n, len(policy.RENEW_BACKOFF_SECONDS) - 1)]
                if not exc.transient or n == tries - 1 or wait > policy.RENEW_MAX_WAIT_IN_RUN_SECONDS:
                    raise _acme_failure(exc) from None
                self.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _deploy(self, cfg: CertConfig, dest, new_fp: str, old_fp: str | None) -> tuple[Served, ...]:
        if cfg.deploy_hook:
            run_hook(cfg.deploy_hook, timeout=cfg.timeouts.hook, env=_hook_env(cfg, dest))
        if cfg.verify:
            return prove_served(cfg.verify, new_fp, timeout=cfg.timeouts.verify, other=old_fp)
        return ()

    def _roll_back(self, cfg: CertConfig, dest, installed, old_fp: str | None, new_fp: str) -> Finding:
        from certdoctor.renew import install

        steps = []
        try:
            install.rollback(installed)
            steps.append("previous files restored")
        except (CertdoctorError, OSError) as exc:
            text = exc.message if isinstance(exc, CertdoctorError) else str(exc)
            return Finding(Code.RENEW_INSTALL_FAILED, Severity.ERROR,
                           f"--rollback-on-fail: the previous files could not be restored: {safe(text)}",
                           "The new certificate stays installed.", (f"destination: {safe(str(dest))}",),
                           "Restore the .prev files (or the previous lineage version) by hand.",
                           Actor.SERVER_OPERATOR, rule="install_failed")
        try:
            if cfg.deploy_hook:
                run_hook(cfg.deploy_hook, timeout=cfg.timeouts.hook, env=_hook_env(cfg, dest))
                steps.append("hook run again")
            if cfg.verify and old_fp is not None:
                prove_served(cfg.verify, old_fp, timeout=cfg.timeouts.verify, which="previous", other=new_fp)
                steps.append("previous leaf proven served")
        except RenewFailure as again:
            return Finding(again.finding.code, Severity.ERROR,
                           f"--rollback-on-fail: the previous files are back, but {again.finding.summary}",
                           again.finding.explanation, again.finding.evidence, again.finding.fix,
                           Actor.SERVER_OPERATOR, rule=again.finding.rule)
        return Finding(Code.DEPLOY_NOT_SERVED, Severity.INFO, f"rolled back: {', '.join(steps)}",
                       "--rollback-on-fail put the previous certificate and key back after the failed deploy.",
                       (f"destination: {safe(str(dest))}", f"restored leaf: sha256 {old_fp}",
                        f"withdrawn leaf: sha256 {new_fp}"), "Fix the deploy, then run again (--force).",
                       Actor.SERVER_OPERATOR, rule="rolled_back")

    def _failed(self, cfg: CertConfig, attempt: int, failure: RenewFailure, old_fp, not_after, notes, decision, ari,
                *, new_fp: str | None = None, outcome: str = R.FAILED, action: str = FAILED) -> CertResult:
        next_at = None
        if failure.retry_after is not None:
            next_at = _dt.datetime.now(_dt.timezone.utc) + _dt.timedelta(seconds=failure.retry_after)
        self.rec.finish(attempt, outcome=outcome, error_kind=failure.kind, error_text=failure.finding.summary,
                        transient=failure.transient, new_fingerprint=new_fp, retry_after=failure.retry_after,
                        next_attempt=next_at)
        return CertResult(cfg.name, action, "critical", (failure.finding, *notes), decision, old_fp, new_fp, not_after,
                          self.rec.last(cfg.name), ari=ari, error_kind=failure.kind)


def _ari_note(cid: str | None, exc: BaseException) -> Finding:
    detail = safe(str(getattr(exc, "detail", None) or getattr(exc, "message", None) or exc))
    return Finding(
        Code.RENEW_ARI_FALLBACK, Severity.WARNING,
        f"the CA's renewalInfo could not be used ({detail}): the lifetime rule decided",
        "ARI lets the CA move the renewal earlier (a revocation, an incident); without it certdoctor renews "
        "at two thirds of the lifetime (half for certificates under 10 days).",
        (f"certificate id: {cid}", f"error: {detail}"),
        "Nothing to do if it passes; if it keeps happening, tell the CA's operator.", Actor.NOBODY,
        rule="ari_unusable")


def _expected(exc: BaseException) -> bool:
    """A failure a step reports (certdoctor's errors, the ACME session's): anything else is a bug."""
    return isinstance(exc, CertdoctorError) or _is_acme_failure(exc)


def _is_acme_failure(exc: BaseException) -> bool:
    try:
        from certdoctor.renew.acme import AcmeFailure
    except ImportError:  # pragma: no cover
        return False
    return isinstance(exc, AcmeFailure)


def _classify(exc: CertdoctorError) -> RenewFailure:
    """A certdoctor error raised by a step: an ACME failure, a challenge's, or any other (as ACME)."""
    if _is_acme_failure(exc):
        return _acme_failure(exc)
    try:
        from certdoctor.renew.challenge import ChallengeError
    except ImportError:  # pragma: no cover
        ChallengeError = ()  # type: ignore[assignment]
    if ChallengeError and isinstance(exc, ChallengeError):
        return _challenge_failure(exc)
    return RenewFailure(Finding(Code.RENEW_ACME_FAILED, Severity.ERROR, safe(exc.message),
                                "No certificate was issued; nothing was installed, the old certificate stays in place.",
                                (f"error: {safe(exc.message)}",), exc.hint or "See the error.", Actor.SERVER_OPERATOR,
                                rule="bad_response"), kind="bad_response")


class _serving:
    """Start a responder that serves (the http-01 server) for the order, stop it after."""

    def __init__(self, responder) -> None:
        self.r = responder

    def __enter__(self):
        if hasattr(self.r, "start"):
            self.r.start()
        return self.r

    def __exit__(self, *exc) -> None:
        if hasattr(self.r, "close"):
            self.r.close()


def _hook_env(cfg: CertConfig, dest) -> dict[str, str]:
    from certdoctor.renew import install

    env = {"CERTDOCTOR_NAME": cfg.name, "CERTDOCTOR_DOMAINS": " ".join(cfg.identifiers),
           "RENEWED_DOMAINS": " ".join(cfg.identifiers)}
    if cfg.install.lineage is not None:
        env["RENEWED_LINEAGE"] = str(cfg.install.lineage / "live" / cfg.name)
    try:
        cur = install.current(dest)
    except CertdoctorError:  # pragma: no cover - it was just installed
        cur = None
    if cur is not None:
        if getattr(cur, "fullchain_path", None) is not None:
            env["CERTDOCTOR_FULLCHAIN"] = str(cur.fullchain_path)
        if getattr(cur, "key_path", None) is not None:
            env["CERTDOCTOR_KEY"] = str(cur.key_path)
    return env


def renew(config: RenewConfig, names: Iterable[str] = (), *, now: _dt.datetime | None = None, force: bool = False,
          check: bool = False, rollback_on_fail: bool = False, state=None,
          sleep: Callable[[float], None] = time.sleep, session_factory=None) -> RenewReport:
    """Renew the certificates of ``config`` (those ``names``, else all) that are due (all when
    ``force``); ``check=True`` is :func:`check`. ``state`` overrides the config's record path."""
    chosen = config.select(names)
    path = R.state_path(state if state is not None else config.state, create=not check)
    if check:
        return check_certificates(config, chosen, path, _now(now))
    with R.Lock.acquire(path), R.Record.open(path) as rec:
        run = _Run(config, rec, path, _now(now), force, rollback_on_fail, sleep, session_factory)
        results = tuple(run.one(cfg) for cfg in chosen)
    return RenewReport(results, False, config.path, str(path))


# --------------------------------------------------------------------------- --check

def check_certificates(config: RenewConfig, chosen, path, now: _dt.datetime) -> RenewReport:
    """Without changing anything (no lock, no write, no network): per certificate, when it is due
    and why (the last ARI answer kept in the record, else the lifetime rule), and the last attempt."""
    with R.Record.open(path, create=False) as rec:
        results = tuple(_check_one(cfg, rec, now) for cfg in chosen)
    return RenewReport(results, True, config.path, str(path))


def _check_one(cfg: CertConfig, rec: R.Record, now: _dt.datetime) -> CertResult:
    from certdoctor.renew import install, schedule

    last = rec.last(cfg.name)
    try:
        cur = install.current(cfg.install.destination(cfg.name))
    except CertdoctorError as exc:
        return CertResult(cfg.name, CHECKED, "unknown", (Finding(
            Code.RENEW_INSTALL_FAILED, Severity.WARNING, f"the installed certificate cannot be read: {safe(exc.message)}",
            "Whether it is due cannot be told.", (), exc.hint or "Fix the files named.", Actor.SERVER_OPERATOR,
            rule="install_failed"),), last_attempt=last)
    findings: list[Finding] = []
    if cur is None:
        findings.append(Finding(Code.RENEW_DUE, Severity.WARNING, "no certificate is installed yet: due now",
                                "The first run of certdoctor renew issues it.", (), "Run certdoctor renew.",
                                Actor.SERVER_OPERATOR, rule="no_certificate"))
        status = "warning"
        decision = None
        fp = not_after = stored = None
    else:
        cid = schedule.cert_id(cur.cert)
        stored = rec.ari(cfg.name)
        ari = None
        if stored is not None and stored.cert_id == cid:
            ari = schedule.RenewalInfo(start=stored.start, end=stored.end, explanation_url=stored.explanation_url,
                                       retry_after=stored.retry_after)
        decision = schedule.should_renew(cur.cert, ari, now, rng=None)
        fp, not_after = fingerprint_sha256(cur.cert), cur.cert.not_valid_after_utc
        left = _lifetime_left(cur.cert, now)
        if not_after <= now:
            status = "critical"
        elif decision.due and left < policy.RENEW_CHECK_CRITICAL_FRACTION:
            status = "critical"
        elif decision.due:
            status = "warning"
        else:
            status = "ok"
        if decision.due:
            findings.append(Finding(Code.EXPIRED if not_after <= now else Code.RENEW_DUE,
                                    Severity.ERROR if status == "critical" else Severity.WARNING,
                                    f"due since {decision.at:%Y-%m-%d %H:%M}Z: {decision.reason}",
                                    "certdoctor renew (from cron or a systemd timer) renews it on its next run.",
                                    (f"source: {decision.source}", f"notAfter: {not_after:%Y-%m-%dT%H:%M:%SZ}",
                                     f"lifetime left: {left:.0%}"),
                                    "Run certdoctor renew (or check why the timer's runs fail).",
                                    Actor.SERVER_OPERATOR, rule="due"))
        stored = ari
    if last is not None and last.failed:
        if status == "ok":
            status = "warning"
        findings.append(Finding(Code.RENEW_LAST_FAILED, Severity.WARNING,
                                f"last attempt failed at {last.started:%Y-%m-%d %H:%M:%S}Z, because "
                                f"{safe(last.error_text or last.outcome)}",
                                "The certificate in place is the one before that attempt (or its rollback).",
                                tuple(x for x in (f"outcome: {last.outcome}", f"kind: {last.error_kind}",
                                                  f"next attempt: {last.next_attempt:%Y-%m-%dT%H:%M:%SZ}"
                                                  if last.next_attempt else None) if x),
                                "Fix what the error says; the next run tries again.", Actor.SERVER_OPERATOR,
                                rule="last_attempt_failed"))
    return CertResult(cfg.name, CHECKED, status, tuple(findings), decision, fp, None, not_after, last, ari=stored)


def check(config: RenewConfig, names: Iterable[str] = (), *, now: _dt.datetime | None = None, state=None) -> RenewReport:
    """``renew --check``: :func:`renew` with ``check=True``."""
    return renew(config, names, now=now, check=True, state=state)


__all__ = ["renew", "check", "RenewReport", "CertResult", "RULES", "STATUS_CODE", "RENEWED", "NOT_DUE", "DEFERRED",
           "FAILED", "ROLLED_BACK", "NOT_SERVED", "CHECKED"]
