"""Renderers for ``certdoctor pin``: a :class:`~certdoctor.pinning.pins.PinReport` and a new
:class:`~certdoctor.pinning.pins.BackupKey`, as JSON documents and plain text (pins and
commands are never wrapped)."""

from __future__ import annotations

import textwrap
from dataclasses import fields
from typing import TYPE_CHECKING, Any, Sequence

import click

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
    return textwrap.fill(text, width=100, initial_indent=indent, subsequent_indent=indent)


def render_pin(report: "PinReport", backup: "BackupKey | None", anchor: "AnchorCheck | None" = None) -> None:
    echo = click.echo
    n = len(report.certs)
    echo(f"Pins of {report.source} ({n} certificate{'s' if n != 1 else ''}, leaf first)")
    if anchor is not None:
        if anchor.reached:
            echo(f"  trust: reaches {anchor.anchor} in {anchor.ca_file} (from #{anchor.via})")
        else:
            echo(f"  trust: the chain reaches no CA in {anchor.ca_file}: a client trusting only that file "
                 "fails before any pin is checked")
    for c in report.certs:
        echo("")
        echo(f"  #{c.index} {c.role}: {c.name}")
        echo(f"     subject     {c.subject}")
        echo(f"     pin-sha256  {c.pin}")
        echo(f"     SHA-256     {c.fingerprint_sha256}")
        size = f" {c.key_size}" if c.key_size and not c.key_type.startswith("EC") else ""
        echo(f"     key         {c.key_type}{size}; expires {c.not_after:%Y-%m-%d} ({c.days_left} days)")
    echo("")
    echo(f"Recommended pin set (primary: {report.level} key)")
    for i, p in enumerate(report.recommended):
        if i == 0:
            what = f"primary: #{report.primary} {report.certs[report.primary].role} key"
        elif backup is not None and p == backup.pin:
            what = f"backup: new key {backup.path}"
        else:
            what = "backup"
        echo(f"  {p}   ({what})")
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
        echo(("    " + line) if line else "")


def render_backup(backup: "BackupKey") -> None:
    click.echo(f"Wrote a new {backup.key_type} private key to {backup.path} (mode 0600).")
    click.echo(f"  pin-sha256  {backup.pin}")
    click.echo(_wrap("Keep it offline and never deploy it until the day the primary key must change: "
                     "then make a CSR from it (openssl req -new -key KEYFILE), install the new "
                     "certificate, and generate the next backup key. Put this pin in your pin set now."))


__all__ = ["pin_json", "render_pin", "render_backup"]
