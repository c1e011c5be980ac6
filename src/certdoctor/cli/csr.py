"""``certdoctor csr --name NAME… [--ip ADDR…] --out-key KEY --out-csr CSR``: a key and a CSR a CA
accepts and clients trust (every name in subjectAltName).

``--key FILE`` reuses an existing key instead of making one (RSA under 2048 bits, other curves
and Ed25519 are refused: no ACME CA signs them); ``--key-type`` chooses the new key
(ec256, the default, ec384, rsa2048, rsa3072, rsa4096). The new key is written 0600 from
creation and never over an existing file; the CSR is written atomically (``-``: standard output).
The commonName repeats the first name (if it fits 64 characters), ``--common-name`` picks another
of the names, ``--no-common-name`` leaves it out. Everything is checked before anything is written.

Exit codes: 0 written; 2 bad usage or input (nothing written).
"""

from __future__ import annotations

import click

from certdoctor.cli.common import Exit
from certdoctor.cli.options import json_option

KEY_TYPE_CHOICES = ("ec256", "ec384", "rsa2048", "rsa3072", "rsa4096")  # renew.keys.KEY_TYPES (kept lazy)


@click.command("csr")
@click.option("--name", "names", multiple=True, metavar="NAME",
              help="A DNS name for subjectAltName (repeat for more; *.example.com for a wildcard; IDNs are encoded).")
@click.option("--ip", "ips", multiple=True, metavar="ADDR", help="An IP address for subjectAltName (repeatable).")
@click.option("--key-type", type=click.Choice(KEY_TYPE_CHOICES), default=None,
              help="The new key's type (default ec256).")
@click.option("--key", "key_file", default=None, metavar="FILE",
              help="Reuse this private key (PEM or DER, unencrypted) instead of making a new one.")
@click.option("--common-name", default=None, metavar="NAME",
              help="The subject's commonName: one of the --name values (default: the first, if it fits 64 characters).")
@click.option("--no-common-name", is_flag=True, help="Leave the commonName out (subjectAltName holds every name).")
@click.option("--out-key", default=None, metavar="KEY", help="Write the new key here (mode 0600; never overwrites).")
@click.option("--out-csr", default=None, metavar="CSR", help="Write the CSR (PEM) here; - for standard output.")
@json_option
def command(names: tuple[str, ...], ips: tuple[str, ...], key_type: str | None, key_file: str | None,
            common_name: str | None, no_common_name: bool, out_key: str | None, out_csr: str | None,
            as_json: bool) -> int:
    """Make a private key and a CSR with every name in subjectAltName.

    certdoctor csr --name example.com --name www.example.com --out-key example.key --out-csr example.csr
    """
    from certdoctor.errors import UsageError
    from certdoctor.fsutil import check_output, is_stdout
    from certdoctor.renew.csr import make_csr, same_file, save
    from certdoctor.renew.keys import DEFAULT_KEY_TYPE, check_new_key_path, load_key

    if not names and not ips:
        raise UsageError("no names: give at least one --name (or --ip)",
                         "certdoctor csr --name example.com --name www.example.com --out-key k.pem --out-csr c.pem")
    if out_csr is None:
        raise UsageError("--out-csr is missing: where should the CSR go?", "Add --out-csr FILE (or --out-csr - for "
                         "standard output).")
    if common_name is not None and no_common_name:
        raise UsageError("--common-name and --no-common-name exclude each other", "Give one of them.")
    if key_file is not None:
        if out_key is not None:
            raise UsageError("--key and --out-key exclude each other: --key reuses a key, --out-key writes a new one",
                             "Drop --out-key to reuse the key in --key, or drop --key for a new key.")
        if key_type is not None:
            raise UsageError("--key-type applies to a new key, not to --key",
                             "Drop --key-type (the key in --key keeps its type), or drop --key for a new key.")
    elif out_key is None:
        raise UsageError("--out-key is missing: where should the new key go?",
                         "Add --out-key FILE (written 0600, never over a file), or --key FILE to reuse a key.")
    if as_json and is_stdout(out_csr):
        raise UsageError("--json and --out-csr - both write to standard output", "Give --out-csr a file name.")
    if key_file is not None and same_file(out_csr, key_file):
        raise UsageError("--out-csr is the --key file: that would overwrite the key", "Give the CSR another file name.")
    if out_key is not None:
        check_new_key_path(out_key)
        if same_file(out_csr, out_key):
            raise UsageError("--out-csr and --out-key are the same file", "Give them different names.")
    if not is_stdout(out_csr):
        check_output(out_csr, "--out-csr")
    key = load_key(key_file) if key_file is not None else None
    result = make_csr(names, ips=ips, key=key, key_type=key_type or DEFAULT_KEY_TYPE,
                      common_name=False if no_common_name else common_name)
    written = save(result, key_path=out_key, csr_path=out_csr)
    key_path = out_key if result.new_key else key_file
    if as_json:
        from certdoctor.render.csr import csr_json
        from certdoctor.render.json import emit

        emit(csr_json(result, key_path=key_path, csr_path=out_csr if is_stdout(out_csr) else str(written)))
        return Exit.OK
    from certdoctor.render.csr import render_csr

    render_csr(result, key_path=key_path, csr_path=out_csr, to_stderr=is_stdout(out_csr))
    return Exit.OK
