"""``certdoctor inspect SOURCE``: the certificates of a file, or the chain a server presents.

SOURCE is a file (PEM, DER, PKCS#7, PKCS#12; ``-`` for stdin), ``host[:port]`` or an
``https://`` URL, told apart by :func:`certdoctor.net.target.classify` (an existing path is always
a file). Exit codes: 0 shown, 1 the server could not be reached, 2 bad input.
"""

from __future__ import annotations

import click

from certdoctor.cli.options import connection_options, json_option

#: what ``inspect`` reads
KINDS = ("file", "stdin", "endpoint")


def inspect_source(source, *, password: str | None = None, servername: str | None = None,
                   timeout: float = 10.0, proxy: str | None = None, ca_file: str | None = None):
    """Load or fetch SOURCE's certificates and analyse them into a :class:`~certdoctor.render.inspect.Inspection`.

    ``source`` is text (classified here) or a :class:`~certdoctor.net.target.Source`. A host is
    reached through ``proxy`` (an ``http://`` CONNECT proxy), else through the one
    ``HTTPS_PROXY``/``ALL_PROXY``/``NO_PROXY`` name for it, as requests would. ``ca_file``: also
    say whether the leaf's path reaches one of its CAs.
    """
    from certdoctor.cli.common import ca_file_certificates, classify, read_source
    from certdoctor.errors import NetworkError, UsageError
    from certdoctor.render.inspect import Inspection

    if isinstance(source, str):
        source = classify(source, KINDS, servername)
    ca_certs = ca_file_certificates(ca_file)
    if not source.is_endpoint:
        if servername:
            raise UsageError("--servername applies to hosts, not files",
                             "Drop --servername, or give host[:port] or an https:// URL.")
        loaded = read_source(source, password=password)
        return Inspection.of(loaded.certificates, kind="file", name=loaded.source, format=loaded.format,
                             private_key=loaded.private_key, notes=loaded.notes, ca_certs=ca_certs,
                             ca_file=ca_file)
    if password is not None:
        raise UsageError("--password applies to PKCS#12 files, not hosts")
    from certdoctor.net.probe import fetch_chain
    from certdoctor.net.proxy import proxy_for_host

    t = source.target
    proxy = proxy_for_host(t.host, t.port, proxy)
    certs = fetch_chain(t.host, t.port, servername=servername, timeout=timeout, proxy=proxy)
    if not certs:
        raise NetworkError(f"{source.label}: the server presented no certificate")
    return Inspection.of(certs, kind="host", name=source.label, format="tls", host=t.host, port=t.port,
                         servername=servername or t.host, ca_certs=ca_certs, ca_file=ca_file)


@click.command("inspect")
@click.argument("source")
@click.option("--password", envvar="CERTDOCTOR_PASSWORD", help="PKCS#12 password (or set CERTDOCTOR_PASSWORD).")
@connection_options
@json_option
def command(source, password, timeout, proxy, servername, resolve, ca_file, as_json):
    """Show every certificate of SOURCE and how they chain.

    SOURCE is a file (PEM, DER, PKCS#7, PKCS#12; - for stdin), host[:port] or an https:// URL.
    The server's chain is shown as presented, also when it does not verify. With --ca-file,
    also whether the leaf's path reaches one of its CAs.
    """
    import warnings

    from cryptography.utils import CryptographyDeprecationWarning

    from certdoctor.cli.common import classify, install_resolve

    warnings.filterwarnings("ignore", category=CryptographyDeprecationWarning)
    src = classify(source, KINDS, servername)
    install_resolve(resolve)
    insp = inspect_source(src, password=password, servername=servername, timeout=timeout, proxy=proxy,
                          ca_file=ca_file)
    if as_json:
        from certdoctor.render.inspect import inspection_json
        from certdoctor.render.json import emit, target_json

        emit(inspection_json(insp, target_json(src)))
    else:
        from certdoctor.cli.common import console
        from certdoctor.render.inspect import render_inspection

        render_inspection(insp, console())
    return 0
