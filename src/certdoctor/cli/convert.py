"""``certdoctor convert IN [OUT]``: PEM, DER, PKCS#7 (and PKCS#12 input) to PEM, DER or PKCS#7.

Exit codes: 0 written, 2 bad input or options (nothing half-written).
"""

from __future__ import annotations

import click

from certdoctor.cli.options import json_option, password_option

FORMAT_CHOICES = ("pem", "der", "p7b", "p7b-pem")


@click.command("convert")
@click.argument("src", metavar="IN")
@click.argument("out", metavar="[OUT]", required=False)
@click.option("--to", "to", type=click.Choice(FORMAT_CHOICES),
              help="Output format (default: from OUT's suffix: .der/.cer DER, .p7b/.p7c PKCS#7, else PEM). "
                   "p7b is binary PKCS#7, p7b-pem the BEGIN PKCS7 form.")
@click.option("--order", is_flag=True, help="Write leaf, intermediates, root; certificates off that path last.")
@click.option("--split", "split_dir", type=click.Path(file_okay=False), metavar="DIR",
              help="Also write one file per certificate into DIR (00-leaf-NAME.pem, …).")
@click.option("--with-key", is_flag=True, help="Write the PKCS#12 private key too (unencrypted, mode 0600).")
@click.option("--key-out", metavar="PATH",
              help="Where --with-key writes the key (default: OUT with suffix .key; - for stdout).")
@click.option("--force", is_flag=True, help="Replace an existing key file (without it an existing key is kept).")
@password_option
@json_option
def command(src, out, to, order, split_dir, with_key, key_out, force, password, as_json):
    """Convert the certificates of IN (PEM, DER, PKCS#7, PKCS#12; - for stdin) into OUT
    (- for stdout; a symlink is written through, a device or FIFO in place).

    \b
    certdoctor convert site.p7b chain.pem --order
    certdoctor convert id.p12 id.pem --with-key --password …   # also id.key, mode 0600
    certdoctor convert bundle.pem --split certs/
    """
    import warnings

    from cryptography.utils import CryptographyDeprecationWarning

    from certdoctor.cli.common import classify
    from certdoctor.x509.load import read_source
    from certdoctor.errors import UsageError
    from certdoctor.x509.convert import convert_loaded, format_for_path

    warnings.filterwarnings("ignore", category=CryptographyDeprecationWarning)
    if out is None and split_dir is None:
        raise UsageError("nothing to write: give OUT, --split DIR, or both")
    if key_out is not None and not with_key:
        raise UsageError("--key-out needs --with-key", "Add --with-key to write the private key.")
    from certdoctor.fsutil import is_stdout

    to_stdout = is_stdout(out) or is_stdout(key_out)
    if to_stdout and as_json:
        raise UsageError("--json and an output on standard output (-) would mix on stdout",
                         "Write OUT to a file, or drop --json.")
    fmt = to or format_for_path(None if is_stdout(out) else out)
    source = classify(src, ("file", "stdin"))
    loaded = read_source(source, password=password)
    result = convert_loaded(loaded, out, fmt=fmt, order=order, split_dir=split_dir, with_key=with_key,
                            key_out=key_out, force=force)
    if as_json:
        from certdoctor.render.convert import convert_json
        from certdoctor.render.json import emit, target_json

        emit(convert_json(result, target_json(source), loaded.certificates))
    else:
        from certdoctor.cli.common import console
        from certdoctor.render.convert import render_convert

        c = console()
        if to_stdout:
            import sys

            c.file = sys.stderr  # stdout holds the certificates: the report goes to stderr
        render_convert(result, c)
    return 0
