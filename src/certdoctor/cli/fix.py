"""``certdoctor fix TARGET --out DIR``: write the bundle or chain that fixes it, and prove it.

Exit codes: 0 the fix is proven with the real client (or nothing needed fixing); 1 no fix was
possible on the client, the user must confirm a fingerprint, or the proof failed; 2 bad usage.
"""

from __future__ import annotations

import click

from certdoctor.cli.common import console, json_option
from certdoctor.cli.diagnose import connection_options, install_resolve


@click.command("fix")
@click.argument("target")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Directory to write into.")
@click.option("--trust", "trust", multiple=True, metavar="SHA256",
              help="Fingerprint of the root (or self-signed certificate) you confirmed with its owner.")
@connection_options
@json_option
def command(target, out_dir, trust, ca_file, client, python, proxy, servername, timeout, resolve, as_json):
    """Build the fix for TARGET under DIR and prove it with the real requests (and httpx)."""
    from pathlib import Path

    from certdoctor.errors import InputError
    from certdoctor.remedies.fix import check_out_dir, fix

    if ca_file is not None and not Path(ca_file).is_file():
        raise InputError(f"--ca-file {ca_file}: no such file", "Give the path of a PEM bundle.")
    check_out_dir(out_dir)
    install_resolve(resolve)
    r = fix(target, out_dir, trust_fingerprints=trust, client=client, ca_file=ca_file, python=python,
            proxy=proxy, servername=servername, timeout=timeout)
    d = r.diagnosis
    if as_json:
        from certdoctor.cli.common import emit_json

        emit_json({
            "target": d.target.url,
            "findings": [f.code.value for f in d.findings],
            "written": [{"kind": k, "path": p} for k, p in r.written],
            "bundle": r.bundle,
            "full_chain": r.full_chain,
            "proofs": r.proofs,
            "proven": r.proven,
            "needs_trust": r.needs_trust,
            "statements": r.statements,
            "usage": r.usage,
        })
        return r.exit_code
    from rich.markup import escape

    c = console()
    codes = ", ".join(f.code.value for f in d.findings) or "none"
    c.print(f"[bold]certdoctor fix[/] {escape(d.target.url)}  [dim]findings: {codes}[/]")
    for kind, path in r.written:
        c.print(f"  wrote [bold]{escape(path)}[/] [dim]({kind.replace('_', ' ')})[/]")
    # commands and paths must survive copy-paste: let the terminal wrap, never insert newlines
    for s in r.statements:
        c.print(escape(s), soft_wrap=True)
    for p in r.proofs:
        mark = "[green]✓[/]" if p.ok else "[red]✗[/]"
        c.print(f"  {mark} proof: real {p.client} against {escape(d.target.url)} with the bundle: "
                + ("OK" if p.ok else escape(p.error or "failed")))
    if r.bundle and r.proven:
        c.print("[bold green]Fix proven.[/] Use it like this:")
        for line in r.usage:
            c.print(f"  {escape(line)}", soft_wrap=True)
    elif r.bundle:
        c.print("[bold red]The bundle does NOT make the client succeed; it is not a fix.[/]")
    return r.exit_code
