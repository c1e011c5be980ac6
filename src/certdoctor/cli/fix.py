"""``certdoctor fix TARGET --out DIR``: write the bundle or chain that fixes it, and prove it.

Exit codes: 0 the fix is proven with the real client (or nothing needed fixing); 1 no fix was
possible on the client, the user must confirm a fingerprint, or the proof failed; 2 bad usage.
"""

from __future__ import annotations

import click

from certdoctor.cli.diagnose import client_options
from certdoctor.cli.options import (Fingerprint, InputFile, canary_option, connection_options, json_option,
                                    password_option)


@click.command("fix")
@click.argument("target")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Directory to write into.")
@click.option("--trust", "trust", multiple=True, metavar="SHA256", type=Fingerprint(),
              help="Fingerprint of the root (or self-signed certificate) you confirmed with its owner.")
@click.option("--intermediate", "intermediates", multiple=True, type=InputFile(exists=True),
              metavar="FILE", help="An intermediate you obtained (from the CA, or a browser's export) that the "
                                   "server does not send; PEM, DER or PKCS#7 (repeatable; - for stdin).")
@connection_options
@client_options
@password_option
@canary_option
@json_option
def command(target, out_dir, trust, intermediates, timeout, proxy, servername, resolve, ca_file, client, python,
            password, canaries, as_json):
    """Build the fix for TARGET under DIR and prove it with the real requests (and httpx; with
    --client pip, the real pip too). --servername is sent and checked by every proof.

    --ca-file is the bundle the client trusts today (like verify=FILE).
    """
    from certdoctor.cli.common import endpoint, install_resolve
    from certdoctor.trust.ca_file import check_ca_file
    from certdoctor.remedies.fix import check_out_dir, fix

    endpoint(target, "fix")
    check_ca_file(ca_file, directory=True)
    check_out_dir(out_dir)  # empty, -, a file or under a file: error: + hint before any connection
    install_resolve(resolve)
    r = fix(target, out_dir, trust_fingerprints=trust, intermediates=intermediates, password=password, client=client, ca_file=ca_file, python=python,
            proxy=proxy, servername=servername, timeout=timeout, canaries=canaries or None)
    if as_json:
        from certdoctor.render.fix import fix_json
        from certdoctor.render.json import emit

        emit(fix_json(r, target))
    else:
        from certdoctor.cli.common import console
        from certdoctor.render.fix import render_fix

        render_fix(r, console())
    return r.exit_code
