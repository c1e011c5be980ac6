"""``certdoctor convert IN [OUT]``: PEM, DER, PKCS#7 (and PKCS#12 input) to PEM, DER or PKCS#7.

Exit codes: 0 written, 2 bad input or options (nothing half-written).
"""

from __future__ import annotations

import click

from certdoctor.cli.common import console, emit_json, json_option

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
@click.option("--key-out", type=click.Path(dir_okay=False), metavar="PATH",
              help="Where --with-key writes the key (default: OUT with suffix .key).")
@click.option("--password", envvar="CERTDOCTOR_PASSWORD", help="PKCS#12 password (or set CERTDOCTOR_PASSWORD).")
@json_option
def command(src, out, to, order, split_dir, with_key, key_out, password, as_json):
    """Convert the certificates of IN (PEM, DER, PKCS#7, PKCS#12; - for stdin) into OUT.

    \b
    certdoctor convert site.p7b chain.pem --order
    certdoctor convert id.p12 id.pem --with-key --password …   # also id.key, mode 0600
    certdoctor convert bundle.pem --split certs/
    """
    import warnings

    from cryptography.utils import CryptographyDeprecationWarning

    from certdoctor.x509.convert import convert, convert_loaded, format_for_path

    warnings.filterwarnings("ignore", category=CryptographyDeprecationWarning)
    if src == "-":
        import sys

        from certdoctor.errors import UsageError
        from certdoctor.x509.load import MAX_INPUT_BYTES, load_bundle

        if out is None and split_dir is None:
            raise UsageError("nothing to write: give OUT, --split DIR, or both")
        if key_out is not None and not with_key:
            raise UsageError("--key-out needs --with-key", "Add --with-key to write the private key.")
        fmt = to or format_for_path(out)
        loaded = load_bundle(sys.stdin.buffer.read(MAX_INPUT_BYTES + 1), password=password, source="<stdin>")
        result = convert_loaded(loaded, out, fmt=fmt, order=order, split_dir=split_dir, with_key=with_key,
                                key_out=key_out)
    else:
        result = convert(src, out, to=to, order=order, split_dir=split_dir, with_key=with_key, key_out=key_out,
                         password=password)
    if as_json:
        emit_json(result_json(result))
    else:
        render_result(result)
    return 0


def result_json(result) -> dict:
    return {
        "input": {"source": result.source, "format": result.input_format, "count": result.input_count},
        "output_format": result.output_format,
        "written": [
            {"path": str(w.path), "kind": w.kind, "format": w.format, "count": w.count, "mode": f"{w.mode:04o}"}
            for w in result.written
        ],
        "ordered": result.ordered,
        "order": list(result.order),
        "off_path": list(result.off_path),
        "key_written": result.key_written,
        "key_skipped": result.key_skipped,
        "notes": list(result.notes),
    }


_WORDS = {"pem": "PEM", "der": "DER", "p7b": "PKCS#7 (DER)", "p7b-pem": "PKCS#7 (PEM)"}


def render_result(result) -> None:
    out = console()
    for w in result.written:
        if w.kind == "private-key":
            out.print(f"wrote [bold]{w.path}[/bold]: private key (PEM, unencrypted), mode {w.mode:04o}", soft_wrap=True)
        else:
            n = f"{w.count} certificate{'s' if w.count != 1 else ''}"
            out.print(f"wrote [bold]{w.path}[/bold]: {_WORDS.get(w.format, w.format)}, {n}", soft_wrap=True)
    if result.ordered:
        order = " ".join(str(i) for i in result.order)
        out.print(f"order: input certificates [{order}] (leaf first)", soft_wrap=True)
    for note in result.notes:
        out.print(f"note: {note}", style="yellow", markup=False, soft_wrap=True)
