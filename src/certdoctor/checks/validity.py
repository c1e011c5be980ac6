"""EXPIRED, NOT_YET_VALID and EXPIRING_SOON: every certificate of the path against the clock."""

from __future__ import annotations

from typing import TYPE_CHECKING

from certdoctor.checks._text import role_of, who
from certdoctor.model import Actor, Code, Finding, Severity

if TYPE_CHECKING:  # pragma: no cover
    from certdoctor.checks.context import Context

#: the rules of this module (``Finding.rule``), as listed in docs/JSON.md
RULES = {
    "expired": "now is after the certificate's notAfter",
    "not_yet_valid": "now is before the certificate's notBefore",
    "expiring_soon": "the certificate's notAfter is within the warning window (--warn-days)",
}


def check(ctx: "Context") -> list[Finding]:
    if ctx.path is None:
        return []
    f: list[Finding] = []
    _check_validity(ctx.path.path, ctx.now, ctx.evidence.options.warn_days, f)
    return f


def _check_validity(path, now, warn_days, f: list[Finding]) -> None:
    total = len(path)
    for i, info in enumerate(path):
        role = role_of(i, total, info)
        if info.expired:
            f.append(Finding(
                Code.EXPIRED, Severity.ERROR,
                f"{role.capitalize()} certificate expired {-(info.days_left)} day(s) ago.",
                (f"{role.capitalize()} {who(info)} was valid until {info.not_after:%Y-%m-%d %H:%M} UTC. "
                 "OpenSSL refuses every chain that contains an expired certificate, with "
                 "'certificate has expired'. If every site fails the same way, check the client's clock instead."),
                (f"notAfter = {info.not_after.isoformat()}", f"now = {now.isoformat()}", f"subject = {info.subject}"),
                ("The server's operator must renew it: " + (
                    "issue a new leaf certificate (automate it, e.g. certbot/ACME)."
                    if i == 0 else "replace the expired CA certificate in the served chain file with the CA's current one.")),
                Actor.SERVER_OPERATOR, i, rule="expired"))
        elif info.not_yet_valid:
            f.append(Finding(
                Code.NOT_YET_VALID, Severity.ERROR,
                f"{role.capitalize()} certificate is not valid before {info.not_before:%Y-%m-%d %H:%M} UTC.",
                (f"{role.capitalize()} {who(info)} starts being valid in the future. Either it was issued with a "
                 "future notBefore, or this machine's clock is behind."),
                (f"notBefore = {info.not_before.isoformat()}", f"now = {now.isoformat()}"),
                "Check this machine's clock (timedatectl set-ntp true). If the clock is right, the server's "
                "operator must reissue the certificate with notBefore in the past (backdate a few minutes).",
                Actor.SERVER_OPERATOR, i, rule="not_yet_valid"))
        elif 0 <= info.days_left < warn_days:
            f.append(Finding(
                Code.EXPIRING_SOON, Severity.WARNING,
                f"{role.capitalize()} certificate expires in {info.days_left} day(s).",
                f"{role.capitalize()} {who(info)} expires on {info.not_after:%Y-%m-%d}.",
                (f"notAfter = {info.not_after.isoformat()}",),
                "Renew it now and make renewal automatic (ACME/certbot); monitor with `certdoctor expiry`.",
                Actor.SERVER_OPERATOR, i, rule="expiring_soon"))
