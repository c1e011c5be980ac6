"""``certdoctor inspect SOURCE``: the certificates of a file, or the chain a server presents.

SOURCE is a file (PEM, DER, PKCS#7, PKCS#12; ``-`` for stdin), ``host[:port]`` or an
``https://`` URL. An existing path is always a file. Exit codes: 0 shown, 1 the server could not
be reached, 2 bad input.
"""

from __future__ import annotations

import re

import click

from certdoctor.cli.common import console, emit_json, json_option

_CERT_SUFFIXES = (".pem", ".crt", ".cer", ".cert", ".der", ".p7b", ".p7c", ".p7", ".p12", ".pfx", ".key",
                  ".csr", ".txt", ".ca-bundle", ".bundle")
_HOST = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_.-]{0,252})$")


def parse_target(source: str) -> tuple[str, str, int]:
    """``(kind, name, port)``: ``("file", path, 0)``, ``("stdin", "-", 0)`` or ``("host", host, port)``."""
    import ipaddress
    import os
    from urllib.parse import urlsplit

    from certdoctor.errors import InputError

    if source == "-":
        return "stdin", "-", 0
    if os.path.exists(source):
        return "file", source, 0
    hint = "Give an existing file, host[:port] or an https:// URL."
    low = source.lower()
    if low.startswith("http://"):
        raise InputError(f"{source}: an http:// URL has no certificate", "Use https://.")
    if "://" in source and not low.startswith("https://"):
        raise InputError(f"{source}: unsupported URL scheme", hint)
    if low.startswith("https://"):
        try:
            parts = urlsplit(source)
            host, port = parts.hostname, parts.port or 443
        except ValueError as exc:
            raise InputError(f"{source}: not a valid URL ({exc})", hint) from None
        if not host:
            raise InputError(f"{source}: the URL has no host", hint)
        return "host", host, port
    if "/" in source or "\\" in source or low.endswith(_CERT_SUFFIXES):
        raise InputError(f"{source}: no such file", "Check the path.")
    host, port_text = source, ""
    if source.startswith("["):  # [2001:db8::1]:8443
        end = source.find("]")
        if end < 0:
            raise InputError(f"{source}: missing ']' in an IPv6 address", hint)
        host, rest = source[1:end], source[end + 1:]
        if rest and not rest.startswith(":"):
            raise InputError(f"{source}: not host[:port]", hint)
        port_text = rest[1:]
    elif source.count(":") == 1:
        host, port_text = source.split(":")
    elif source.count(":") > 1:  # a bare IPv6 address
        host = source
    port = 443
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise InputError(f"{source}: port {port_text!r} is not a number from 1 to 65535", hint)
        port = int(port_text)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not _HOST.match(host):
            raise InputError(f"{source}: not an existing file, a host name or an https:// URL", hint) from None
    return "host", host, port


def inspect_source(source: str, *, password: str | None = None, servername: str | None = None,
                   timeout: float = 10.0):
    """Load or fetch SOURCE's certificates and analyse them into a :class:`~certdoctor.report.Inspection`."""
    from certdoctor.errors import NetworkError, UsageError
    from certdoctor.load import load_bundle, load_bundle_file
    from certdoctor.report import Inspection

    kind, name, port = parse_target(source)
    if kind in ("file", "stdin"):
        if servername:
            raise UsageError("--servername applies to hosts, not files")
        if kind == "stdin":
            import sys

            from certdoctor.load import MAX_INPUT_BYTES

            loaded = load_bundle(sys.stdin.buffer.read(MAX_INPUT_BYTES + 1), password=password, source="<stdin>")
        else:
            loaded = load_bundle_file(name, password=password)
        return Inspection.of(loaded.certificates, kind="file", name=loaded.source, format=loaded.format,
                             private_key=loaded.private_key, notes=loaded.notes)
    if password is not None:
        raise UsageError("--password applies to PKCS#12 files, not hosts")
    try:
        from certdoctor.probe import fetch_chain
    except ImportError as exc:  # pragma: no cover - only while probe is being written
        raise NetworkError(f"{name}:{port}: cannot connect: certdoctor.probe is not available ({exc})") from None
    certs = fetch_chain(name, port, servername=servername, timeout=timeout)
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
@click.option("--resolve", "resolve", multiple=True, metavar="HOST:ADDR",
              help="Resolve HOST (or *.suffix) to ADDR in this process, like curl --resolve.")
@json_option
def command(source, password, servername, timeout, resolve, as_json):
    """Show every certificate of SOURCE and how they chain.

    SOURCE is a file (PEM, DER, PKCS#7, PKCS#12; - for stdin), host[:port] or an https:// URL.
    The server's chain is shown as presented, also when it does not verify.
    """
    import warnings

    from cryptography.utils import CryptographyDeprecationWarning

    from certdoctor.report import inspection_json, render_inspection

    warnings.filterwarnings("ignore", category=CryptographyDeprecationWarning)
    from certdoctor.cli.diagnose import install_resolve

    install_resolve(resolve)
    insp = inspect_source(source, password=password, servername=servername, timeout=timeout)
    if as_json:
        emit_json(inspection_json(insp))
    else:
        render_inspection(insp, console())
    return 0
