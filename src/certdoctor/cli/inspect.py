"""``certdoctor inspect SOURCE``: the certificates of a file, or the chain a server presents.

SOURCE is a file (PEM, DER, PKCS#7, PKCS#12; ``-`` for stdin), ``host[:port]`` or an
``https://`` URL. An existing path is always a file. Exit codes: 0 shown, 1 the server could not
be reached, 2 bad input.
"""

from __future__ import annotations

import click

from certdoctor.cli.common import console, emit_json, json_option

_CERT_SUFFIXES = (".pem", ".crt", ".cer", ".cert", ".der", ".p7b", ".p7c", ".p7", ".p12", ".pfx", ".key",
                  ".csr", ".txt", ".ca-bundle", ".bundle")


def parse_target(source: str) -> tuple[str, str, int]:
    """``(kind, name, port)``: ``("file", path, 0)``, ``("stdin", "-", 0)`` or ``("host", host, port)``.

    An existing path is a file; a path-like name that does not exist is "no such file"; the rest
    must be an endpoint (:func:`certdoctor.net.target.parse_target`), else bad input.
    """
    import os

    from certdoctor.errors import InputError, UsageError
    from certdoctor.net.target import HINT
    from certdoctor.net.target import parse_target as parse_endpoint

    if source == "-":
        return "stdin", "-", 0
    if os.path.exists(source):
        return "file", source, 0
    if "://" not in source and ("/" in source or "\\" in source or source.lower().endswith(_CERT_SUFFIXES)):
        from certdoctor.net.target import quote_input

        raise InputError(f"{quote_input(source)}: no such file", "Check the path.")  # one line, whatever the name
    try:
        t = parse_endpoint(source)
    except UsageError as exc:  # not a file either: bad input, exit 2; the generic hint names files too
        hint = "Give an existing file, host[:port] or an https:// URL." if exc.hint == HINT else exc.hint
        raise InputError(exc.message, hint) from exc
    return "host", t.host, t.port


def inspect_source(source: str, *, password: str | None = None, servername: str | None = None,
                   timeout: float = 10.0, proxy: str | None = None):
    """Load or fetch SOURCE's certificates and analyse them into a :class:`~certdoctor.render.inspect.Inspection`.

    A host is reached through ``proxy`` (an ``http://`` CONNECT proxy), else through the one
    ``HTTPS_PROXY``/``ALL_PROXY``/``NO_PROXY`` name for it, as requests would.
    """
    from certdoctor.errors import NetworkError, UsageError
    from certdoctor.x509.load import load_bundle, load_bundle_file
    from certdoctor.render.inspect import Inspection

    kind, name, port = parse_target(source)
    if kind in ("file", "stdin"):
        if servername:
            raise UsageError("--servername applies to hosts, not files")
        if kind == "stdin":
            import sys

            from certdoctor.x509.load import MAX_INPUT_BYTES

            loaded = load_bundle(sys.stdin.buffer.read(MAX_INPUT_BYTES + 1), password=password, source="<stdin>")
        else:
            loaded = load_bundle_file(name, password=password)
        return Inspection.of(loaded.certificates, kind="file", name=loaded.source, format=loaded.format,
                             private_key=loaded.private_key, notes=loaded.notes)
    if password is not None:
        raise UsageError("--password applies to PKCS#12 files, not hosts")
    try:
        from certdoctor.net.probe import fetch_chain
    except ImportError as exc:  # pragma: no cover - only while probe is being written
        raise NetworkError(f"{name}:{port}: cannot connect: certdoctor.net.probe is not available ({exc})") from None
    from certdoctor.net.proxy import proxy_for_host

    proxy = proxy_for_host(name, port, proxy)
    certs = fetch_chain(name, port, servername=servername, timeout=timeout, proxy=proxy)
    if not certs:
        raise NetworkError(f"{name}:{port}: the server presented no certificate")
    return Inspection.of(certs, kind="host", name=f"{name}:{port}", format="tls", host=name, port=port,
                         servername=servername or name)


@click.command("inspect")
@click.argument("source")
@click.option("--password", envvar="CERTDOCTOR_PASSWORD", help="PKCS#12 password (or set CERTDOCTOR_PASSWORD).")
@click.option("--servername", help="SNI name to send (and check the leaf against) when SOURCE is a host.")
@click.option("--timeout", type=click.FloatRange(0.1, 300), default=10.0, show_default=True,
              help="Seconds for the connection.")
@click.option("--proxy", default=None, metavar="URL",
              help="HTTP proxy URL (default: HTTPS_PROXY/ALL_PROXY/NO_PROXY, as requests reads them).")
@click.option("--resolve", "resolve", multiple=True, metavar="HOST:ADDR",
              help="Resolve HOST (or *.suffix) to ADDR in this process, like curl --resolve.")
@json_option
def command(source, password, servername, timeout, proxy, resolve, as_json):
    """Show every certificate of SOURCE and how they chain.

    SOURCE is a file (PEM, DER, PKCS#7, PKCS#12; - for stdin), host[:port] or an https:// URL.
    The server's chain is shown as presented, also when it does not verify.
    """
    import warnings

    from cryptography.utils import CryptographyDeprecationWarning

    from certdoctor.render.inspect import inspection_json, render_inspection

    warnings.filterwarnings("ignore", category=CryptographyDeprecationWarning)
    from certdoctor.cli.common import install_resolve

    install_resolve(resolve)
    insp = inspect_source(source, password=password, servername=servername, timeout=timeout, proxy=proxy)
    if as_json:
        emit_json(inspection_json(insp))
    else:
        render_inspection(insp, console())
    return 0
