"""Renderers for a :class:`~certdoctor.remedies.fix.FixResult`: the JSON document and rich text.

Commands, paths and fingerprints are printed with soft wrap: they survive copy-paste.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

    from certdoctor.remedies.fix import FixResult


def fix_json(r: "FixResult", input: str | None = None) -> dict[str, Any]:
    """``certdoctor fix --json``: the envelope (the diagnosis' findings and presented chain) plus
    what was written and proven."""
    from certdoctor.render.diagnose import target_of
    from certdoctor.render.json import chain_certificates, envelope, fields

    d = r.diagnosis
    return envelope(
        "fix", target=target_of(d, input), exit_code=r.exit_code, findings=d.findings,
        certificates=chain_certificates(d.chain),
        written=[{"kind": k, "path": p} for k, p in r.written],
        **fields(r, "bundle", "full_chain", "proofs", "proven", "needs_trust", "statements", "usage",
                 "base_fallback"),
    )


def render_fix(r: "FixResult", console: "Console") -> None:
    from certdoctor.render.text import markup as escape  # sanitised (render/text.py), then markup-escaped

    d = r.diagnosis
    c = console
    codes = escape(", ".join(f.code.value for f in d.findings) or "none")
    c.print(f"[bold]certdoctor fix[/] {escape(d.target.url)}  [dim]findings: {codes}[/]")
    for kind, path in r.written:
        c.print(f"  wrote [bold]{escape(path)}[/] [dim]({escape(kind.replace('_', ' '))})[/]")
    # commands and paths must survive copy-paste: let the terminal wrap, never insert newlines
    for s in r.statements:
        c.print(escape(s), soft_wrap=True)
    for p in r.proofs:
        mark = "[green]✓[/]" if p.ok else "[red]✗[/]"
        how = " (pip download --cert BUNDLE, the target as its index)" if p.client == "pip" else ""
        answered = f" (TLS verified, the server answered HTTP {p.status})" if p.ok and p.status else ""
        c.print(f"  {mark} proof: real {escape(p.client)}{how} against {escape(d.target.url)} with the bundle: "
                + (f"OK{answered}" if p.ok else escape(p.error or "failed")))
    if r.bundle and r.proven:
        c.print("[bold green]Fix proven.[/] Use it like this:")
        for line in r.usage:
            c.print(f"  {escape(line)}", soft_wrap=True)
    elif r.bundle:
        c.print("[bold red]The bundle does NOT make the client succeed; it is not a fix.[/]")


__all__ = ["fix_json", "render_fix"]
