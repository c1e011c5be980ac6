"""``certdoctor revocation TARGET|FILE``: is this certificate revoked? CRL and OCSP, verified.

FILE is a certificate or chain file (PEM, DER, PKCS#7, PKCS#12); TARGET a host[:port] or an
https:// URL whose presented chain is checked (with the server's stapled OCSP response when
one is stapled and pyOpenSSL is there to read it). The first certificate is checked; its issuer is
the certificate of the chain that signed it, ``--issuer FILE``, or (last resort) the one named
by its AIA caIssuers URL, downloaded within the fetcher's bounds.

Exit codes: 0 GOOD (a verified answer says not revoked); 1 REVOKED, UNKNOWN or ERROR, whatever
the ``--policy`` (the policy sets the finding's severity: soft = warning, hard = error);
2 bad usage or input.
"""

from __future__ import annotations

from pathlib import Path

import click

from certdoctor.cli.common import Exit, console, emit_json, json_option


def _load_certs(path: str) -> list:
    from certdoctor.x509.load import load_file

    return list(load_file(path))


def _fetch_chain(host: str, port: int, timeout: float, want_staple: bool,
                 proxy: str | None = None) -> tuple[list, bytes | None]:
    """The presented chain and, when asked and available, the stapled OCSP response.

    Reached through ``proxy``, else the one ``HTTPS_PROXY``/``ALL_PROXY``/``NO_PROXY`` name for
    ``host`` (as requests would).
    """
    from certdoctor.net.proxy import proxy_for_host
    from certdoctor.errors import NetworkError
    from certdoctor.net.probe import probe

    proxy = proxy_for_host(host, port, proxy)
    result = probe(host, port, timeout=timeout, ocsp=want_staple, proxy=proxy)
    if result.chain_der:
        return list(result.certificates()), result.ocsp_staple
    f = result.failure
    if f is None:  # pragma: no cover - a completed handshake always has a leaf
        raise NetworkError(f"{host}:{port} presented no certificate", "The server must send its chain.")
    detail = next((e for e in f.evidence if e.startswith("error:")), "")
    raise NetworkError(f.summary + (f" ({detail[7:]})" if detail else ""), f.fix or None)


_CERT_SUFFIXES = (".pem", ".crt", ".cer", ".der", ".p7b", ".p7c", ".p12", ".pfx", ".key")


def _parse_target(target: str) -> tuple[str, int]:
    """``(host, port)`` of a host[:port] or https:// URL (:func:`certdoctor.net.target.parse_target`)."""
    from certdoctor.errors import UsageError
    from certdoctor.net.target import HINT, parse_target

    try:
        t = parse_target(target)
    except UsageError as exc:  # a certificate file is accepted too: the generic hint says so
        hint = "Give a certificate file, host[:port] or an https:// URL." if exc.hint == HINT else exc.hint
        raise UsageError(exc.message, hint) from exc
    return t.host, t.port


def _issuer_from_aia(cert, timeout: float):
    """Download the issuer named by ``cert``'s AIA caIssuers URLs (bounded); ``None`` if none fits."""
    from certdoctor.net.aia import issuer_from_aia

    return issuer_from_aia(cert, timeout=timeout, budget=timeout * 2)


@click.command("revocation")
@click.argument("target")
@click.option("--issuer", "issuer_file", type=click.Path(dir_okay=False),
              help="The issuer's certificate (default: the next certificate of the chain).")
@click.option("--policy", type=click.Choice(["soft", "hard"]), default="soft", show_default=True,
              help="soft: an unknown status is a warning; hard: it is an error.")
@click.option("--method", type=click.Choice(["all", "crl", "ocsp"]), default="all", show_default=True,
              help="Sources to ask: CRLs first, then OCSP (all), or only one kind.")
@click.option("--timeout", type=click.FloatRange(0.1, 300), default=5.0, show_default=True,
              help="Seconds for each network read (the whole check gets 4x this).")
@click.option("--no-cache", is_flag=True, help="Do not read or write the on-disk CRL/OCSP cache.")
@click.option("--proxy", default=None, metavar="URL",
              help="HTTP proxy URL for reading TARGET's chain (default: HTTPS_PROXY/ALL_PROXY/NO_PROXY, "
                   "as requests reads them).")
@click.option("--resolve", "resolve", multiple=True, metavar="HOST:ADDR",
              help="Resolve HOST to ADDR in this process, like curl --resolve.")
@json_option
def command(target: str, issuer_file: str | None, policy: str, method: str, timeout: float, no_cache: bool,
            proxy: str | None, resolve: tuple[str, ...], as_json: bool) -> int:
    """Check revocation of a certificate by CRL and OCSP, signatures verified.

    TARGET is a certificate/chain FILE, a host[:port] or an https:// URL. Exit 0 when a verified
    answer says GOOD; 1 when REVOKED, UNKNOWN or ERROR (under either policy).
    """
    from certdoctor.errors import InputError, UsageError
    from certdoctor.net.fetch import FetchCache
    from certdoctor.revocation.check import check_revocation, find_issuer

    stapled = None
    if Path(target).is_file():
        certs = _load_certs(target)
        source = target
    else:
        if Path(target).exists():
            raise UsageError(f"{target} is not a regular file", None)
        if "://" not in target and (target.lower().endswith(_CERT_SUFFIXES) or "/" in target):
            raise InputError(f"{target}: no such file", "Give an existing certificate file, or host[:port].")
        host, port = _parse_target(target)
        from certdoctor.cli.common import install_resolve

        install_resolve(resolve)
        certs, stapled = _fetch_chain(host, port, timeout, want_staple=method != "crl", proxy=proxy)
        source = f"{host}:{port}"
    if not certs:
        raise InputError(f"{source}: no certificate to check", None)
    cert = certs[0]
    if issuer_file:
        candidates = _load_certs(issuer_file)
        issuer = find_issuer(cert, candidates)
        if issuer is None:
            raise InputError(
                f"{issuer_file} holds no certificate that issued {cert.subject.rfc4514_string()}",
                f"The issuer must be named {cert.issuer.rfc4514_string()} and its key must verify the signature.",
            )
    else:
        issuer = find_issuer(cert, certs[1:]) or _issuer_from_aia(cert, timeout)
        if issuer is None:
            raise UsageError(
                f"{source}: the issuer of {cert.subject.rfc4514_string()} is not in the chain",
                "Give it with --issuer FILE (OCSP and CRL checks need the issuer's key).",
            )
    result = check_revocation(
        cert, issuer, method=method, policy=policy, cache=None if no_cache else FetchCache(),
        timeout=timeout, budget=timeout * 4, stapled=stapled,
    )
    finding = result.finding(policy)
    if as_json:
        from certdoctor.model import to_jsonable

        emit_json({"target": source, **to_jsonable(result), "finding": finding})
    else:
        _render(source, result, finding)
    return Exit.OK if result.ok else Exit.PROBLEM


_STYLE = {"GOOD": "green", "REVOKED": "bold red", "UNKNOWN": "yellow", "ERROR": "red"}


def _render(source: str, result, finding) -> None:
    from rich.markup import escape

    out = console()
    status = result.status.value
    head = f"[{_STYLE[status]}]{status}[/]  {escape(result.subject)}  serial {result.serial}"
    if result.method:
        head += f"  (by {result.method})"
    out.print(head)
    if status == "REVOKED":
        when = f"{result.revocation_date:%Y-%m-%d %H:%M:%S} UTC" if result.revocation_date else "(no date)"
        out.print(f"  revoked {when}, reason {result.reason or 'not given'}")
    out.print(f"  source: {escape(source)}")
    for a in result.attempts:
        where = a.url or ("stapled response" if a.method == "stapled" else "-")
        line = f"  {a.method:<7} [{_STYLE[a.status.value]}]{a.status.value:<7}[/] {escape(where)}"
        if a.from_cache:
            line += " (cache)"
        out.print(line)
        if a.error:
            out.print(f"          {escape(a.error)}")
    shown = {f"{a.method}: {a.error}" for a in result.attempts if a.error}
    evidence = [e for e in result.evidence if e not in shown]
    if evidence:
        out.print("  evidence:")
        for e in evidence:
            out.print(f"    - {escape(e)}")
    if finding is not None:
        colour = "red" if finding.severity.value == "error" else "yellow"
        out.print(f"[{colour}]{finding.severity.value}[/] {finding.code.value}: {escape(finding.summary)}")
        if finding.fix:
            out.print(f"  fix: {escape(finding.fix)}")
