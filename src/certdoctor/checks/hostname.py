"""HOSTNAME_MISMATCH and NO_SAN: the leaf against the name the client connects to (RFC 6125)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from certdoctor.checks._text import is_ip
from certdoctor.model import Actor, Code, Finding, Severity

if TYPE_CHECKING:  # pragma: no cover
    from certdoctor.checks.context import Context
    from certdoctor.model import CertInfo


def check(ctx: "Context") -> list[Finding]:
    if ctx.chain is None or not ctx.chain.certs:
        return []
    f: list[Finding] = []
    _check_hostname(ctx.chain.certs[0], ctx.evidence.target.servername, ctx.evidence.client, f)
    return f


def _check_hostname(leaf: CertInfo, name: str, client: str, f: list[Finding]) -> None:
    ip = is_ip(name)
    if not leaf.san_dns and not leaf.san_ip:
        cn_ok = (leaf.common_name or "").lower() == name.lower()
        refuses = client in ("requests", "pip") or not cn_ok
        f.append(Finding(
            Code.NO_SAN, Severity.ERROR if refuses else Severity.WARNING,
            "The certificate has no subjectAltName; its name is only in the Common Name.",
            ("Since urllib3 2.0, requests (and pip) match names against the SAN only and refuse this certificate "
             "with 'Hostname mismatch'; httpx, urllib and aiohttp still fall back to the CN, so the same "
             "certificate passes in one client and fails in another. Every public CA has required SANs since 2017."),
            (f"subject = {leaf.subject}", "subjectAltName: absent", f"client = {client}"),
            f"The server's operator must reissue the certificate with subjectAltName = DNS:{name}.",
            Actor.SERVER_OPERATOR, 0))
        return
    if leaf.covers_host(name):
        return
    covered = [*leaf.san_dns, *leaf.san_ip]
    detail = ""
    if ip and name in leaf.san_dns:
        detail = (f" The IP {name} is written as a DNS name in the SAN; an IP URL only matches an "
                  "iPAddress SAN entry.")
    elif ip:
        detail = f" The URL uses the IP address {name}, which only matches iPAddress SAN entries."
    else:
        for pat in leaf.san_dns:
            if pat.startswith("*.") and name.endswith(pat[1:]):
                detail = (f" {pat!r} covers exactly one label: '{name}' has more labels than the wildcard "
                          "covers (RFC 6125).")
                break
            if pat.startswith("*.") and name == pat[2:]:
                detail = f" {pat!r} does not cover the bare domain {name!r}."
                break
    f.append(Finding(
        Code.HOSTNAME_MISMATCH, Severity.ERROR,
        f"The certificate is not valid for {name!r}.",
        (f"The client checks the name it connects to against the certificate's subjectAltName, and {name!r} "
         f"is not among {', '.join(covered) or '(none)'}.{detail}"),
        (f"requested name = {name}", f"SAN = {', '.join(covered)}", f"subject = {leaf.subject}"),
        ("Connect with a name the certificate covers, or have the server's operator reissue it with "
         f"{'IP:' if ip else 'DNS:'}{name} in the subjectAltName. Never turn off check_hostname."),
        Actor.SERVER_OPERATOR, 0))
