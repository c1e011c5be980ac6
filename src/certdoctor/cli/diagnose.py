"""``certdoctor diagnose TARGET``: why a Python client fails on a URL, for that client.

Exit codes: 0 the client verifies and nothing is at error level; 1 a problem was found;
2 bad usage or input.
"""

from __future__ import annotations

import click

from certdoctor.cli.options import Pin, canary_option, connection_options, json_option


def client_options(f):
    """``--client`` and ``--python``: whose trust and rules to apply (diagnose and fix)."""
    for opt in reversed((
        click.option("--client", type=click.Choice(["requests", "httpx", "urllib", "pip"]), default="requests",
                     show_default=True, help="The client whose trust and rules to apply."),
        click.option("--python", "python", type=click.Choice(["3.13", "current"]), default=None,
                     help="Apply Python 3.13's default verify flags (VERIFY_X509_STRICT, PARTIAL_CHAIN)."),
    )):
        f = opt(f)
    return f


@click.command("diagnose")
@click.argument("target")
@connection_options
@client_options
@click.option("--no-revocation", is_flag=True, help="Skip the CRL/OCSP check.")
@click.option("--staple", is_flag=True, default=None,
              help="Ask for a stapled OCSP response even when the leaf names no OCSP responder.")
@click.option("--no-aia", is_flag=True, help="Do not download missing intermediates.")
@click.option("--pin", "pins", multiple=True, metavar="sha256/BASE64", type=Pin(), help="Expected SPKI pin (repeatable).")
@click.option("--no-cache", is_flag=True, help="Do not use the on-disk cache of AIA/CRL/OCSP downloads.")
@canary_option
@json_option
# --- the HTML report (render/html.py; docs/REPORT.md)
@click.option("--html", "html", default=None, metavar="FILE",
              help="Also write a self-contained HTML page of this diagnosis, to send to the server's operator "
                   "('-': instead of the text).")
# --- end of the HTML report
def command(target, timeout, proxy, servername, resolve, ca_file, client, python, no_revocation, staple, no_aia, pins,
            no_cache, canaries, as_json, html=None):
    """Say exactly why CLIENT fails (or would fail) on TARGET, with evidence and the fix.

    TARGET is an https:// URL or host[:port]. --ca-file is the bundle the client trusts
    (like verify=FILE).
    """
    from certdoctor.cli.fast import diagnose_body

    return diagnose_body(target, timeout, proxy, servername, resolve, ca_file, client, python, no_revocation, staple,
                         no_aia, pins, no_cache, canaries, as_json, html=html)
