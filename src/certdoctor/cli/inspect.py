"""``certdoctor inspect SOURCE``: the certificates of a file, or the chain a server presents.

SOURCE is a file (PEM, DER, PKCS#7, PKCS#12; ``-`` for stdin), ``host[:port]`` or an
``https://`` URL, told apart by :func:`certdoctor.net.target.classify` (an existing path is always
a file). Exit codes: 0 shown, 1 the server could not be reached, 2 bad input.
"""

from __future__ import annotations

import click

from certdoctor.cli.options import connection_options, json_option, password_option

from certdoctor.inspect import KINDS  # noqa: F401  (what inspect reads; tests import it from here)


@click.command("inspect")
@click.argument("source")
@password_option
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
    from certdoctor.inspect import inspect_source

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
