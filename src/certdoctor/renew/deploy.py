"""After install: run the deploy hook, then prove every ``verify`` endpoint serves the new leaf.

    >>> run_hook(("systemctl", "reload", "nginx"), timeout=60)                 # doctest: +SKIP
    >>> prove_served(cfg.verify, new_fingerprint, timeout=60)                  # doctest: +SKIP

The step certbot does not take (certbot#2676, #3499, #10530: "renewed, but the server still sends
the old one"). The hook is an argv run without a shell (:func:`certdoctor.net.deadline.start_process`:
its own process group, killed with everything it started at the timeout); a non-zero exit or a
timeout is :data:`~certdoctor.model.Code.RENEW_HOOK_FAILED` with the tail of its stderr (sanitised
when shown). Then each endpoint is probed (:func:`certdoctor.net.probe.probe`, one handshake, no
data sent) every :data:`~certdoctor.policy.RENEW_VERIFY_INTERVAL_SECONDS` until it presents a leaf
whose SHA-256 fingerprint is the new one on :data:`~certdoctor.policy.RENEW_VERIFY_CONFIRMATIONS`
probes in a row (a reloading nginx hands new connections to new workers while the old ones drain,
so one answer with the new leaf can be followed by an old worker's), or the timeout passes:
:data:`~certdoctor.model.Code.DEPLOY_NOT_SERVED`, naming the endpoint and both fingerprints (the
same comparison as the monitor's ``NOT_DEPLOYED``, :mod:`certdoctor.monitor.deploy`).
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from typing import Iterable, Mapping

from certdoctor import policy
from certdoctor._text import safe
from certdoctor.errors import CertdoctorError
from certdoctor.model import Actor, Code, Finding, Severity

RULES = {
    "hook_exit_status": "the deploy hook exited with a non-zero status",
    "hook_timeout": "the deploy hook ran past its timeout and was killed",
    "hook_not_started": "the deploy hook could not be started (no such program, not executable)",
    "leaf_not_served": "a verify endpoint serves another leaf than the one just installed",
    "endpoint_unreachable": "a verify endpoint gave no certificate (refused, timed out, no TLS)",
}


class RenewFailure(CertdoctorError):
    """A renewal step failed; ``finding`` says what, why, who acts and how (``exit_code`` 1).
    ``kind`` is the stable machine word (an :class:`~certdoctor.renew.acme.AcmeFailure` kind,
    ``hook_failed``, ``not_served``, ``install_failed``…)."""

    exit_code = 1

    def __init__(self, finding: Finding, *, kind: str, transient: bool = False,
                 retry_after: float | None = None) -> None:
        super().__init__(finding.summary, finding.fix or None)
        self.finding, self.kind, self.transient, self.retry_after = finding, kind, transient, retry_after


@dataclass(frozen=True, slots=True)
class HookRun:
    argv: tuple[str, ...]
    returncode: int | None
    elapsed: float
    stdout_tail: str
    stderr_tail: str


@dataclass(frozen=True, slots=True)
class Served:
    """What one ``verify`` endpoint served at the end: its leaf's fingerprint (``None``: no
    certificate), the probes it took, and the last probe failure's summary."""

    endpoint: str
    servername: str | None
    fingerprint: str | None
    probes: int
    elapsed: float
    ok: bool
    failure: str | None = None

    def as_json(self) -> dict:
        return {"endpoint": self.endpoint, "servername": self.servername, "fingerprint": self.fingerprint,
                "probes": self.probes, "elapsed": round(self.elapsed, 3), "served": self.ok, "failure": self.failure}


def fingerprint_der(der: bytes) -> str:
    """The colon form :func:`certdoctor.model.fingerprint_sha256` gives, from DER bytes."""
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def _tail(text: str, limit: int = policy.RENEW_HOOK_STDERR_TAIL) -> str:
    text = text.strip()
    return text if len(text) <= limit else "…" + text[-limit:]


def _one_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return safe(lines[-1]) if lines else ""


def run_hook(argv: Iterable[str], *, timeout: float = policy.RENEW_HOOK_TIMEOUT_SECONDS,
             env: Mapping[str, str] | None = None, what: str = "deploy hook") -> HookRun:
    """Run ``argv`` (no shell) with ``env`` added to this process's environment, bounded by
    ``timeout``; raise :class:`RenewFailure` (``RENEW_HOOK_FAILED``) unless it exits 0."""
    from certdoctor.net.deadline import Deadline, finish_process, start_process
    from certdoctor._text import shell

    argv = tuple(argv)
    shown = shell(*argv)
    full_env = {**os.environ, **(env or {})}
    started = time.monotonic()
    try:
        proc = start_process(list(argv), env=full_env)
    except OSError as exc:
        raise RenewFailure(Finding(
            Code.RENEW_HOOK_FAILED, Severity.ERROR,
            f"the {what} could not be started: {safe(argv[0])}: {exc.strerror or exc}",
            "The new certificate is installed but no server was told to load it.",
            (f"command: {shown}", f"error: {safe(str(exc))}"),
            f"Fix the {what} (an argv list, run without a shell: write [\"sh\", \"-c\", \"…\"] for shell syntax).",
            Actor.SERVER_OPERATOR, rule="hook_not_started"), kind="hook_failed") from None
    done, out, err, code = finish_process(proc, Deadline(timeout))
    elapsed = time.monotonic() - started
    run = HookRun(argv, code, elapsed, _tail(out), _tail(err))
    if not done:
        raise RenewFailure(Finding(
            Code.RENEW_HOOK_FAILED, Severity.ERROR,
            f"the {what} ran past its {timeout:g} s timeout and was killed",
            "A hook that hangs (a reload waiting on a prompt, a stuck service manager) would hold the run forever.",
            (f"command: {shown}", f"elapsed: {elapsed:.1f} s", *(_evidence_tail("stderr", run.stderr_tail))),
            f"Make the {what} finish (or raise timeouts.hook).", Actor.SERVER_OPERATOR, rule="hook_timeout"),
            kind="hook_failed")
    if code != 0:
        last = _one_line(err) or _one_line(out)
        raise RenewFailure(Finding(
            Code.RENEW_HOOK_FAILED, Severity.ERROR,
            f"the {what} exited with status {code}" + (f": {last}" if last else ""),
            "The server may not have loaded the new certificate.",
            (f"command: {shown}", f"exit status: {code}", *(_evidence_tail("stderr", run.stderr_tail))),
            f"Run the {what} by hand ({shown}) and fix what it says.", Actor.SERVER_OPERATOR,
            rule="hook_exit_status"), kind="hook_failed")
    return run


def _evidence_tail(label: str, text: str) -> tuple[str, ...]:
    return (f"{label}: {safe(text)}",) if text else ()


def served_fingerprint(host: str, port: int, servername: str | None, timeout: float) -> tuple[str | None, str | None]:
    """One probe: the served leaf's fingerprint and, when there is none, why."""
    from certdoctor.net.probe import probe

    result = probe(host, port, servername=servername, timeout=timeout)
    if result.chain_der:
        return fingerprint_der(result.chain_der[0]), None
    return None, (result.failure.summary if result.failure is not None else "no certificate presented")


def prove_served(endpoints, fingerprint: str, *, timeout: float = policy.RENEW_VERIFY_TIMEOUT_SECONDS,
                 interval: float = policy.RENEW_VERIFY_INTERVAL_SECONDS, which: str = "new",
                 other: str | None = None) -> tuple[Served, ...]:
    """Probe every endpoint (``.host``, ``.port``, ``.servername``) until each serves the leaf
    ``fingerprint`` or ``timeout`` passes (all endpoints share it); raise :class:`RenewFailure`
    (``DEPLOY_NOT_SERVED``) naming the first that does not. ``which`` words the leaf (``new``;
    ``previous`` after a rollback), ``other`` the fingerprint of the one it replaced."""
    from certdoctor.model import normalize_fingerprint

    want = normalize_fingerprint(fingerprint)
    end = time.monotonic() + timeout
    need = max(1, policy.RENEW_VERIFY_CONFIRMATIONS)
    results: list[Served] = []
    for ep in endpoints:
        started = time.monotonic()
        probes, streak, seen, failure = 0, 0, None, None
        while True:
            left = end - time.monotonic()
            probes += 1
            seen, failure = served_fingerprint(ep.host, ep.port, ep.servername,
                                               max(0.2, min(policy.RENEW_VERIFY_PROBE_TIMEOUT_SECONDS, left)))
            # a reload hands new connections to new workers while old ones drain: one answer
            # with the new leaf may be followed by an old worker's; it counts once it repeats
            streak = streak + 1 if seen == want else 0
            if streak >= need:
                break
            pause = policy.RENEW_VERIFY_CONFIRM_INTERVAL_SECONDS if streak else interval
            if time.monotonic() + pause >= end:
                break
            time.sleep(pause)
        ok = streak >= need
        served = Served(str(ep), ep.servername, seen, probes, time.monotonic() - started, ok, failure)
        results.append(served)
        if not served.ok:
            raise RenewFailure(_not_served(served, want, which, other, timeout), kind="not_served")
    return tuple(results)


def _not_served(s: Served, want: str, which: str, other: str | None, timeout: float) -> Finding:
    if s.fingerprint is None:
        summary = (f"{s.endpoint} served no certificate within {timeout:g} s ({safe(s.failure or 'no answer')}); "
                   f"the {which} leaf sha256 {want} is not proven served")
        rule = "endpoint_unreachable"
    elif s.fingerprint == want:
        summary = (f"{s.endpoint} served the {which} leaf (sha256 {want}) only now and then within {timeout:g} s: "
                   f"another answer came between ({s.probes} probes)")
        rule = "leaf_not_served"
    elif other is not None and s.fingerprint == other:
        summary = (f"{s.endpoint} still serves the old leaf (sha256 {s.fingerprint}), not the {which} one "
                   f"(sha256 {want}) after {timeout:g} s")
        rule = "leaf_not_served"
    else:
        summary = (f"{s.endpoint} serves sha256 {s.fingerprint}, not the {which} leaf (sha256 {want}) "
                   f"after {timeout:g} s")
        rule = "leaf_not_served"
    return Finding(
        Code.DEPLOY_NOT_SERVED, Severity.ERROR, summary,
        "The certificate was written, but the server did not load it (not reloaded, or it reads another "
        "file): clients keep getting the certificate it serves now until it expires.",
        (f"endpoint: {s.endpoint}", f"servername: {s.servername}", f"{which} leaf: sha256 {want}",
         f"served leaf: {'sha256 ' + s.fingerprint if s.fingerprint else 'none'}", f"probes: {s.probes}",
         *((f"probe failure: {safe(s.failure)}",) if s.failure else ())),
        "Make deploy_hook reload the server (nginx -s reload, systemctl reload …) and check it loads the "
        "installed files; --rollback-on-fail restores the previous certificate when this happens.",
        Actor.SERVER_OPERATOR, 0, rule=rule)


__all__ = ["run_hook", "prove_served", "served_fingerprint", "fingerprint_der", "RenewFailure", "HookRun", "Served",
           "RULES"]
