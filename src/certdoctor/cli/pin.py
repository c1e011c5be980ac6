"""``certdoctor pin TARGET|FILE``: SPKI pins of a chain, a recommended pin set, a backup key.

TARGET is ``host[:port]`` or an ``https://`` URL (the presented chain is read); FILE a
certificate or chain file. ``--new-backup-key KEYFILE`` writes a new EC P-256 (``--rsa BITS``:
RSA) private key, mode 0600, never overwriting, and prints its pin; with a TARGET its pin joins
the recommended set. ``--backup-key FILE`` adds the pin of an existing key (private or public
key, CSR or certificate).

Exit codes: 0 pins shown (or key written); 1 the endpoint could not be reached; 2 bad usage
or input.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import click

from certdoctor.cli.common import Exit, emit_json, json_option


def _chain_of(target: str, servername: str | None, timeout: float, resolve: tuple[str, ...],
              proxy: str | None = None):
    """(certificates, source label, host) of a file or an endpoint.

    An endpoint is reached through ``proxy``, else the one ``HTTPS_PROXY``/``ALL_PROXY``/
    ``NO_PROXY`` name for it (as requests would).
    """
    from certdoctor.errors import UsageError

    if Path(target).exists():
        if not Path(target).is_file():
            raise UsageError(f"{target}: not a regular file", None)
        from certdoctor.x509.load import load_file

        return tuple(load_file(target)), target, None
    from certdoctor.expiry import parse_endpoint

    host, port, _ = parse_endpoint(target)
    from certdoctor.cli.common import install_resolve

    install_resolve(resolve)
    from certdoctor.net.proxy import proxy_for_host
    from certdoctor.net.probe import fetch_chain

    kw = {"timeout": timeout, "proxy": proxy_for_host(host, port, proxy)}
    if servername:
        kw["servername"] = servername
    certs = tuple(fetch_chain(host, port, **kw))
    return certs, f"{host}:{port}", host if port == 443 else f"{host}:{port}"


def _wrap(text: str, indent: str = "  ") -> str:
    return textwrap.fill(text, width=100, initial_indent=indent, subsequent_indent=indent)


def _render(report, backup) -> None:
    echo = click.echo
    n = len(report.certs)
    echo(f"Pins of {report.source} ({n} certificate{'s' if n != 1 else ''}, leaf first)")
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


def _render_backup(backup) -> None:
    click.echo(f"Wrote a new {backup.key_type} private key to {backup.path} (mode 0600).")
    click.echo(f"  pin-sha256  {backup.pin}")
    click.echo(_wrap("Keep it offline and never deploy it until the day the primary key must change: "
                     "then make a CSR from it (openssl req -new -key KEYFILE), install the new "
                     "certificate, and generate the next backup key. Put this pin in your pin set now."))


@click.command("pin")
@click.argument("target", required=False)
@click.option("--new-backup-key", "new_key", type=click.Path(dir_okay=False), default=None, metavar="KEYFILE",
              help="Write a new private key (EC P-256, mode 0600; never overwrites) and print its pin.")
@click.option("--rsa", "rsa_bits", type=click.Choice(["2048", "3072", "4096"]), default=None,
              help="With --new-backup-key: an RSA key of this size instead of EC P-256.")
@click.option("--backup-key", "backup_files", multiple=True, type=click.Path(dir_okay=False), metavar="FILE",
              help="Add the pin of an existing backup key (private/public key, CSR or certificate).")
@click.option("--level", type=click.Choice(["leaf", "intermediate"]), default="leaf", show_default=True,
              help="Primary pin: the server's key, or the key of the intermediate that issued it.")
@click.option("--servername", default=None, metavar="NAME", help="SNI name to send (default: the host).")
@click.option("--timeout", type=click.FloatRange(0.1, 300), default=10.0, show_default=True,
              help="Seconds for the connection.")
@click.option("--proxy", default=None, metavar="URL",
              help="HTTP proxy URL (default: HTTPS_PROXY/ALL_PROXY/NO_PROXY, as requests reads them).")
@click.option("--resolve", "resolve", multiple=True, metavar="HOST:ADDR",
              help="Resolve HOST to ADDR in this process, like curl --resolve.")
@json_option
def command(target: str | None, new_key: str | None, rsa_bits: str | None, backup_files: tuple[str, ...],
            level: str, servername: str | None, timeout: float, proxy: str | None, resolve: tuple[str, ...],
            as_json: bool) -> int:
    """Show SPKI pins of a chain and make a backup pin key.

    TARGET is a host[:port], an https:// URL or a certificate FILE. Prints every
    certificate's pin-sha256 and SHA-256 fingerprint, a recommended pin set (primary + backup)
    with the reasons, and how to enforce it with certdoctor.pinning.PinnedAdapter / httpx.
    """
    from certdoctor.errors import UsageError
    from certdoctor.pinning.pins import load_key_pin, new_backup_key, pin_report

    if target is None and new_key is None:
        raise UsageError("give a TARGET (host, URL or file) or --new-backup-key KEYFILE",
                         "certdoctor pin example.org  |  certdoctor pin --new-backup-key backup.key")
    if rsa_bits and not new_key:
        raise UsageError("--rsa only applies with --new-backup-key", None)
    backup_pins = [load_key_pin(f) for f in backup_files]
    certs = source = host = None
    if target is not None:  # read the chain before writing any key: a bad target writes nothing
        certs, source, host = _chain_of(target, servername, timeout, resolve, proxy)
        # validate early too (an empty chain, bad level) so no key is written for nothing
        pin_report(certs, source=source, host=host, backup_pins=backup_pins, level=level)
    backup = None
    if new_key is not None:
        backup = new_backup_key(new_key, rsa_bits=int(rsa_bits) if rsa_bits else None)
        backup_pins.append(backup.pin)
    if target is None:
        if as_json:
            emit_json({"backup_key": backup})
        else:
            _render_backup(backup)
        return Exit.OK
    report = pin_report(certs, source=source, host=host, backup_pins=backup_pins, level=level)
    if as_json:
        from dataclasses import fields

        emit_json({"target": target, **{f.name: getattr(report, f.name) for f in fields(report)},
                   "backup_key": backup})
    else:
        if backup is not None:
            _render_backup(backup)
            click.echo("")
        _render(report, backup)
    return Exit.OK
