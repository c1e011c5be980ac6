"""``certdoctor monitor [TARGET…] [--config FILE.toml] [--targets FILE]``: a fleet of endpoints and
certificate files, each judged by diagnose's checks, one row per target (docs/MONITOR.md).

Exit codes (Nagios): 0 all ok, 1 a warning, 2 a critical, 3 an unknown/error and no critical;
bad usage or input is 3 too, with one ``error:`` and one ``hint:`` line.
"""

from __future__ import annotations

import click

from certdoctor import policy
from certdoctor.cli.common import Nagios
from certdoctor.cli.options import (
    ALLOW_PRIVATE_FETCH_HELP, CA_FILE_HELP, PROXY_HELP, RESOLVE_HELP, json_option, password_option,
)


def _usage(message: str, hint: str | None, *, nagios: bool = False) -> click.exceptions.Exit:
    from certdoctor.render.text import safe

    if nagios:  # Nagios shows the plugin's stdout: the reason goes there too, as UNKNOWN
        from certdoctor.render.monitor import nagios_unknown

        click.echo(nagios_unknown(message))
    click.echo(f"error: {safe(' '.join(str(message).split()))}", err=True)
    click.echo(f"hint: {safe(hint or 'run certdoctor monitor --help for the arguments and options it takes.')}",
               err=True)
    return click.exceptions.Exit(int(Nagios.UNKNOWN))


class MonitorCommand(click.Command):
    """Argument errors exit 3 (UNKNOWN), not click's 2 (which would read as CRITICAL)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        nagios = "--nagios" in args  # before click consumes the list
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            raise _usage(exc.format_message(), "run 'certdoctor monitor --help' for the arguments and options "
                                                "it takes.", nagios=nagios) from None


@click.command("monitor", cls=MonitorCommand)
@click.argument("targets", nargs=-1, metavar="[TARGET...]")
@click.option("--config", "config", type=click.Path(dir_okay=False), default=None, metavar="FILE.toml",
              help="A TOML file of [defaults], [[endpoint]] and [[file]] entries (docs/MONITOR.md).")
@click.option("--targets", "targets_file", default=None, metavar="FILE",
              help="One target per line (# comments; '-': stdin), streamed: never loaded whole.")
@click.option("--ca-file", "ca_file", type=click.Path(), default=None, metavar="FILE", help=CA_FILE_HELP)
@click.option("--client", default="requests", show_default=True,
              type=click.Choice(["requests", "httpx", "urllib", "pip"]), help="Whose trust store to verify with.")
@click.option("--timeout", type=click.FloatRange(policy.TIMEOUT_MIN_SECONDS, policy.TIMEOUT_MAX_SECONDS),
              default=policy.TIMEOUT_SECONDS, show_default=True, metavar="SECONDS",
              help="Seconds per target: DNS, connect, proxy and handshake together.")
@click.option("--warn-days", type=click.IntRange(0), default=policy.EXPIRING_SOON_DAYS, show_default=True,
              help="WARNING when fewer days than this are left on the verified path.")
@click.option("--crit-days", type=click.IntRange(0), default=policy.CRITICAL_DAYS, show_default=True,
              help="CRITICAL when fewer days than this are left (and when expired).")
@click.option("--proxy", default=None, metavar="URL", help=PROXY_HELP)
@click.option("--resolve", "resolve", multiple=True, metavar="HOST:PORT:ADDR", help=RESOLVE_HELP)
@click.option("--concurrency", type=click.IntRange(1, policy.MONITOR_MAX_CONCURRENCY),
              default=policy.MONITOR_CONCURRENCY, show_default=True, help="Targets checked at once.")
@click.option("--allow-private-fetch", "allow_private_fetch", is_flag=True, help=ALLOW_PRIVATE_FETCH_HELP)
@password_option
@json_option
@click.option("--jsonl", "as_jsonl", is_flag=True, help="One JSON row per target, printed as each completes.")
# --- outputs for monitoring systems (monitor/metrics.py, monitor/exporter.py; docs/MONITOR-METRICS.md)
@click.option("--nagios", "as_nagios", is_flag=True,
              help="One Nagios plugin line with perfdata ('TARGET_days'=D;WARN:;CRIT:;;), exit 0/1/2/3.")
@click.option("--textfile", "textfile", default=None, metavar="FILE.prom",
              help="Also write the metrics for node_exporter's textfile collector (atomically, through symlinks).")
@click.option("--serve", "serve", default=None, is_flag=False, flag_value=policy.MONITOR_SERVE_DEFAULT,
              metavar="HOST:PORT", help="Run as a Prometheus exporter: /metrics (the fleet, refreshed every "
              f"--interval) and /probe?target=… (default {policy.MONITOR_SERVE_DEFAULT}).")
@click.option("--interval", "interval", type=click.FloatRange(policy.MONITOR_SERVE_INTERVAL_MIN_SECONDS), default=None,
              metavar="SECONDS", help=f"--serve: seconds between fleet runs [default: "
              f"{policy.MONITOR_SERVE_INTERVAL_SECONDS:g}].")
# --- state and webhooks (docs/MONITOR.md "State and transitions", "Webhooks")
@click.option("--state", "state_path", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="The SQLite state file (last result and history per target; transitions are reported "
                   "against it). Default: $XDG_DATA_HOME/certdoctor/monitor.sqlite.")
@click.option("--no-state", "no_state", is_flag=True, help="Keep no state: no transitions, no webhooks.")
@click.option("--webhook", "webhooks", multiple=True, metavar="URL",
              help="POST a JSON event per transition to URL (repeatable; shown redacted everywhere).")
# --- end of state and webhooks
# --- process shards (monitor/shard.py; docs/MONITOR.md "Workers")
@click.option("--workers", "workers", default=None, metavar="N|auto",
              help="Processes checking the targets: 'auto' (the default) is one for fewer than "
                   f"{policy.MONITOR_SHARD_MIN_TARGETS} targets, else one per available core (at most "
                   f"{policy.MONITOR_MAX_WORKERS}); N from 1 to {policy.MONITOR_MAX_WORKERS}. The rows are the same; "
                   "--concurrency is shared among them. --serve checks in one process.")
# --- end of process shards
# --- the HTML report (render/html.py; docs/REPORT.md)
@click.option("--html", "html", default=None, metavar="FILE",
              help="Also write the HTML report of this run (atomically; '-': instead of the table).")
# --- end of the HTML report
# --- Dask (monitor/dask.py; docs/SCALE.md)
@click.option("--dask", "dask", default=None, metavar="SCHEDULER|local[:N]",
              help="Check the endpoints on a Dask cluster: a scheduler address (tcp://HOST:PORT), or 'local[:N]' "
                   "for a LocalCluster of N worker processes started and stopped here. Shards of "
                   f"{policy.MONITOR_DASK_SHARD_TARGETS} endpoints, each checked with --concurrency; state, webhooks "
                   "and output stay here. Excludes --workers N. Needs: pip install 'certdoctor[dask]'.")
# --- end of Dask
def command(targets: tuple[str, ...], config: str | None, targets_file: str | None, ca_file: str | None,
            client: str, timeout: float, warn_days: int, crit_days: int, proxy: str | None,
            resolve: tuple[str, ...], concurrency: int, allow_private_fetch: bool, password: str | None,
            as_json: bool, as_jsonl: bool, as_nagios: bool = False, textfile: str | None = None,
            serve: str | None = None, interval: float | None = None, state_path: str | None = None,
            no_state: bool = False, webhooks: tuple[str, ...] = (), workers: str | None = None,
            html: str | None = None, dask: str | None = None) -> int:
    """Check many endpoints and certificate files at once (Nagios exit codes).

    TARGET is an https:// URL, host[:port], or a certificate file, directory or glob (PEM, DER,
    PKCS#7, PKCS#12; certbot live/ directories). Options are the defaults of every target; a
    --config entry or --targets line may override them. Exit 0 ok, 1 warning, 2 critical,
    3 unknown (or bad usage).
    """
    from certdoctor.errors import CertdoctorError

    if as_json and as_jsonl:
        raise _usage("--json and --jsonl are exclusive", "Pick one: --json (one document) or --jsonl (streamed).",
                     nagios=as_nagios)
    from certdoctor.monitor.alerts import check_webhook_url

    state = None
    try:
        _check_outputs(as_json, as_jsonl, as_nagios, textfile, serve, interval, targets_file)
        if no_state and (state_path or webhooks):
            raise _usage("--no-state excludes --state and --webhook" if state_path else
                         "--webhook needs the state (webhooks report transitions)",
                         "Drop --no-state, or the options that need the state.", nagios=as_nagios)
        hooks = tuple(check_webhook_url(u) for u in webhooks)
        from certdoctor.monitor.shard import parse_workers

        workers = parse_workers(workers)
        if serve is not None and workers not in ("auto", 1):
            raise _usage("--serve checks its fleet in one process", "Drop --workers (or give --workers 1).",
                         nagios=as_nagios)
        _check_html(html, serve, as_json or as_jsonl or as_nagios, textfile)
        if dask is not None:  # --dask: checked before the state records a run
            if serve is not None:
                raise _usage("--serve checks its fleet in this process", "Drop --dask (or --serve).",
                             nagios=as_nagios)
            from certdoctor.monitor.dask import check as check_dask

            check_dask(dask, workers)
        if serve is not None:
            if not no_state:
                from certdoctor.monitor.state import State

                state = State.open(state_path)
            return _serve(serve, interval, targets, config, targets_file, ca_file, client, timeout, warn_days,
                          crit_days, proxy, resolve, password, concurrency, allow_private_fetch, hooks, state)
        specs = _specs(targets, config, targets_file, ca_file, client, timeout, warn_days, crit_days, proxy,
                       resolve, password, hooks)
        if not no_state:
            from certdoctor.monitor.state import State

            state = State.open(state_path)
        return _run(specs, concurrency, allow_private_fetch, as_json, as_jsonl, as_nagios, textfile, state, workers,
                    html=html, dask=dask)
    except CertdoctorError as exc:
        raise _usage(exc.message, exc.hint, nagios=as_nagios) from None
    finally:
        if state is not None:
            state.close()


def _check_outputs(as_json, as_jsonl, as_nagios, textfile, serve, interval, targets_file) -> None:
    """The outputs that go together: one stdout format; --serve alone; --interval only with --serve."""
    from certdoctor.errors import UsageError
    from certdoctor.fsutil import is_stdout, resolve_output

    if as_nagios and (as_json or as_jsonl):
        raise UsageError("--nagios and --json/--jsonl both write standard output",
                         "Pick one; --textfile FILE.prom can go with any of them.")
    if serve is not None:
        others = [name for name, on in (("--json", as_json), ("--jsonl", as_jsonl), ("--nagios", as_nagios),
                                        ("--textfile", textfile is not None)) if on]
        if others:
            raise UsageError(f"--serve runs until stopped; {', '.join(others)} report(s) one run",
                             "Use --serve alone (Prometheus scrapes it), or drop --serve for a one-off run.")
        if targets_file is not None and (targets_file == "-" or is_stdout(targets_file)):
            raise UsageError("--serve re-reads --targets at every run; standard input can be read only once",
                             "Give --targets a file.")
    elif interval is not None:
        raise UsageError("--interval applies to --serve", "e.g. --serve 127.0.0.1:9219 --interval 300.")
    if textfile is not None:
        if is_stdout(textfile) and (as_json or as_jsonl or as_nagios):
            raise UsageError("--textfile - and another output both write standard output",
                             "Give --textfile a file name (node_exporter's textfile directory).")
        if not is_stdout(textfile):
            resolve_output(textfile, "--textfile")  # a bad path fails now, not after the whole run


def _check_html(html: str | None, serve: str | None, other_stdout: bool, textfile: str | None) -> None:
    """``--html``: one run's report (not with --serve); ``-`` only when nothing else writes stdout."""
    if html is None:
        return
    from certdoctor.cli.report import check_html
    from certdoctor.errors import UsageError
    from certdoctor.fsutil import is_stdout

    if serve is not None:
        raise UsageError("--serve runs until stopped; --html reports one run",
                         "Run `certdoctor report STATE --html FILE` on the exporter's state file instead.")
    if is_stdout(html) and (other_stdout or (textfile is not None and is_stdout(textfile))):
        raise UsageError("--html - and another output both write standard output", "Give --html a file name.")
    check_html(html)


def _write_html(html: str, rows: list, state) -> None:
    """The run's rows and their recent changes (the state's history of these targets, or the
    rows' own transitions without state), after the run."""
    from certdoctor.cli.report import write_html
    from certdoctor.render import html as render

    if state is not None:
        names = {r.target for r in rows}
        changes = render.changes_from_history(e for e in state.recent() if e["target"] in names)
    else:
        changes = render.changes_from_rows(rows)
    write_html(html, render.render_bytes([render.from_row(r) for r in rows], changes, title="certdoctor monitor",
                                         source=f"certdoctor monitor ({len(rows)} targets)"))


def _serve(listen, interval, targets, config, targets_file, ca_file, client, timeout, warn_days, crit_days, proxy,
           resolve, password, concurrency, allow_private_fetch, webhooks=(), state=None) -> int:
    from certdoctor.monitor.exporter import Exporter, bind, parse_listen, serve

    host, port = parse_listen(listen)
    fleet, defaults = _fleet(targets, config, targets_file, ca_file, client, timeout, warn_days, crit_days, proxy,
                             resolve, password, allow_empty=True, webhooks=webhooks)
    exporter = Exporter(fleet, defaults, interval=interval or policy.MONITOR_SERVE_INTERVAL_SECONDS,
                        concurrency=concurrency, allow_private_fetch=allow_private_fetch, state=state)
    return serve(exporter, bind(exporter, host, port))


def _specs(targets, config, targets_file, ca_file, client, timeout, warn_days, crit_days, proxy, resolve, password,
           webhooks=()):
    fleet, _ = _fleet(targets, config, targets_file, ca_file, client, timeout, warn_days, crit_days, proxy, resolve,
                      password, webhooks=webhooks)
    return fleet()


def _fleet(targets, config, targets_file, ca_file, client, timeout, warn_days, crit_days, proxy, resolve, password,
           *, allow_empty: bool = False, webhooks=()):
    """``(fleet, defaults)``: ``fleet()`` is a fresh iterator of the targets (the --targets file
    re-opened and streamed each time; the command line and --config read once, here)."""
    import itertools

    from certdoctor.cli.common import install_resolve
    from certdoctor.errors import UsageError
    from certdoctor.monitor.config import Defaults, from_argument, load_config, stream_targets
    from certdoctor.trust.ca_file import check_ca_file

    if warn_days < crit_days:
        raise UsageError(f"--warn-days ({warn_days}) must not be below --crit-days ({crit_days})",
                         "warn-days is the earlier alarm, e.g. --warn-days 30 --crit-days 7.")
    if not (targets or config or targets_file or allow_empty):
        raise UsageError("nothing to monitor", "Give TARGETs, --config FILE.toml or --targets FILE.")
    check_ca_file(ca_file)
    install_resolve(resolve)
    defaults = Defaults(ca_file=ca_file, client=client, proxy=proxy, warn_days=warn_days, crit_days=crit_days,
                        timeout=timeout, password=password, webhooks=tuple(webhooks))
    from_config: list = []
    if config:
        defaults, from_config = load_config(config, defaults)
    argv = [from_argument(t, defaults, f"argument {i + 1}") for i, t in enumerate(targets)]

    def fleet():
        streamed = stream_targets(targets_file, defaults) if targets_file else iter(())
        return itertools.chain(argv, from_config, streamed)

    return fleet, defaults


def _run(specs, concurrency: int, allow_private_fetch: bool, as_json: bool, as_jsonl: bool, as_nagios: bool = False,
         textfile: str | None = None, state=None, workers="auto", html: str | None = None,
         dask: str | None = None) -> int:
    import asyncio
    import time

    from certdoctor.monitor.result import exit_code as exit_of
    from certdoctor.monitor.run import RunReport, run_monitor
    from certdoctor.net.resolve import allowing_private_fetch
    from certdoctor.render import monitor as render
    from certdoctor.render.text import console, is_terminal

    from certdoctor.fsutil import is_stdout

    statuses: list[str] = []
    kept: list = []  # --json: the row objects only; the table: the rows
    con = console()
    table = not (as_json or as_jsonl or as_nagios or (textfile is not None and is_stdout(textfile))
                 or (html is not None and is_stdout(html)))
    html_rows: list = []  # --html: every row
    show_progress = table and is_terminal(None)
    nagios = render.Nagios() if as_nagios else None
    metric_families = None
    if textfile is not None:
        from certdoctor.monitor.metrics import Families

        metric_families = Families()
    started = time.monotonic()
    report = RunReport()

    async def consume(progress) -> None:
        async for row in run_monitor(specs, concurrency=concurrency, progress=progress.update, state=state,
                                     report=report, workers=workers, dask=dask):
            statuses.append(row.status)
            if html is not None:
                html_rows.append(row)
            if metric_families is not None:
                metric_families.add(row)
            if nagios is not None:
                nagios.add(row)
            elif as_jsonl:
                click.echo(render.jsonl(row))
            elif as_json:
                kept.append(row.to_json())
            elif table:
                kept.append(row)

    with allowing_private_fetch(allow_private_fetch), render.Progress(con, show_progress) as progress:
        asyncio.run(consume(progress))
    code = exit_of(statuses)
    if metric_families is not None:
        from certdoctor.fsutil import write_atomic
        from certdoctor.monitor.metrics import self_families

        fams = metric_families.build() + self_families(last_run=time.time(), duration=time.monotonic() - started,
                                                       targets=len(statuses))
        write_atomic(textfile, render.textfile(fams), 0o644, parents=False, what="--textfile")
    if html is not None:
        _write_html(html, html_rows, state)
    for line in render.report_lines(report):  # webhook and state failures: stderr, every mode
        click.echo(f"warning: {line}", err=True)
    if nagios is not None:
        click.echo(nagios.line(code))
    elif as_json:
        from certdoctor.render.json import emit

        emit(render.monitor_json(kept, code, report=report))
    elif table:
        render.render_table(kept, code, con, report=report)
    return code
