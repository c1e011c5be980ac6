"""Renderers for a :class:`~certdoctor.diagnose.Diagnosis`: a JSON-ready dict and rich text.

The text reads top-down like an engineer's explanation: the verdict and the client's own error,
the store it used and why, the chain as a tree with each certificate's status, then each finding
with its evidence, who must act and the fix.
"""

from __future__ import annotations


from typing import TYPE_CHECKING, Any

from certdoctor import policy
from certdoctor.model import Severity, to_jsonable

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

    from certdoctor.diagnose import Diagnosis

WHO = {
    "server-operator": "the server's operator",
    "client-user": "you (the client's user)",
    "network-admin": "your network/IT team (the proxy's owner)",
    "nobody": "nobody in particular",
}
STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


def diagnosis_json(d: "Diagnosis", input: str | None = None) -> dict[str, Any]:
    """``certdoctor diagnose --json``: the envelope (:mod:`certdoctor.render.json`; the
    certificates are the chain as presented, the findings' ``cert_index`` points into it) plus
    everything else a script needs. ``input`` is the target as typed (default: its URL)."""
    from certdoctor.render.json import chain_certificates, envelope

    return envelope("diagnose", target=target_of(d, input), exit_code=d.exit_code, findings=d.findings,
                    certificates=chain_certificates(d.chain), **diagnosis_keys(d))


def target_of(d: "Diagnosis", input: str | None = None) -> dict[str, Any]:
    """The ``target`` object of a diagnosis (an endpoint)."""
    from certdoctor.render.json import make_target

    return make_target(input if input is not None else d.target.url, "endpoint", endpoint=d.target)


def diagnosis_keys(d: "Diagnosis") -> dict[str, Any]:
    """The diagnose-specific keys: client, python, verdict, trust, connection, chain, path,
    client_outcome (``chain.certs`` repeats ``certificates`` in schema 1's form)."""
    t = d.trust
    p = d.probe
    return {
        "client": d.client,
        "python": d.python,
        "verdict": {
            "client_verifies": d.verifies,
            "ok": d.ok,
            "exit_code": d.exit_code,
            "primary": d.primary.code.value if d.primary else None,
        },
        "trust": {
            "client": t.client,
            "cafile": t.cafile,
            "capath": t.capath,
            "uses_os_store": t.uses_os_store,
            "source": t.source,
            "reasons": list(t.reasons),
            "env": {k: v for k, v in t.env},
            "certifi_path": t.certifi_path,
            "certifi_version": t.certifi_version,
        },
        "connection": {
            "host": p.host,
            "port": p.port,
            "servername": p.servername,
            "address": p.address,
            "tls_version": p.tls_version,
            "cipher": p.cipher,
            "alpn": p.alpn,
            "ocsp_stapled": p.ocsp_staple is not None,
            "failure": to_jsonable(p.failure) if p.failure else None,
        },
        "chain": to_jsonable(d.chain) if d.chain else None,
        "path": None if d.path is None else {
            "trusted": d.path.trusted,
            "certs": [c.subject for c in d.path.path],
            "anchor": d.path.anchor.subject if d.path.anchor else None,
            "partial": d.path.partial,
            "fetched": [to_jsonable(c) for c in d.path.fetched],
            "aia_attempts": to_jsonable(d.path.aia_attempts),
            "rfc5280_ok": d.path.rfc5280_ok,
            "rfc5280_error": d.path.rfc5280_error,
        },
        "client_outcome": to_jsonable(d.outcome) if d.outcome else None,
    }


def _status(info) -> tuple[str, str]:
    if info.expired:
        return "red", f"EXPIRED {-info.days_left} day(s) ago"
    if info.not_yet_valid:
        return "red", f"NOT YET VALID (from {info.not_before:%Y-%m-%d})"
    days = f"valid, {info.days_left} day(s) left"
    return ("yellow" if info.days_left < policy.EXPIRING_SOON_DAYS else "green"), days


def render_diagnosis(d: "Diagnosis", console: "Console") -> None:
    from rich.tree import Tree

    from certdoctor.render.text import markup as escape  # sanitised (render/text.py), then markup-escaped

    t = d.target
    console.print(f"[bold]certdoctor diagnose[/] {escape(t.url)}  [dim](client: {d.client}, "
                  f"Python {d.python} rules)[/]")
    console.print()
    if d.verifies is True and d.ok:
        console.print(f"[bold green]✓ {d.client} verifies this server[/] and certdoctor found no error.")
    elif d.verifies is True:
        console.print(f"[bold yellow]! {d.client} connects[/], but certdoctor found a problem it does not check:")
    else:
        primary = d.primary
        headline = primary.summary if primary else "the connection failed"
        console.print(f"[bold red]✗ {d.client} fails:[/] {escape(headline)}")
    if d.outcome and d.outcome.error:
        console.print(f"  [dim]{d.client} says:[/] {escape(d.outcome.error[:600])}")
    elif d.outcome and d.outcome.not_run:
        console.print(f"  [dim]{d.client} was not run:[/] {escape(d.outcome.not_run)} (the server was sent no request)")
    console.print()

    tr = d.trust
    where = tr.cafile or tr.capath or ("the OS trust store (truststore)" if tr.uses_os_store else "?")
    console.print(f"[bold]Trust store[/] {escape(str(where))}  [dim]— {escape(tr.source)}[/]")
    for reason in tr.reasons:
        console.print(f"  [dim]• {escape(reason)}[/]")
    if tr.certifi_version:
        console.print(f"  [dim]• certifi {tr.certifi_version} at {escape(str(tr.certifi_path))}[/]")
    console.print()

    p = d.probe
    if d.chain is not None:
        head = (f"[bold]Chain as presented[/] ({len(d.chain.certs)} certificate(s)"
                + (f", {escape(p.tls_version)}" if p.tls_version else "") + (f", {escape(p.cipher)}" if p.cipher else "") + ")")
        tree = Tree(head)
        node = tree
        on_path = list(d.chain.path)
        for idx in on_path:
            info = d.chain.certs[idx]
            colour, text = _status(info)
            label = (f"[{colour}]●[/] [bold]{escape(info.display_name)}[/] [dim]#{idx}[/] — [{colour}]{text}[/]"
                     f"  [dim]{escape(info.key_type)} {info.key_size or ''}, {escape(info.signature_algorithm)}[/]")
            node = node.add(label)
        if d.path is not None:
            extra = d.path.path[len(on_path):]
            for info in extra:
                fetched = info.fingerprint_sha256 in {x.fingerprint_sha256 for x in d.path.fetched}
                is_anchor = d.path.anchor is not None and info.fingerprint_sha256 == d.path.anchor.fingerprint_sha256
                tag = ("[magenta]NOT SENT — downloaded via AIA[/]" if fetched
                       else "[green]in your trust store[/]" if is_anchor else "")
                node = node.add(f"[bold]{escape(info.display_name)}[/] {tag}")
            if d.path.anchor is None:
                from certdoctor.model import Code
                from certdoctor.trust.effective import STORE_UNUSABLE_RULES

                unusable = any(f.code is Code.CA_BUNDLE_ENV and f.severity is Severity.ERROR
                               and f.rule in STORE_UNUSABLE_RULES for f in d.findings)
                missing = d.path.missing_issuer or (d.path.top.issuer if d.path.top else "?")
                if unusable:  # nothing was judged against it: the finding above says why it cannot load
                    node.add("[red]✗ your trust store could not be used (see the store finding), so no root was "
                             "looked up in it[/]")
                elif d.path.top is not None and d.path.top.self_signed:
                    node.add("[red]✗ this root is not in your trust store[/]")
                else:
                    aki = d.path.top.aki if d.path.top is not None else None
                    node.add(f"[red]✗ issuer {escape(missing)}" + (f" (AKI {escape(aki)})" if aki else "")
                             + " — not sent, not in your store[/]")
                    for refused in d.path.not_ca:
                        node.add(f"[red]✗ {escape(refused.display_name)} signed it but is not a CA: refused[/]")
        for idx in d.chain.off_path:
            info = d.chain.certs[idx]
            tree.add(f"[yellow]extra, not on the path:[/] {escape(info.display_name)} [dim]#{idx}[/]")
        console.print(tree)
        console.print()

    if not d.findings:
        console.print("[green]No findings.[/]")
        return
    console.print("[bold]Findings[/]")
    for f in sorted(d.findings, key=lambda x: -x.severity.rank):
        style = STYLE[f.severity]
        console.print(f"[{style}]{f.severity.value.upper():7}[/] [bold]{f.code.value}[/] — {escape(f.summary)}")
        if f.explanation:
            console.print(f"  {escape(f.explanation)}", soft_wrap=False)
        # evidence and fixes hold commands, paths and fingerprints: soft wrap keeps them whole
        for ev in f.evidence:
            console.print(f"  [dim]evidence:[/] {escape(ev)}", soft_wrap=True)
        console.print(f"  [dim]who must act:[/] {WHO.get(f.who.value, f.who.value)}")
        if f.fix:
            console.print(f"  [bold]fix:[/] {escape(f.fix)}", soft_wrap=True)
        console.print()
