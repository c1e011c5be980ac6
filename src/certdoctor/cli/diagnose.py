"""``certdoctor diagnose TARGET``: why a Python client fails on a URL, for that client.

Exit codes: 0 the client verifies and nothing is at error level; 1 a problem was found;
2 bad usage or input.
"""

from __future__ import annotations

import click

from certdoctor.cli.common import console, install_resolve, json_option  # noqa: F401 (fix imports it)


def connection_options(f):
    """Options shared by diagnose and fix."""
    for opt in reversed((
        click.option("--ca-file", type=click.Path(dir_okay=False), help="Trust exactly this bundle (like verify=F)."),
        click.option("--client", type=click.Choice(["requests", "httpx", "urllib", "pip"]), default="requests",
                     show_default=True, help="The client whose trust and rules to apply."),
        click.option("--python", "python", type=click.Choice(["3.13", "current"]), default=None,
                     help="Apply Python 3.13's default verify flags (VERIFY_X509_STRICT, PARTIAL_CHAIN)."),
        click.option("--proxy", help="HTTP proxy URL (default: the client's HTTPS_PROXY/NO_PROXY rules)."),
        click.option("--servername", help="SNI and hostname to check when connecting to an IP."),
        click.option("--timeout", type=click.FloatRange(0.1, 300), default=10.0, show_default=True,
                     help="Seconds for each network step."),
        click.option("--resolve", "resolve", multiple=True, metavar="HOST:ADDR",
                     help="Resolve HOST (or *.suffix) to ADDR in this process, like curl --resolve."),
    )):
        f = opt(f)
    return f


@click.command("diagnose")
@click.argument("target")
@connection_options
@click.option("--no-revocation", is_flag=True, help="Skip the CRL/OCSP check.")
@click.option("--no-aia", is_flag=True, help="Do not download missing intermediates.")
@click.option("--pin", "pins", multiple=True, metavar="sha256/BASE64", help="Expected SPKI pin (repeatable).")
@click.option("--no-cache", is_flag=True, help="Do not use the on-disk cache of AIA/CRL/OCSP downloads.")
@json_option
def command(target, ca_file, client, python, proxy, servername, timeout, resolve, no_revocation, no_aia, pins,
            no_cache, as_json):
    """Say exactly why CLIENT fails (or would fail) on TARGET, with evidence and the fix.

    TARGET is an https:// URL or host[:port].
    """
    from pathlib import Path

    from certdoctor.diagnose import diagnose
    from certdoctor.errors import InputError

    if ca_file is not None and not Path(ca_file).is_file():
        raise InputError(f"--ca-file {ca_file}: no such file", "Give the path of a PEM bundle.")
    install_resolve(resolve)
    from certdoctor.net.fetch import FetchCache

    d = diagnose(target, client=client, ca_file=ca_file, python=python, proxy=proxy, servername=servername,
                 timeout=timeout, revocation=not no_revocation, aia=not no_aia, pins=pins,
                 cache=None if no_cache else FetchCache())
    if as_json:
        import json

        from certdoctor.render.diagnose import diagnosis_json

        click.echo(json.dumps(diagnosis_json(d), indent=2))
    else:
        from certdoctor.render.diagnose import render_diagnosis

        render_diagnosis(d, console())
    return d.exit_code
