"""``certdoctor expiry SOURCE...``: expiry of every certificate of every chain, Nagios-style.

SOURCE is an existing certificate file, else ``host[:port]`` or an ``https://`` URL. The first
line is a Nagios/Icinga plugin line (``CERT OK - … | days_left=84;30;7``), details follow.

Exit codes (Nagios): 0 OK, 1 WARNING, 2 CRITICAL (expired, not yet valid, or fewer than
``--crit-days`` left), 3 UNKNOWN (a source could not be checked, or bad usage).
"""

from __future__ import annotations

import click

from certdoctor.cli.common import Nagios, emit_json, json_option


def _usage_exit(message: str, as_json: bool) -> click.exceptions.Exit:
    """Print one UNKNOWN line (or JSON) and return the exit to raise: Nagios uses 3 for usage."""
    text = " ".join(str(message).split())
    if as_json:
        emit_json({"state": "UNKNOWN", "exit_code": int(Nagios.UNKNOWN), "error": text,
                   "summary": f"CERT UNKNOWN - bad usage: {text}"})
    else:
        click.echo(f"CERT UNKNOWN - bad usage: {text}")
    return click.exceptions.Exit(int(Nagios.UNKNOWN))


class NagiosCommand(click.Command):
    """A click command whose argument errors exit 3 (UNKNOWN) with one line, not click's 2."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        as_json = "--json" in args
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            raise _usage_exit(exc.format_message(), as_json) from None


def _fmt_time(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M")


def render_text(report) -> None:
    """The summary line, then one block per source."""
    click.echo(report.summary)
    for src in report.sources:
        where = f"{src.host}:{src.port}" if src.host else src.source
        click.echo("")
        if src.error:
            click.echo(f"{where} ({src.kind}): {src.state.value}: {src.error}")
            continue
        click.echo(f"{where} ({src.kind}): {src.state.value}, {len(src.certs)} certificate"
                   f"{'s' if len(src.certs) != 1 else ''}")
        click.echo(f"  {'#':>2}  {'state':<8}  {'days':>6}  {'used':>6}  {'not before (UTC)':<16}  "
                   f"{'not after (UTC)':<16}  name")
        for c in src.certs:
            click.echo(f"  {c.index:>2}  {c.state.value:<8}  {c.days_left:>6}  {c.lifetime_used:>5.1f}%  "
                       f"{_fmt_time(c.not_before):<16}  {_fmt_time(c.not_after):<16}  {c.name}")
        if src.clock is not None:
            flag = "  CLOCK_SKEW (> 5 min)" if src.clock.flagged else ""
            click.echo(f"  clock: {src.clock.note}{flag}")
        for f in src.findings:
            click.echo(f"  {f.code.value}: {f.summary}")


@click.command("expiry", cls=NagiosCommand)
@click.argument("sources", nargs=-1, required=True, metavar="SOURCE...")
@click.option("--warn-days", type=int, default=30, show_default=True,
              help="WARNING when fewer days than this are left.")
@click.option("--crit-days", type=int, default=7, show_default=True,
              help="CRITICAL when fewer days than this are left (and when expired).")
@click.option("--timeout", type=float, default=10.0, show_default=True, help="Seconds per endpoint.")
@click.option("--servername", default=None, metavar="NAME",
              help="SNI name (and verified name for the Date request) for every endpoint.")
@click.option("--ca-file", type=click.Path(dir_okay=False), default=None,
              help="Trust this CA file (instead of the default store) for the verified Date request.")
@click.option("--no-clock", is_flag=True, help="Do not compare the local clock with the server's Date.")
@click.option("--concurrency", type=int, default=16, show_default=True, help="Endpoints checked at once.")
@click.option("--proxy", default=None, metavar="URL",
              help="HTTP proxy URL (default: HTTPS_PROXY/ALL_PROXY/NO_PROXY, as requests reads them).")
@click.option("--resolve", "resolve", multiple=True, metavar="HOST:ADDR",
              help="Resolve HOST to ADDR in this process, like curl --resolve.")
@json_option
def command(sources: tuple[str, ...], warn_days: int, crit_days: int, timeout: float, servername: str | None,
            ca_file: str | None, no_clock: bool, concurrency: int, proxy: str | None, resolve: tuple[str, ...],
            as_json: bool) -> int:
    """Expiry of every certificate of every chain (Nagios exit codes).

    SOURCE is a certificate file, host[:port] or https:// URL. Prints a Nagios/Icinga line
    first (CERT OK - ... | days_left=N;WARN;CRIT), then details.
    Exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
    """
    from certdoctor.errors import CertdoctorError, UsageError
    from certdoctor.expiry import check_expiry

    if warn_days < 0 or crit_days < 0:
        raise _usage_exit(f"--warn-days and --crit-days must not be negative ({warn_days}, {crit_days})", as_json)
    if warn_days < crit_days:
        raise _usage_exit(f"--warn-days ({warn_days}) must not be below --crit-days ({crit_days})", as_json)
    if timeout <= 0 or concurrency < 1:
        raise _usage_exit("--timeout must be positive and --concurrency at least 1", as_json)
    try:
        from certdoctor.cli.common import install_resolve

        install_resolve(resolve)
    except CertdoctorError as exc:
        raise _usage_exit(exc.message, as_json) from None
    try:
        report = check_expiry(sources, warn_days, crit_days, timeout=timeout, servername=servername,
                              ca_file=ca_file, check_clock=not no_clock, concurrency=concurrency,
                              proxy=proxy)
    except UsageError as exc:
        raise _usage_exit(exc.message, as_json) from None
    if as_json:
        emit_json({"state": report.state, "exit_code": report.exit_code, "summary": report.summary,
                   "warn_days": report.warn_days, "crit_days": report.crit_days, "now": report.now,
                   "soonest_days_left": report.soonest_days_left, "sources": report.sources})
    else:
        render_text(report)
    return report.exit_code
