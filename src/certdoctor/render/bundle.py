"""Renderers for ``certdoctor bundle``: a built :class:`~certdoctor.remedies.bundle.BundleResult` and
an audit (:class:`~certdoctor.remedies.bundle.BundleAudit`), as JSON documents and text."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import click

if TYPE_CHECKING:  # pragma: no cover
    from certdoctor.remedies.bundle import BundleAudit, BundleResult

COLOURS = {"error": "red", "warning": "yellow", "info": "blue"}


def build_json(result: "BundleResult", exit_code: int) -> dict[str, Any]:
    """``certdoctor bundle --out FILE --json``: the envelope (target: the written bundle; every
    certificate it holds, in file order) plus what was added, dropped and warned about."""
    from certdoctor.render.json import certificates_of, envelope, make_target

    added = [e for e in result.entries if e.source.startswith("added")]
    return envelope(
        "bundle", target=make_target(result.path, "file", path=result.path), exit_code=exit_code,
        certificates=certificates_of([e.certificate() for e in result.entries], leaf=None),
        action="build",
        out=result.path,
        sha256=result.sha256,
        base=result.base,
        base_path=result.base_path,
        count=len(result.entries),
        added=added,
        dropped=result.dropped,
        warnings=result.warnings,
        entries=result.entries,
    )


def render_build(result: "BundleResult") -> None:
    from certdoctor.render.text import assign, echo, safe, shell

    added = [e for e in result.entries if e.source.startswith("added")]
    for w in result.warnings:
        echo(f"warning: {safe(w)}", err=True)
    echo(f"Wrote {safe(result.path)}: {len(result.entries)} certificates "
         f"({len(result.entries) - len(added)} from {safe(result.base)}, {len(added)} added).")
    for e in added:
        echo(f"  + {safe(e.subject)}")
        echo(f"    SHA-256 {e.fingerprint_sha256}, not after {e.not_after:%Y-%m-%d}, {safe(e.source)}")
    for d in result.dropped:
        if d.added and d.reason == "duplicate":
            echo(f"  = {safe(d.subject)} ({safe(d.source)}) {safe(d.detail)}: kept once")
    p = result.path
    # Python code is quoted with repr, shell commands (in `...`) with shell(): each pastes as it is
    if result.base == "none":
        echo("It holds ONLY the certificates added (--base none): a client given it trusts no public site.")
        echo("Use it (it replaces the default store):")
    elif result.base.startswith(("certifi", "system")):
        echo("Use it (it replaces the default store, and already holds the public roots):")
    else:
        echo(f"Use it (it replaces the default store; its base roots are those of {result.base}):")
    echo(f"  requests:             requests.get(url, verify={p!r})  or  "
         f"`{shell('export', assign('REQUESTS_CA_BUNDLE', p))}`")
    echo(f"  httpx/urllib/aiohttp: ssl.create_default_context(cafile={p!r})  or  "
         f"`{shell('export', assign('SSL_CERT_FILE', p))}`")
    echo(f"  pip:                  `{shell('export', assign('PIP_CERT', p))}`  "
         "(REQUESTS_CA_BUNDLE, if set, must be the same file)")
    echo("  Rebuild it after upgrading certifi; never edit certifi's own cacert.pem.")


def check_json(audit: "BundleAudit", target: dict[str, Any] | None, certs: Sequence[Any] = ()) -> dict[str, Any]:
    """``certdoctor bundle --check FILE --json``: the envelope (each finding's ``location`` names
    its PEM block and line; ``certificates`` are the parseable certificates, in file order) plus
    the counts."""
    from certdoctor.model import CertInfo
    from certdoctor.render.json import certificates_of, envelope

    readable = []
    for cert in certs:  # a block cryptography parses but cannot read is a finding, not a certificate
        try:
            CertInfo.from_certificate(cert)
        except Exception:
            continue
        readable.append(cert)
    return envelope(
        "bundle", target=target, exit_code=audit.exit_code, findings=audit.findings,
        certificates=certificates_of(readable, leaf=None),
        action="check",
        file=audit.source,
        blocks=audit.blocks,
        count=audit.certificates,
        certifi_version=audit.certifi_version,
        worst=audit.worst,
    )


def render_check(audit: "BundleAudit") -> None:
    from certdoctor.render.text import echo, safe

    cver = f"certifi {safe(audit.certifi_version)}" if audit.certifi_version else "certifi"
    echo(f"{safe(audit.source)}: {audit.blocks} PEM blocks, {audit.certificates} certificates "
         f"(compared with {cver}, the one installed here)")
    for f in audit.findings:
        sev = f.severity.value
        # the coloured word is certdoctor's own escape sequence: the rest is sanitised
        click.echo(f"{click.style(f'{sev:<7}', fg=COLOURS[sev])} {f.code.value}: {safe(f.summary)}")
        if f.explanation and sev != "info":
            echo(f"        {safe(f.explanation)}")
        if f.fix and sev != "info":
            echo(f"        fix: {safe(f.fix)}")
    counts = {s: sum(1 for f in audit.findings if f.severity.value == s) for s in ("error", "warning", "info")}
    if not audit.findings:
        echo("No problems found.")
    else:
        echo(f"{counts['error']} errors, {counts['warning']} warnings, {counts['info']} notes.")


__all__ = ["build_json", "render_build", "check_json", "render_check"]
