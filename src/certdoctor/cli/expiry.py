"""``certdoctor expiry SOURCE...``: expiry of every certificate of every chain, Nagios-style.

SOURCE is an existing certificate file (``-``: standard input), else ``host[:port]`` or an
``https://`` URL (told apart by :func:`certdoctor.net.target.classify`). The first line is a Nagios/Icinga plugin line
(``CERT OK - … | days_left=84;30;7``), details follow.

Exit codes (Nagios): 0 OK, 1 WARNING, 2 CRITICAL (expired, not yet valid, or fewer than
``--crit-days`` left), 3 UNKNOWN (a source could not be checked, or bad usage).
"""

from __future__ import annotations

import click

from certdoctor import policy
from certdoctor.cli.common import Nagios
from certdoctor.cli.options import Days, connection_options, count, json_option, password_option

USAGE_HINT = "run 'certdoctor expiry --help' for the arguments and options it takes."


def _usage_exit(message: str, as_json: bool, hint: str | None = None) -> click.exceptions.Exit:
    """Print one UNKNOWN line (or JSON) on stdout, for Nagios, and the ``error:``/``hint:`` lines
    of every command on stderr, for a person; return the exit to raise: Nagios uses 3 (UNKNOWN)
    for usage."""
    from certdoctor.render.expiry import usage_json, usage_line
    from certdoctor.render.text import safe

    text = " ".join(str(message).split())
    if as_json:
        from certdoctor.render.json import emit

        emit(usage_json(text))
    else:
        click.echo(usage_line(text))
    click.echo(f"error: {safe(text)}", err=True)
    click.echo(f"hint: {safe(' '.join(hint.split())) if hint else USAGE_HINT}", err=True)
    return click.exceptions.Exit(int(Nagios.UNKNOWN))


class NagiosCommand(click.Command):
    """A click command whose argument errors exit 3 (UNKNOWN) with one line, not click's 2."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        from certdoctor.errors import CertdoctorError

        as_json = "--json" in args
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            raise _usage_exit(exc.format_message(), as_json, getattr(exc, "hint", None)) from None
        except CertdoctorError as exc:
            raise _usage_exit(exc.message, as_json, exc.hint) from None


@click.command("expiry", cls=NagiosCommand)
@click.argument("sources", nargs=-1, required=True, metavar="SOURCE...")
@click.option("--warn-days", type=Days(), default=policy.EXPIRING_SOON_DAYS, show_default=True,
              help="WARNING when fewer days than this are left.")
@click.option("--crit-days", type=Days(), default=policy.CRITICAL_DAYS, show_default=True,
              help="CRITICAL when fewer days than this are left (and when expired).")
@connection_options
@click.option("--no-clock", is_flag=True, help="Do not compare the local clock with the server's Date.")
@click.option("--concurrency", type=count(policy.MAX_CONCURRENCY), default=16, show_default=True, help="Endpoints checked at once.")
@password_option
@json_option
def command(sources: tuple[str, ...], warn_days: int, crit_days: int, timeout: float, proxy: str | None,
            servername: str | None, resolve: tuple[str, ...], ca_file: str | None, no_clock: bool,
            concurrency: int, password: str | None, as_json: bool) -> int:
    """Expiry of every certificate of every chain (Nagios exit codes).

    SOURCE is a certificate file (- for stdin), host[:port] or https:// URL. Prints a
    Nagios/Icinga line first (CERT OK - ... | days_left=N;WARN;CRIT), then details. --timeout is per endpoint;
    --servername applies to every endpoint; --ca-file is the trust for the verified Date
    request (the clock check). Exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
    """
    from certdoctor.cli.common import install_resolve
    from certdoctor.trust.ca_file import check_ca_file
    from certdoctor.errors import CertdoctorError
    from certdoctor.expiry import check_expiry

    if warn_days < 0 or crit_days < 0:
        raise _usage_exit(f"--warn-days and --crit-days must not be negative ({warn_days}, {crit_days})", as_json)
    if warn_days < crit_days:
        raise _usage_exit(f"--warn-days ({warn_days}) must not be below --crit-days ({crit_days})", as_json)
    if concurrency < 1:
        raise _usage_exit("--concurrency must be at least 1", as_json)
    try:
        if "-" in sources:  # standard input, once: a private temporary file the checks read
            from certdoctor.cli.common import stdin_file

            sources = tuple(stdin_file("SOURCE -") if s == "-" else s for s in sources)
        check_ca_file(ca_file)
        install_resolve(resolve)
        report = check_expiry(sources, warn_days, crit_days, timeout=timeout, servername=servername,
                              ca_file=ca_file, check_clock=not no_clock, concurrency=concurrency,
                              proxy=proxy, password=password)
    except CertdoctorError as exc:  # a usage error is UNKNOWN, exit 3; a bad source never gets here
        raise _usage_exit(exc.message, as_json, exc.hint) from None
    if as_json:
        from certdoctor.render.expiry import expiry_json
        from certdoctor.render.json import emit

        emit(expiry_json(report))
    else:
        from certdoctor.render.expiry import render_expiry

        render_expiry(report)
    return report.exit_code
