"""``certdoctor pin TARGET|FILE``: SPKI pins of a chain, a recommended pin set, a backup key.

TARGET is ``host[:port]`` or an ``https://`` URL (the presented chain is read); FILE a
certificate or chain file (``-`` for stdin), told apart by :func:`certdoctor.net.target.classify`.
``--new-backup-key KEYFILE`` writes a new EC P-256 (``--rsa BITS``: RSA) private key, mode 0600,
never overwriting, and prints its pin; with a TARGET its pin joins the recommended set.
``--backup-key FILE`` adds the pin of an existing key (private or public key, CSR or
certificate). ``--ca-file`` says whether the chain reaches one of its CAs (pins are checked
after normal verification: a chain that does not verify never gets that far).

Exit codes: 0 pins shown (or key written); 1 the endpoint could not be reached; 2 bad usage
or input.
"""

from __future__ import annotations

import click

from certdoctor.cli.common import Exit
from certdoctor.cli.options import InputFile, connection_options, json_option, password_option

#: what ``pin`` reads
KINDS = ("file", "stdin", "endpoint")


def _chain_of(source, servername: str | None, timeout: float, proxy: str | None = None,
              password: str | None = None):
    """(certificates, source label, host) of a file, stdin or an endpoint.

    An endpoint is reached through ``proxy``, else the one ``HTTPS_PROXY``/``ALL_PROXY``/
    ``NO_PROXY`` name for it (as requests would).
    """
    from certdoctor.x509.load import read_source

    if not source.is_endpoint:
        loaded = read_source(source, password=password)
        return tuple(loaded.certificates), loaded.source, None
    from certdoctor.net.probe import fetch_chain
    from certdoctor.net.proxy import proxy_for_host

    t = source.target
    kw = {"timeout": timeout, "proxy": proxy_for_host(t.host, t.port, proxy)}
    if servername:
        kw["servername"] = servername
    certs = tuple(fetch_chain(t.host, t.port, **kw))
    return certs, source.label, t.host if t.port == 443 else f"{t.host}:{t.port}"


@click.command("pin")
@click.argument("target", required=False)
@click.option("--new-backup-key", "new_key", type=click.Path(dir_okay=False), default=None, metavar="KEYFILE",
              help="Write a new private key (EC P-256, mode 0600; never overwrites) and print its pin.")
@click.option("--rsa", "rsa_bits", type=click.Choice(["2048", "3072", "4096"]), default=None,
              help="With --new-backup-key: an RSA key of this size instead of EC P-256.")
@click.option("--backup-key", "backup_files", multiple=True, type=InputFile(exists=True), metavar="FILE",
              help="Add the pin of an existing backup key (private/public key, CSR or certificate; - for stdin).")
@click.option("--level", type=click.Choice(["leaf", "intermediate"]), default="leaf", show_default=True,
              help="Primary pin: the server's key, or the key of the intermediate that issued it.")
@connection_options
@password_option
@json_option
def command(target: str | None, new_key: str | None, rsa_bits: str | None, backup_files: tuple[str, ...],
            level: str, timeout: float, proxy: str | None, servername: str | None, resolve: tuple[str, ...],
            ca_file: str | None, password: str | None, as_json: bool) -> int:
    """Show SPKI pins of a chain and make a backup pin key.

    TARGET is a host[:port], an https:// URL or a certificate FILE. Prints every
    certificate's pin-sha256 and SHA-256 fingerprint, a recommended pin set (primary + backup)
    with the reasons, and how to enforce it with certdoctor.pinning.PinnedAdapter / httpx.
    """
    from certdoctor.cli.common import classify, install_resolve
    from certdoctor.trust.ca_file import ca_file_certificates
    from certdoctor.errors import UsageError
    from certdoctor.pinning.pins import load_key_pin, new_backup_key, pin_report

    if target is None and new_key is None:
        raise UsageError("give a TARGET (host, URL or file) or --new-backup-key KEYFILE",
                         "certdoctor pin example.org  |  certdoctor pin --new-backup-key backup.key")
    if rsa_bits and not new_key:
        raise UsageError("--rsa only applies with --new-backup-key", None)
    source = classify(target, KINDS, servername) if target is not None else None
    ca_certs = ca_file_certificates(ca_file)
    backup_pins = [load_key_pin(f, password=password) for f in backup_files]
    certs = label = host = None
    if source is not None:  # read the chain before writing any key: a bad target writes nothing
        install_resolve(resolve)
        certs, label, host = _chain_of(source, servername, timeout, proxy, password)
        # validate early too (an empty chain, bad level) so no key is written for nothing
        pin_report(certs, source=label, host=host, backup_pins=backup_pins, level=level)
    backup = None
    if new_key is not None:
        backup = new_backup_key(new_key, rsa_bits=int(rsa_bits) if rsa_bits else None)
        backup_pins.append(backup.pin)
    report = anchor = None
    if source is not None:
        report = pin_report(certs, source=label, host=host, backup_pins=backup_pins, level=level)
        if ca_certs is not None:
            from certdoctor.model import ChainInfo
            from certdoctor.render.inspect import AnchorCheck

            anchor = AnchorCheck.of(certs, ChainInfo.analyse(certs).path, ca_certs, ca_file)
    if as_json:
        from certdoctor.render.json import emit, target_json
        from certdoctor.render.pin import pin_json

        emit(pin_json(report, target_json(source), certs or (), backup, anchor))
        return Exit.OK
    from certdoctor.render.pin import render_backup, render_pin

    if backup is not None:
        render_backup(backup)
        if report is not None:
            click.echo("")
    if report is not None:
        render_pin(report, backup, anchor)
    return Exit.OK
