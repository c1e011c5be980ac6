"""Why does *this* client fail on *this* URL? Evidence, then checks, then the real client's verdict.

:func:`diagnose` is three steps, each its own module:

1. :func:`certdoctor.gather.gather` — all the I/O: the effective trust store, one handshake, the AIA
   chase, the interception canary, the CRL/OCSP answers, the real client's run. The result is one
   frozen :class:`~certdoctor.evidence.Evidence`.
2. :mod:`certdoctor.checks` — pure functions of the evidence and a clock: the path to an anchor,
   then findings with stable codes (:class:`~certdoctor.model.Finding`).
3. The real client (requests, httpx, urllib, pip's stack) ran against the URL with exactly that
   trust; its outcome is the verdict. When our prediction and the client disagree, the client
   wins and a ``VERDICT_UNCONFIRMED`` finding says so. The suggested commands get this run's URL
   and options, ready to paste.

:func:`judge` is steps 2 and 3 alone: stored evidence is judged again without the network.

    >>> d = diagnose("https://expired-leaf.lab.test:8443/", ca_file="lab-root.pem")  # doctest: +SKIP
    >>> [f.code.value for f in d.findings]                                             # doctest: +SKIP
    ['EXPIRED']
    >>> judge(pickle.loads(pickle.dumps(d.evidence))).findings == d.findings           # doctest: +SKIP
    True
"""

from __future__ import annotations


import datetime as _dt
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Sequence

from certdoctor import policy
from certdoctor.model import ChainInfo, Finding, Severity
from certdoctor.net.client import ClientOutcome, run_client  # noqa: F401 (re-exported: diagnose's results)
from certdoctor.net.proxy import effective_proxy, proxy_for_host  # noqa: F401 (old home)
from certdoctor.net.target import Target, parse_target  # noqa: F401 (also importable from here, as before)

if TYPE_CHECKING:  # pragma: no cover
    from certdoctor.checks.runner import Judgement
    from certdoctor.evidence import Evidence
    from certdoctor.net.fetch import FetchCache
    from certdoctor.net.probe import ProbeResult
    from certdoctor.trust.effective import EffectiveTrust
    from certdoctor.x509.path import PathResult

EXPIRING_DAYS = policy.EXPIRING_SOON_DAYS
#: names whose old home is this module, read from the checks on first use: importing the checks
#: here would put them before the real client's start (gather forks it as early as it can)
_OLD_HOMES = {"CLOCK_SKEW_LIMIT": "certdoctor.checks.reconcile", "CERTIFI_REMOVED": "certdoctor.checks.trust",
              "INTERCEPTOR_NAMES": "certdoctor.checks.trust"}


def __getattr__(name: str):
    if name in _OLD_HOMES:
        import importlib

        return getattr(importlib.import_module(_OLD_HOMES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --------------------------------------------------------------------------- results

@dataclass(frozen=True, slots=True)
class Diagnosis:
    """The whole story of one endpoint for one client.

    ``verifies`` is the real client's verdict (``None`` when it could not be run).
    ``chain`` and ``path`` are ``None`` when no chain was received. ``evidence`` is what the
    diagnosis was judged from (pickle it to judge it again later with :func:`judge`).
    """

    target: Target
    client: str
    python: str
    trust: "EffectiveTrust"
    probe: "ProbeResult"
    chain: ChainInfo | None
    path: "PathResult | None"
    findings: tuple[Finding, ...]
    outcome: ClientOutcome | None
    verifies: bool | None
    now: _dt.datetime
    evidence: "Evidence | None" = None

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity is Severity.ERROR)

    @property
    def primary(self) -> Finding | None:
        """The finding that explains the failure best (the first error, else the first warning)."""
        ranked = sorted(self.findings, key=lambda f: -f.severity.rank)
        return ranked[0] if ranked else None

    @property
    def ok(self) -> bool:
        return bool(self.verifies) and not self.errors

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1


# --------------------------------------------------------------------------- main entry

def diagnose(
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
    staple: bool | None = None,
    warm: Sequence[str] = (),
    fork: bool = False,
) -> Diagnosis:
    """Diagnose ``target`` for ``client`` in this environment. Never raises for server problems.

    ``canaries`` are the ``HOST[:PORT]`` hosts probed to prove interception when the chain does not
    verify (default: ``CERTDOCTOR_CANARIES``, else :data:`certdoctor.gather.CANARY_HOSTS`).
    ``staple``: ask the server for a stapled OCSP response (one more handshake); by default
    only when the leaf names an OCSP responder (``False``: never). ``warm``: the modules the
    caller imports once the diagnosis is made (its renderer), imported while the network waits;
    ``fork``: the real client in a forked child on another core (both: :func:`certdoctor.gather.gather`;
    the command line asks for both)."""
    from certdoctor.gather import gather

    evidence = gather(target, client=client, ca_file=ca_file, python=python, proxy=proxy, servername=servername,
                      timeout=timeout, now=now, environ=environ, aia=aia, revocation=revocation, pins=pins,
                      warn_days=warn_days, cache=cache, run_real_client=run_real_client, canaries=canaries,
                      staple=staple, warm=warm, fork=fork)
    return judge(evidence)


def judge(evidence: "Evidence", now: _dt.datetime | None = None) -> Diagnosis:
    """The :class:`Diagnosis` of ``evidence`` (from :func:`certdoctor.gather.gather`, or stored),
    judged at ``now`` (default: the clock it was gathered at). No network, no file is read."""
    from certdoctor import checks

    return diagnosis_of(evidence, checks.judge(evidence, now))


def diagnosis_of(evidence: "Evidence", verdict: "Judgement") -> Diagnosis:
    """The :class:`Diagnosis` of ``evidence`` from the checks' ``verdict`` on it
    (:func:`certdoctor.checks.runner.judge`): the commands filled in, each finding once. The
    monitor hands a verdict it reuses for another target with the same chain, name and trust."""
    from certdoctor import checks

    opts = evidence.options
    findings = _concrete_commands(list(verdict.findings), evidence.target.url, ca_file=opts.ca_file,
                                  proxy=opts.proxy_arg, client=evidence.client,
                                  python=evidence.python if evidence.python == "3.13" else None,
                                  servername=opts.servername)
    return Diagnosis(evidence.target, evidence.client, evidence.python, evidence.trust.description, evidence.probe,
                     verdict.chain, verdict.path, tuple(checks.dedupe(findings)), evidence.outcome,
                     verdict.verifies, verdict.now, evidence)


def _concrete_commands(findings: list[Finding], url: str, **opts) -> list[Finding]:
    """Fill the URL and the options of this run into the commands a fix suggests, so they can
    be pasted as they are. The fingerprint stays a placeholder: it must be confirmed out of band."""
    from certdoctor._text import quote

    if not any("`certdoctor " in f.fix for f in findings):
        return findings  # nothing to fill in (quoting the options costs more than the checks' reuse)
    extra = "".join(f" --{name.replace('_', '-')} {quote(value)}"
                    for name, value in opts.items() if value and not (name == "client" and value == "requests"))
    out = []
    for f in findings:
        text = f.fix
        for verb in ("fix", "pin", "revocation", "diagnose"):
            text = text.replace(f"`certdoctor {verb} URL", f"`certdoctor {verb} {quote(url)}"
                                + (extra if verb in ("fix", "diagnose") else ""))
        out.append(replace(f, fix=text) if text != f.fix else f)
    return out

