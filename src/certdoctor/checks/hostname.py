"""HOSTNAME_MISMATCH and NO_SAN: the leaf against the name the client connects to (RFC 6125).

OpenSSL matches a host name against the SAN's DNS entries only (an IP against its iPAddress
entries only); when the SAN holds no DNS entry at all — absent, or only DirName, otherName, …
entries — clients that still read the Common Name (httpx, urllib) fall back to it, requests and
pip do not. A SAN that cannot be parsed is said to be unparseable, never absent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from certdoctor.checks._text import is_ip
from certdoctor.model import Actor, Code, Finding, Severity

if TYPE_CHECKING:  # pragma: no cover
    from certdoctor.checks.context import Context
    from certdoctor.model import CertInfo

#: the rules of this module (``Finding.rule``), as listed in docs/JSON.md
RULES = {
    "no_san": "the leaf has no subjectAltName; its name is only in the Common Name",
    "san_without_dns": "the subjectAltName holds no DNS name (or, for an IP, no IP address): only other kinds",
    "san_unparsed": "the subjectAltName is present but cannot be parsed",
    "san_mismatch": "no SAN entry covers the requested name",
    "wildcard_depth": "a wildcard covers one label; the name has more",
    "wildcard_bare_domain": "a wildcard does not cover the bare domain",
    "ip_in_dns_san": "the IP address is written as a DNS name in the SAN",
    "ip_not_in_san": "an IP URL matches only iPAddress SAN entries, and none is equal",
}

SAN = "subjectAltName"


def check(ctx: "Context") -> list[Finding]:
    if ctx.chain is None or not ctx.chain.certs:
        return []
    f: list[Finding] = []
    _check_hostname(ctx.chain.certs[0], ctx.evidence.target.servername, ctx.evidence.client, f)
    return f


def _check_hostname(leaf: CertInfo, name: str, client: str, f: list[Finding]) -> None:
    ip = is_ip(name)
    san = leaf.san or ()
    unparsed = SAN in leaf.unparsed_extensions or "(all extensions)" in leaf.unparsed_extensions
    if unparsed or leaf.san is None or (not ip and not leaf.san_dns) or (ip and not san):
        _no_usable_san(leaf, name, client, ip, unparsed, f)
        return
    if leaf.covers_host(name):
        return
    detail, rule = "", "san_mismatch"
    if ip and any(name.strip("[]").lower() == d.lower() for d in leaf.san_dns):
        rule = "ip_in_dns_san"
        detail = (f" The IP {name} is written as a DNS name in the SAN; an IP URL only matches an "
                  "iPAddress SAN entry.")
    elif ip:
        rule = "ip_not_in_san"
        detail = f" The URL uses the IP address {name}, which only matches iPAddress SAN entries."
    else:
        for pat in leaf.san_dns:
            if pat.startswith("*.") and name.lower().endswith(pat[1:].lower()):
                rule = "wildcard_depth"
                detail = (f" {pat!r} covers exactly one label: '{name}' has more labels than the wildcard "
                          "covers (RFC 6125).")
                break
            if pat.startswith("*.") and name.lower() == pat[2:].lower():
                rule = "wildcard_bare_domain"
                detail = f" {pat!r} does not cover the bare domain {name!r}."
                break
    covered = [*leaf.san_dns, *leaf.san_ip]
    others = [e for e in san if not e.startswith(("DNS:", "IP Address:"))]
    if others:
        detail += f" The SAN's other entries ({', '.join(others)}) are never matched against a host name."
    f.append(Finding(
        Code.HOSTNAME_MISMATCH, Severity.ERROR,
        f"The certificate is not valid for {name!r}.",
        (f"The client checks the name it connects to against the certificate's subjectAltName, and {name!r} "
         f"is not among {', '.join(covered) or '(none)'}.{detail}"),
        (f"requested name = {name}", f"SAN = {', '.join(san)}", f"subject = {leaf.subject}"),
        ("Connect with a name the certificate covers, or have the server's operator reissue it with "
         f"{'IP:' if ip else 'DNS:'}{name} in the subjectAltName. Never turn off check_hostname."),
        Actor.SERVER_OPERATOR, 0, rule=rule))


def _no_usable_san(leaf: CertInfo, name: str, client: str, ip: bool, unparsed: bool, f: list[Finding]) -> None:
    """NO_SAN: no SAN, a SAN that cannot be parsed, or one without an entry of the kind matched."""
    cn_ok = (leaf.common_name or "").lower() == name.lower()
    # an IP is only ever matched against iPAddress entries (X509_check_ip never reads the CN)
    refuses = client in ("requests", "pip") or not cn_ok or ip or unparsed
    kind = "IP address" if ip else "DNS name"
    cn_clients = ("httpx, urllib and aiohttp still fall back to the CN, so the same certificate passes in one "
                  "client and fails in another.")
    if unparsed:
        rule = "san_unparsed"
        why = next((n for n in leaf.extension_notes if n.startswith(SAN + ":") or n.startswith("(all")),
                   f"{SAN}: could not be parsed")
        summary = "The certificate's subjectAltName could not be parsed; no name in it can be matched."
        explanation = ("Neither cryptography nor certdoctor's DER reader can decode the extension, and OpenSSL "
                       "cannot either: it marks the certificate invalid, so every client refuses it (OpenSSL's "
                       "message is then often the misleading 'unable to get local issuer certificate').")
        evidence = (f"subject = {leaf.subject}", why, f"client = {client}")
        fix = (f"The server's operator must reissue the certificate with a well-formed subjectAltName = "
               f"{'IP' if ip else 'DNS'}:{name}.")
    elif leaf.san is None:
        rule = "no_san"
        summary = "The certificate has no subjectAltName; its name is only in the Common Name."
        explanation = ("Since urllib3 2.0, requests (and pip) match names against the SAN only and refuse this "
                       "certificate with 'Hostname mismatch'; " + cn_clients +
                       " Every public CA has required SANs since 2017.")
        evidence = (f"subject = {leaf.subject}", "subjectAltName: absent", f"client = {client}")
        fix = f"The server's operator must reissue the certificate with subjectAltName = {'IP' if ip else 'DNS'}:{name}."
    else:
        rule = "san_without_dns"
        holds = ", ".join(leaf.san) or "no entry at all"
        summary = (f"The certificate's subjectAltName holds no {kind} (only {holds}); "
                   + ("an IP address is matched against iPAddress entries only." if ip
                      else "its host name is only in the Common Name."))
        explanation = (("OpenSSL matches an IP URL only against the SAN's iPAddress entries (an IP network is not "
                        "an address), never against the Common Name, so every client refuses it with 'IP address "
                        "mismatch'.") if ip else
                       ("OpenSSL matches a host name only against the SAN's DNS entries; DirName, otherName, "
                        "email, URI, registeredID and IP entries never match it. With no DNS entry, requests (and "
                        "pip, urllib3 2.x) refuse the certificate with 'Hostname mismatch'; " + cn_clients))
        evidence = (f"subject = {leaf.subject}", f"subjectAltName = {holds}", f"client = {client}")
        fix = (f"The server's operator must reissue the certificate with {'IP' if ip else 'DNS'}:{name} in the "
               "subjectAltName (a DirName or other entry does not name a host).")
    f.append(Finding(Code.NO_SAN, Severity.ERROR if refuses else Severity.WARNING, summary, explanation, evidence,
                     fix, Actor.SERVER_OPERATOR, 0, rule=rule))
