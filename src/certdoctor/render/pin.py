"""Renderers for ``certdoctor pin``: a :class:`~certdoctor.pinning.pins.PinReport` and a new
:class:`~certdoctor.pinning.pins.BackupKey`, as JSON documents and plain text (pins and
commands are never wrapped)."""

from __future__ import annotations

import textwrap
from dataclasses import fields
from typing import TYPE_CHECKING, Any, Sequence

from certdoctor.render.text import echo, is_terminal, safe

if TYPE_CHECKING:  # pragma: no cover
    from certdoctor.pinning.pins import BackupKey, PinReport
    from certdoctor.render.inspect import AnchorCheck


def pin_json(report: "PinReport | None", target: dict[str, Any] | None, certs: Sequence[Any] = (),
             backup: "BackupKey | None" = None, anchor: "AnchorCheck | None" = None) -> dict[str, Any]:
    """``certdoctor pin --json``: the envelope (the chain as read) plus every field of the pin
    report (``certs`` are its pin rows) and ``backup_key``; only ``backup_key`` without a target."""
    from certdoctor.render.json import certificates_of, envelope

    keys: dict[str, Any] = {f.name: getattr(report, f.name) for f in fields(report)} if report is not None else {}
    return envelope("pin", target=target, exit_code=0, certificates=certificates_of(certs), **keys,
                    backup_key=backup, anchor=anchor)


def _wrap(text: str, indent: str = "  ") -> str:
    """A paragraph, filled to 100 columns on a terminal; one line on a pipe or in a file (a path
    or a command in it is never broken; neither is a pin or a word, even on a terminal)."""
    text = safe(text)
    if not is_terminal(None):
        return indent + text
    return textwrap.fill(text, width=100, initial_indent=indent, subsequent_indent=indent,
                         break_long_words=False, break_on_hyphens=False)


def render_pin(report: "PinReport", backup: "BackupKey | None", anchor: "AnchorCheck | None" = None) -> None:
    n = len(report.certs)
    echo(f"Pins of {safe(report.source)} ({n} certificate{'s' if n != 1 else ''}, leaf first)")
    if anchor is not None:
        if anchor.reached:
            echo(f"  trust: reaches {safe(anchor.anchor)} in {safe(anchor.ca_file)} (from #{anchor.via})")
        else:
            echo(f"  trust: the chain reaches no CA in {safe(anchor.ca_file)}: a client trusting only that file "
                 "fails before any pin is checked")
    for c in report.certs:
        echo("")
        echo(f"  #{c.index} {safe(c.role)}: {safe(c.name)}")
        echo(f"     subject     {safe(c.subject)}")
        echo(f"     pin-sha256  {c.pin}")
        echo(f"     SHA-256     {c.fingerprint_sha256}")
        size = f" {c.key_size}" if c.key_size and not c.key_type.startswith("EC") else ""
        echo(f"     key         {safe(c.key_type)}{size}; expires {c.not_after:%Y-%m-%d} ({c.days_left} days)")
    echo("")
    echo(f"Recommended pin set (primary: {safe(report.level)} key)")
    for i, p in enumerate(report.recommended):
        if i == 0:
            what = f"primary: #{report.primary} {safe(report.certs[report.primary].role)} key"
        elif backup is not None and p == backup.pin:
            what = f"backup: new key {safe(backup.path)}"
        else:
            what = "backup"
        echo(f"  {safe(p)}   ({what})")
    if report.missing_backup:
        echo("  sha256/<BACKUP-PIN>   (missing: certdoctor pin --new-backup-key backup.key)")
    if report.warnings:
        echo("")
        for w in report.warnings:
            echo(_wrap("note: " + w))
    echo("")
    echo("Why")
    for para in report.explanation:
        echo(_wrap(para))
    echo("")
    echo("Use it (pins are checked after normal verification, before any request byte)")
    for line in report.usage:
        echo(("    " + safe(line)) if line else "")


def render_backup(backup: "BackupKey") -> None:
    echo(f"Wrote a new {safe(backup.key_type)} private key to {safe(backup.path)} (mode 0600).")
    echo(f"  pin-sha256  {safe(backup.pin)}")
    echo(_wrap("Keep it offline and never deploy it until the day the primary key must change: "
                     "then make a CSR from it (openssl req -new -key KEYFILE), install the new "
                     "certificate, and generate the next backup key. Put this pin in your pin set now."))


__all__ = ["pin_json", "render_pin", "render_backup"]
