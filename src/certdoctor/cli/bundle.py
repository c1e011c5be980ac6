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

from certdoctor.cli.common import Exit, json_option


@click.command("bundle")
@click.argument("files", nargs=-1, metavar="[FILE]...")
@click.option("--add", "adds", multiple=True, metavar="FILE",
              help="A certificate file to add (PEM, DER, PKCS#7); repeatable. Extra FILE arguments are added too.")
@click.option("--base", default="certifi", show_default=True, metavar="certifi|system|none|FILE",
              help="What the bundle starts from: certifi's roots, the OS bundle, nothing, or a PEM file.")
@click.option("--out", "out", metavar="FILE", help="Where to write the bundle (atomically, mode 0644).")
@click.option("--allow-leaf", is_flag=True, help="Also accept certificates that are not CAs (a self-signed server).")
@click.option("--check", "check", metavar="FILE", help="Audit this bundle instead of building one.")
@json_option
def command(files, adds, base, out, allow_leaf, check, as_json):
    """Build a CA bundle (certifi plus your CAs), or audit one with --check.

    A bundle given as verify= / REQUESTS_CA_BUNDLE / SSL_CERT_FILE replaces the default store,
    so it must hold the public roots as well as yours: that is what this writes.
    """
    from certdoctor.errors import UsageError

    if check is not None:
        if adds or files or out or allow_leaf or base != "certifi":
            raise UsageError("--check takes only a FILE (and --json)",
                             "Audit with `certdoctor bundle --check FILE`; build with --add FILE --out FILE.")
        return _check(check, as_json)
    items = [*adds, *files]
    if not out:
        raise UsageError("--out FILE is required to build a bundle",
                         "certdoctor bundle --add corp-root.pem --out ca-bundle.pem  (or --check FILE to audit one)")
    if not items and base == "certifi":
        raise UsageError("nothing to add: give --add FILE",
                         "certdoctor bundle --add corp-root.pem --out ca-bundle.pem")
    return _build(items, base, out, allow_leaf, as_json)


def _build(items: list[str], base: str, out: str, allow_leaf: bool, as_json: bool) -> int:
    from certdoctor.remedies.bundle import build_bundle, save_bundle
    from certdoctor.errors import InputError

    result = build_bundle(items, base=base, allow_leaf=allow_leaf)
    not_ca = [d for d in result.refused() if d.reason == "not-ca"]
    if not_ca:
        names = "; ".join(f"{d.subject} ({d.source})" for d in not_ca)
        raise InputError(
            f"refused, not a CA certificate: {names}",
            "A bundle should hold the CA that issued a server certificate, not the certificate itself. "
            "Add the issuing CA; or, to trust exactly that certificate (a self-signed server), use --allow-leaf.",
        )
    result = save_bundle(result, out)
    code = Exit.PROBLEM if result.refused() else Exit.OK
    added = [e for e in result.entries if e.source.startswith("added")]
    if as_json:
        from certdoctor.cli.common import emit_json

        emit_json({
            "out": result.path,
            "sha256": result.sha256,
            "base": result.base,
            "base_path": result.base_path,
            "certificates": len(result.entries),
            "added": added,
            "dropped": result.dropped,
            "warnings": result.warnings,
            "entries": result.entries,
            "exit_code": int(code),
        })
        return code
    for w in result.warnings:
        click.echo(f"warning: {w}", err=True)
    click.echo(f"Wrote {result.path}: {len(result.entries)} certificates "
               f"({len(result.entries) - len(added)} from {result.base}, {len(added)} added).")
    for e in added:
        click.echo(f"  + {e.subject}")
        click.echo(f"    SHA-256 {e.fingerprint_sha256}, not after {e.not_after:%Y-%m-%d}, {e.source}")
    for d in result.dropped:
        if d.added and d.reason == "duplicate":
            click.echo(f"  = {d.subject} ({d.source}) {d.detail}: kept once")
    p = result.path
    click.echo("Use it (it replaces the default store, and already holds the public roots):")
    click.echo(f"  requests:             requests.get(url, verify={p!r})  or  export REQUESTS_CA_BUNDLE={p}")
    click.echo(f"  httpx/urllib/aiohttp: ssl.create_default_context(cafile={p!r})  or  export SSL_CERT_FILE={p}")
    click.echo(f"  pip:                  export PIP_CERT={p}  (REQUESTS_CA_BUNDLE, if set, must be the same file)")
    click.echo("  Rebuild it after upgrading certifi; never edit certifi's own cacert.pem.")
    return code


def _check(path: str, as_json: bool) -> int:
    from certdoctor.remedies.bundle import check_bundle

    audit = check_bundle(path)
    if as_json:
        from certdoctor.cli.common import emit_json

        emit_json({
            "file": audit.source,
            "blocks": audit.blocks,
            "certificates": audit.certificates,
            "certifi_version": audit.certifi_version,
            "worst": audit.worst,
            "findings": audit.findings,
            "exit_code": audit.exit_code,
        })
        return audit.exit_code
    cver = f"certifi {audit.certifi_version}" if audit.certifi_version else "certifi"
    click.echo(f"{audit.source}: {audit.blocks} PEM blocks, {audit.certificates} certificates "
               f"(compared with {cver}, the one installed here)")
    colours = {"error": "red", "warning": "yellow", "info": "blue"}
    for f in audit.findings:
        sev = f.severity.value
        click.echo(f"{click.style(f'{sev:<7}', fg=colours[sev])} {f.code.value}: {f.summary}")
        if f.explanation and sev != "info":
            click.echo(f"        {f.explanation}")
        if f.fix and sev != "info":
            click.echo(f"        fix: {f.fix}")
    counts = {s: sum(1 for f in audit.findings if f.severity.value == s) for s in ("error", "warning", "info")}
    if not audit.findings:
        click.echo("No problems found.")
    else:
        click.echo(f"{counts['error']} errors, {counts['warning']} warnings, {counts['info']} notes.")
    return audit.exit_code
