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
def command(target, timeout, proxy, servername, resolve, ca_file, client, python, no_revocation, no_aia, pins,
            no_cache, canaries, as_json, html=None):
    """Say exactly why CLIENT fails (or would fail) on TARGET, with evidence and the fix.

    TARGET is an https:// URL or host[:port]. --ca-file is the bundle the client trusts
    (like verify=FILE).
    """
    from certdoctor.cli.common import endpoint, install_resolve
    from certdoctor.trust.ca_file import check_ca_file
    from certdoctor.diagnose import diagnose
    from certdoctor.net.fetch import FetchCache

    endpoint(target, "diagnose")
    if html is not None:
        from certdoctor.cli.report import check_html
        from certdoctor.errors import UsageError
        from certdoctor.fsutil import is_stdout

        if as_json and is_stdout(html):
            raise UsageError("--html - and --json both write standard output", "Give --html a file name.")
        check_html(html)
    check_ca_file(ca_file, directory=True)
    install_resolve(resolve)
    d = diagnose(target, client=client, ca_file=ca_file, python=python, proxy=proxy, servername=servername,
                 timeout=timeout, revocation=not no_revocation, aia=not no_aia, pins=pins,
                 cache=None if no_cache else FetchCache(), canaries=canaries or None)
    if html is not None:
        from certdoctor.cli.report import write_html
        from certdoctor.fsutil import is_stdout
        from certdoctor.render import html as render_html

        write_html(html, render_html.render_bytes([render_html.from_diagnosis(d, target)], None,
                                                  title=f"certdoctor diagnose {target}", now=d.now,
                                                  source=f"certdoctor diagnose (client {client})"))
        if is_stdout(html):
            return d.exit_code
    if as_json:
        from certdoctor.render.diagnose import diagnosis_json
        from certdoctor.render.json import emit

        emit(diagnosis_json(d, target))
    else:
        from certdoctor.cli.common import console
        from certdoctor.render.diagnose import render_diagnosis

        render_diagnosis(d, console())
    return d.exit_code
