"""``certdoctor revocation TARGET|FILE``: is this certificate revoked? CRL and OCSP, verified.

FILE is a certificate or chain file (PEM, DER, PKCS#7, PKCS#12; ``-`` for stdin); TARGET a
host[:port] or an https:// URL whose presented chain is checked (with the server's stapled OCSP
response when one is stapled and pyOpenSSL is there to read it), told apart by
:func:`certdoctor.net.target.classify`. The first certificate is checked; its issuer is the
certificate of the chain that signed it, ``--issuer FILE``, a CA of ``--ca-file``, or (last
resort) the one named by its AIA caIssuers URL, downloaded within the fetcher's bounds.

``--timeout`` is the one timeout option of every command that connects: reading TARGET's chain
gets all of it; each CRL, OCSP and AIA request gets :func:`request_timeout` (half of it: 5 s at
the default 10 s), and the whole check :func:`check_budget` (twice it: 20 s).

Exit codes: 0 GOOD (a verified, current answer says not revoked and no source says REVOKED; a
``REVOCATION_STALE`` warning about another answer does not change it); 1 REVOKED (a verified
REVOKED from any source, whatever the others say), UNKNOWN or ERROR (no verified current
answer: a stale GOOD is not one), whatever the ``--policy`` (the policy sets the finding's
severity: soft = warning, hard = error); 2 bad usage or input.
"""

from __future__ import annotations

import click

from certdoctor import policy
from certdoctor.cli.common import Exit
from certdoctor.cli.options import InputFile, connection_options, json_option, password_option

#: what ``revocation`` reads
KINDS = ("file", "stdin", "endpoint")


def request_timeout(timeout: float) -> float:
    """Seconds for each CRL/OCSP/AIA request: the policy's share of ``--timeout``
    (:data:`~certdoctor.policy.REVOCATION_TIMEOUT_SECONDS` at the default ``--timeout``)."""
    return timeout * policy.REVOCATION_TIMEOUT_SECONDS / policy.TIMEOUT_SECONDS


def check_budget(timeout: float) -> float:
    """Seconds for the whole check (:data:`~certdoctor.policy.REVOCATION_TOTAL_SECONDS` at the
    default ``--timeout``)."""
    return timeout * policy.REVOCATION_TOTAL_SECONDS / policy.TIMEOUT_SECONDS


def _fetch_chain(host: str, port: int, timeout: float, want_staple: bool,
                 proxy: str | None = None, servername: str | None = None,
                 staple: bool = False) -> tuple[list, object, object]:
    """The presented chain, the stapled OCSP response (when asked and available) and the
    :class:`~certdoctor.net.resolve.FetchScope` the chain's URLs may reach (from the address
    connected to; public through a proxy).

    The staple is one more handshake, made only with a reason: ``want_staple`` (the method asks
    OCSP) and the leaf names an OCSP responder, or ``staple`` (``--staple``: a server stapling
    from a response file although the leaf names none). It runs in a thread while the CRL and
    OCSP downloads start: the second item is a callable that waits for it (``None``: not asked).

    Reached through ``proxy``, else the one ``HTTPS_PROXY``/``ALL_PROXY``/``NO_PROXY`` name for
    ``host`` (as requests would).
    """
    from certdoctor.errors import NetworkError
    from certdoctor.net.probe import probe
    from certdoctor.net.proxy import proxy_for_host

    from certdoctor.net.resolve import FetchScope, private_fetch_allowed

    proxy = proxy_for_host(host, port, proxy)
    result = probe(host, port, servername=servername, timeout=timeout, proxy=proxy)
    if result.chain_der:
        scope = FetchScope.for_target(result.address, proxied=bool(proxy), allow_private=private_fetch_allowed())
        certs = list(result.certificates())
        stapled = None
        if want_staple and result.failure is None and (staple or _names_responder(certs[0])):
            stapled = _in_background(lambda: _staple(host, port, servername, proxy, timeout))
        return certs, stapled, scope
    f = result.failure
    if f is None:  # pragma: no cover - a completed handshake always has a leaf
        raise NetworkError(f"{host}:{port} presented no certificate", "The server must send its chain.")
    detail = next((e for e in f.evidence if e.startswith("error:")), "")
    raise NetworkError(f.summary + (f" ({detail[7:]})" if detail else ""), f.fix or None)


def _names_responder(leaf) -> bool:
    from certdoctor.revocation.check import ocsp_locations

    try:
        return bool(ocsp_locations(leaf))
    except Exception:  # noqa: BLE001 - an unreadable AIA names no responder
        return False


def _staple(host: str, port: int, servername: str | None, proxy: str | None, timeout: float):
    from certdoctor.net.probe import fetch_staple

    return fetch_staple(host, port, servername=servername, proxy=proxy, timeout=timeout)


def _in_background(fn):
    """``fn`` started in a thread now (the command's deadline context copied); the callable
    returned waits for its result. ``fn`` is bounded by that deadline."""
    import contextvars
    import threading

    box: dict = {}
    ctx = contextvars.copy_context()

    def work() -> None:
        try:
            box["value"] = ctx.run(fn)
        except Exception as exc:  # noqa: BLE001 - the staple is best effort: none
            box["error"] = exc

    t = threading.Thread(target=work, name="certdoctor-staple", daemon=True)
    t.start()

    def wait():
        t.join()
        return box.get("value")

    return wait


def _issuer_from_aia(cert, timeout: float, scope=None):
    """Download the issuer named by ``cert``'s AIA caIssuers URLs (bounded); ``None`` if none fits."""
    from certdoctor.net.aia import issuer_from_aia

    return issuer_from_aia(cert, timeout=timeout, budget=timeout * 2, scope=scope)


@click.command("revocation")
@click.argument("target")
@click.option("--issuer", "issuer_file", type=InputFile(), metavar="FILE",
              help="The issuer's certificate (default: the next certificate of the chain; - for stdin).")
@click.option("--policy", "policy_name", type=click.Choice(["soft", "hard"]), default="soft", show_default=True,
              help="soft: an unknown status is a warning; hard: it is an error.")
@click.option("--method", type=click.Choice(["all", "crl", "ocsp"]), default="all", show_default=True,
              help="Sources to ask: the staple, CRLs, then OCSP (all: a REVOKED from any wins), or only one kind.")
@click.option("--no-cache", is_flag=True, help="Do not read or write the on-disk CRL/OCSP cache.")
@click.option("--staple", is_flag=True,
              help="Ask an endpoint for a stapled OCSP response even when its leaf names no OCSP responder.")
@connection_options
@password_option
@json_option
def command(target: str, issuer_file: str | None, policy_name: str, method: str, no_cache: bool, staple: bool,
            timeout: float,
            proxy: str | None, servername: str | None, resolve: tuple[str, ...], ca_file: str | None,
            password: str | None, as_json: bool) -> int:
    """Check revocation of a certificate by CRL and OCSP, signatures verified.

    TARGET is a certificate/chain FILE (- for stdin), a host[:port] or an https:// URL. Exit 0
    when a verified, current answer says GOOD and none says REVOKED; 1 when REVOKED (by any
    source), UNKNOWN or ERROR (under either policy). An answer past its nextUpdate or too old is
    never GOOD (REVOCATION_STALE).
    Each CRL/OCSP request gets half of --timeout; the whole command ends within --timeout.
    --ca-file: CAs to look for the issuer in. This command is an explicit request: the chain is
    checked whether or not it is trusted. A server's URLs may reach no more internal an address
    than the server's own (public through a proxy; never link-local or cloud metadata;
    --allow-private-fetch lifts it); a certificate FILE you name may point anywhere but there.
    """
    from certdoctor.cli.common import classify, install_resolve
    from certdoctor.trust.ca_file import ca_file_certificates
    from certdoctor.x509.load import read_source
    from certdoctor.errors import InputError, UsageError
    from certdoctor.net.fetch import FetchCache
    from certdoctor.net.target import FILE
    from certdoctor.revocation.check import check_revocation, find_issuer

    source = classify(target, KINDS, servername)
    ca_certs = ca_file_certificates(ca_file)
    per_request = request_timeout(timeout)
    from certdoctor.net.resolve import ANY

    stapled = None
    scope = ANY  # a file the user names: anything but link-local and cloud metadata
    if source.is_endpoint:
        install_resolve(resolve)
        t = source.target
        certs, stapled, scope = _fetch_chain(t.host, t.port, timeout, want_staple=method != "crl", proxy=proxy,
                                             servername=servername, staple=staple)
    else:
        certs = list(read_source(source, password=password).certificates)
    label = source.label
    if not certs:
        raise InputError(f"{label}: no certificate to check", None)
    cert = certs[0]
    if issuer_file:
        candidates = list(read_source(classify(issuer_file, (FILE,)), password=password).certificates)
        issuer = find_issuer(cert, candidates)
        if issuer is None:
            raise InputError(
                f"{issuer_file} holds no certificate that issued {cert.subject.rfc4514_string()}",
                f"The issuer must be named {cert.issuer.rfc4514_string()} and its key must verify the signature.",
            )
    else:
        issuer = (find_issuer(cert, certs[1:]) or (find_issuer(cert, list(ca_certs)) if ca_certs else None)
                  or _issuer_from_aia(cert, per_request, scope))
        if issuer is None:
            raise UsageError(
                f"{label}: the issuer of {cert.subject.rfc4514_string()} is not in the chain",
                "Give it with --issuer FILE (OCSP and CRL checks need the issuer's key).",
            )
    result = check_revocation(
        cert, issuer, method=method, policy=policy_name, cache=None if no_cache else FetchCache(),
        timeout=per_request, budget=check_budget(timeout), stapled=stapled, scope=scope, prefetch=True,
    )
    finding = result.finding(policy_name)
    findings = result.findings(policy_name)
    if as_json:
        from certdoctor.render.json import emit, target_json
        from certdoctor.render.revocation import revocation_json

        emit(revocation_json(result, finding, target_json(source), [cert, issuer], findings=findings))
    else:
        from certdoctor.cli.common import console
        from certdoctor.render.revocation import render_revocation

        render_revocation(label, result, finding, console(), findings=findings)
    return Exit.OK if result.ok else Exit.PROBLEM
