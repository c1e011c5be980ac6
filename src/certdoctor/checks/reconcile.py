"""CLOCK_SKEW and VERDICT_UNCONFIRMED: our verdict made equal to the real client's.

The real client's outcome is the verdict. When certdoctor predicted a failure the client did not
have (or missed one it had), a ``VERDICT_UNCONFIRMED`` finding says so; when the server's ``Date``
is far from the clock judged at, ``CLOCK_SKEW``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from certdoctor import policy
from certdoctor.model import Actor, Code, Finding, Severity

if TYPE_CHECKING:  # pragma: no cover
    from certdoctor.net.client import ClientOutcome

CLOCK_SKEW_LIMIT = policy.CLOCK_SKEW


def reconcile(findings: list[Finding], outcome: "ClientOutcome", clock, pinned_clock: bool,
              rfc5280_error: str | None = None) -> list[Finding]:
    """Make our verdict equal the client's: explain any disagreement, never hide it. An
    unexplained refusal quotes the client's exact reason and cryptography's verifier's
    (``rfc5280_error``; see docs/REFUSALS.md for the reasons that have a code of their own)."""
    cert_errors = [f for f in findings if f.severity is Severity.ERROR and f.code not in (
        Code.REVOKED, Code.PIN_MISMATCH, Code.REVOCATION_UNKNOWN, Code.CA_BUNDLE_ENV)]
    out = list(findings)
    if outcome.http_date is not None:
        skew = clock - outcome.http_date
        if abs(skew) > CLOCK_SKEW_LIMIT:
            ahead = skew.total_seconds() > 0
            out.append(Finding(
                Code.CLOCK_SKEW, Severity.ERROR if cert_errors else Severity.WARNING,
                f"This machine's clock is {abs(skew)} {'ahead of' if ahead else 'behind'} the server's.",
                ("Certificate validity is judged by the client's clock. A clock that is wrong makes valid certificates "
                 "look expired (clock ahead) or not yet valid (clock behind), usually for every site."),
                (f"server Date: {outcome.http_date.isoformat()}", f"client clock: {clock.isoformat()}"),
                "Fix the clock: timedatectl set-ntp true (or start chronyd/ntpd, fix the VM time sync or RTC battery).",
                Actor.CLIENT_USER, None))
    if outcome.ok and cert_errors and not pinned_clock:
        out.append(Finding(
            Code.VERDICT_UNCONFIRMED, Severity.WARNING,
            f"{outcome.client} connected although certdoctor predicted a failure.",
            "certdoctor's own checks found an error the real client did not enforce; the client's result is the verdict.",
            tuple(f"predicted: {f.code.value}" for f in cert_errors),
            "Please report this with `certdoctor diagnose --json` output.", Actor.NOBODY, None))
    if not outcome.ok and not cert_errors and not any(
        f.severity is Severity.ERROR and f.code not in (Code.CA_BUNDLE_ENV,) for f in findings
    ):
        out.append(Finding(
            Code.VERDICT_UNCONFIRMED, Severity.ERROR,
            f"{outcome.client} fails, and certdoctor's checks do not explain why.",
            ("The real client's exact error and cryptography's RFC 5280 verifier's reason are below; certdoctor "
             "found no certificate problem that accounts for them (docs/REFUSALS.md lists the reasons it explains)."),
            (f"{outcome.client} says: {outcome.error or '(no error text)'}",
             f"cryptography's verifier: {rfc5280_error or 'accepts the chain (or could not run)'}"),
            "Please report this with `certdoctor diagnose --json` output.", Actor.NOBODY, None))
    if outcome.error:
        out = [replace(f, evidence=f.evidence + (f"{outcome.client} says: {outcome.error}",))
               if f.severity is Severity.ERROR and f is (cert_errors[0] if cert_errors else None) else f
               for f in out]
    return out
