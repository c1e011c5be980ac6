"""``certdoctor bundle``: build a CA bundle (a base store plus your CAs), or audit one (``--check``).

    certdoctor bundle --add corp-root.pem --out ca-bundle.pem           # certifi + corp root
    certdoctor bundle --add a.pem b.pem --base system --out ca.pem      # the OS bundle + two CAs
    certdoctor bundle --check ca-bundle.pem                             # audit an existing bundle

Exit codes when building: 0 written; 1 written, but a certificate you added was left out
(expired or not yet valid: see the warnings); 2 bad usage or input, nothing written (this
includes adding a certificate that is not a CA without ``--allow-leaf``).
Exit codes with ``--check``: 0 clean (notes only), 1 a defect at warning or error level,
2 the file cannot be read.
"""

from __future__ import annotations

import click

from certdoctor.cli.common import Exit
from certdoctor.cli.options import json_option, password_option

#: what --add and --check read
KINDS = ("file", "stdin")


@click.command("bundle")
@click.argument("files", nargs=-1, metavar="[FILE]...")
@click.option("--add", "adds", multiple=True, metavar="FILE",
              help="A certificate file to add (PEM, DER, PKCS#7; - for stdin); repeatable. Extra FILE arguments "
                   "are added too.")
@click.option("--base", default="certifi", show_default=True, metavar="certifi|system|none|FILE",
              help="What the bundle starts from: certifi's roots, the OS bundle, a PEM file (- for stdin) that "
                   "must hold CA certificates, or none (only what you add: no public root).")
@click.option("--out", "out", metavar="FILE",
              help="Where to write the bundle (atomically, mode 0644; a symlink is written through; - for stdout).")
@click.option("--allow-leaf", is_flag=True, help="Also accept certificates that are not CAs (a self-signed server).")
@click.option("--check", "check", metavar="FILE", help="Audit this bundle (- for stdin) instead of building one.")
@password_option
@json_option
def command(files, adds, base, out, allow_leaf, check, password, as_json):
    """Build a CA bundle (certifi plus your CAs), or audit one with --check.

    A bundle given as verify= / REQUESTS_CA_BUNDLE / SSL_CERT_FILE replaces the default store,
    so it must hold the public roots as well as yours: that is what this writes.
    """
    from certdoctor.errors import UsageError

    if check is not None:
        if adds or files or out or allow_leaf or base != "certifi":
            raise UsageError("--check takes only a FILE (and --json)",
                             "Audit with `certdoctor bundle --check FILE`; build with --add FILE --out FILE.")
        return _check(check, as_json, password)
    items = [*adds, *files]
    if not out:
        raise UsageError("--out FILE is required to build a bundle",
                         "certdoctor bundle --add corp-root.pem --out ca-bundle.pem  (or --check FILE to audit one)")
    if not items and base == "certifi":
        raise UsageError("nothing to add: give --add FILE",
                         "certdoctor bundle --add corp-root.pem --out ca-bundle.pem")
    return _build(items, base, out, allow_leaf, as_json, password)


def _build(items: list[str], base: str, out: str, allow_leaf: bool, as_json: bool,
           password: str | None = None) -> int:
    from certdoctor.cli.common import classify
    from certdoctor.x509.load import read_bytes
    from certdoctor.errors import InputError, UsageError
    from certdoctor.remedies.bundle import build_bundle, save_bundle

    from certdoctor.fsutil import check_output, is_stdout, resolve_output

    sources = [classify(item, KINDS) for item in items]  # the one rule set: a missing file is an error here
    base_source = classify(base, KINDS) if base not in ("certifi", "system", "none") and base == "-" else None
    if sum(s.kind == "stdin" for s in sources) + (base_source is not None) > 1:
        raise UsageError("standard input (-) can be read once", "Give the other certificates as files.")
    to_stdout = is_stdout(out)
    if to_stdout and as_json:
        raise UsageError("--json and --out - would both write to standard output",
                         "Write the bundle to a file (--out FILE), or drop --json.")
    if not to_stdout:
        check_output(out, "--out")  # a bad --out is said before any work (and no directory made for nothing)
    result = build_bundle([read_bytes(s) if s.kind == "stdin" else s.input for s in sources],
                          base=read_bytes(base_source) if base_source is not None else base,
                          allow_leaf=allow_leaf, password=password)
    not_ca = [d for d in result.refused() if d.reason == "not-ca"]
    if not_ca:
        names = "; ".join(f"{d.subject} ({d.source})" for d in not_ca)
        raise InputError(
            f"refused, not a CA certificate: {names}",
            "A bundle should hold the CA that issued a server certificate, not the certificate itself. "
            "Add the issuing CA; or, to trust exactly that certificate (a self-signed server), use --allow-leaf.",
        )
    if not result.entries:  # save_bundle's refusal, said before a directory is made for nothing
        raise InputError(f"the bundle for {out} would hold no certificate",
                         "Add a CA certificate, or use --base certifi / system.")
    if not to_stdout:
        resolve_output(out, "--out", parents=True)  # now the missing directories are made
    result = save_bundle(result, out)
    code = Exit.PROBLEM if result.refused() else Exit.OK
    if as_json:
        from certdoctor.render.bundle import build_json
        from certdoctor.render.json import emit

        emit(build_json(result, code))
    else:
        import contextlib
        import sys

        from certdoctor.render.bundle import render_build

        # with --out - the bundle is on stdout: the report goes to stderr
        with contextlib.redirect_stdout(sys.stderr) if to_stdout else contextlib.nullcontext():
            render_build(result)
    return code


def _check(path: str, as_json: bool, password: str | None = None) -> int:
    from certdoctor.cli.common import classify
    from certdoctor.x509.load import read_bytes
    from certdoctor.remedies.bundle import check_bundle

    source = classify(path, KINDS)
    data = read_bytes(source) if source.kind == "stdin" else None
    if password is not None:  # a password-protected PKCS#12: audit the certificates it holds, as PEM
        from cryptography.hazmat.primitives.serialization import Encoding

        from certdoctor.x509.load import load_certificates

        raw = data if data is not None else read_bytes(source)
        if b"-----BEGIN" not in raw:
            certs = load_certificates(raw, source=path, password=password)
            data = b"".join(c.public_bytes(Encoding.PEM) for c in certs)
    audit = check_bundle(data if data is not None else source.input)
    if as_json:
        from certdoctor.remedies.bundle import parse_pem_bundle
        from certdoctor.render.bundle import check_json
        from certdoctor.render.json import emit, target_json

        certs, _ = parse_pem_bundle(data if data is not None else read_bytes(source))
        emit(check_json(audit, target_json(source), certs))
    else:
        from certdoctor.render.bundle import render_check

        render_check(audit)
    return audit.exit_code
