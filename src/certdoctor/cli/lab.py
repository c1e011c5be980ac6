"""``certdoctor lab``: serve the built-in lab of broken TLS endpoints on 127.0.0.1.

    certdoctor lab                       # serve every scenario until Ctrl-C
    certdoctor lab --duration 30         # ... for 30 seconds (scripts, tests)
    certdoctor lab --list [--json]       # what there is, without starting anything
"""

from __future__ import annotations

import signal
import sys
import threading
import time

import click

from certdoctor.cli.common import Exit, console, emit_json, json_option

RESOLVE_HINT = "*.lab.test:127.0.0.1"


def _codes(codes) -> str:
    return ", ".join(c.value for c in codes) or "OK"


def _scenario_doc(sc) -> dict:
    return {
        "id": sc.id,
        "hostname": sc.hostname,
        "description": sc.description,
        "expected_codes": [c.value for c in sc.expected_codes],
        "requests_error": sc.requests_error,
        "requests_error_default": sc.requests_error_default,
        "strict_error": sc.strict_expected,
        "via_proxy": sc.via_proxy,
    }


def _list(as_json: bool, selected) -> int:
    if as_json:
        emit_json({"scenarios": [_scenario_doc(s) for s in selected]})
        return Exit.OK
    from rich.table import Table

    table = Table(title="certdoctor lab scenarios", show_lines=False)
    table.add_column("scenario", style="bold", no_wrap=True)
    table.add_column("hostname", overflow="fold")
    table.add_column("expected codes", overflow="fold")
    table.add_column("requests says (lab root trusted)")
    for s in selected:
        table.add_row(s.id, s.hostname, _codes(s.expected_codes),
                      s.requests_error or "OK" + (f" (3.13: {s.strict_error})" if s.strict_error else ""))
    console().print(table)
    return Exit.OK


def _serving_doc(lab) -> dict:
    scen = {s.id: s for s in lab.scenarios}
    return {
        "ca_file": str(lab.ca_file),
        "workdir": str(lab.workdir),
        "http_base": lab.http_base,
        "proxy_url": lab.proxy_url,
        "proxy_ca_file": str(lab.proxy_ca_file),
        "client_cert_file": str(lab.client_cert_file),
        "client_key_file": str(lab.client_key_file),
        "resolve": RESOLVE_HINT,
        "started_in": round(lab.started_in or 0.0, 3),
        "endpoints": [
            {
                "scenario": e.scenario,
                "url": e.url,
                "hostname": e.hostname,
                "host": e.host,
                "port": e.port,
                "proxy": e.proxy,
                "expected_codes": [c.value for c in scen[e.scenario].expected_codes]
                if e.scenario in scen else [],
            }
            for e in lab.endpoints
        ],
    }


def _print_serving(lab) -> None:
    from rich.table import Table

    out = console()
    scen = {s.id: s for s in lab.scenarios}
    table = Table(title=f"certdoctor lab: {len(lab.endpoints)} endpoint(s) on 127.0.0.1 "
                        f"(started in {lab.started_in:.2f} s)")
    table.add_column("scenario", style="bold", no_wrap=True)
    table.add_column("URL", overflow="fold")
    table.add_column("expected codes", overflow="fold")
    for e in lab.endpoints:
        sc = scen.get(e.scenario)
        url = e.url + (f"  via {e.proxy}" if e.proxy else "")
        table.add_row(e.scenario, url, _codes(sc.expected_codes) if sc else "")
    out.print(table)
    good = lab.endpoints.get("good")
    lines = [
        f"CA file (the lab root):  {lab.ca_file}",
        f"work directory (PEMs):   {lab.workdir}",
        f"helper HTTP server:      {lab.http_base}  (AIA, CRL, OCSP, /hostile/...)",
        f"intercepting proxy:      {lab.proxy_url}  (its root: {lab.proxy_ca_file})",
        f"client certificate:      {lab.client_cert_file}  key {lab.client_key_file}",
        "",
        "The *.lab.test names resolve only where you say so:",
        f"  certdoctor commands: --resolve '{RESOLVE_HINT}'  "
        f"(or CERTDOCTOR_RESOLVE='{RESOLVE_HINT}')",
    ]
    if good is not None:
        lines.append(f"  curl --resolve {good.hostname}:{good.port}:127.0.0.1 "
                     f"--cacert {lab.ca_file} {good.url}")
    for line in lines:
        # soft wrap: long paths and commands must stay copy-pasteable
        out.print(line, soft_wrap=True, markup=False)
    out.print("Ctrl-C stops the lab.")


@click.command("lab")
@click.option("--list", "list_only", is_flag=True, help="List the scenarios without starting anything.")
@click.option("--scenario", "-s", "scenarios", multiple=True, metavar="ID",
              help="Serve only this scenario (repeatable). Default: all.")
@click.option("--duration", type=click.FloatRange(min=0), default=None, metavar="SECONDS",
              help="Stop after this many seconds (default: until Ctrl-C).")
@click.option("--workdir", type=click.Path(file_okay=False), default=None,
              help="Write the PKI here and keep it (default: a temp dir removed on exit).")
@json_option
def command(list_only: bool, scenarios: tuple[str, ...], duration: float | None,
            workdir: str | None, as_json: bool) -> int:
    """Serve the built-in lab of broken TLS endpoints on 127.0.0.1.

    Every scenario gets a real TLS server on an ephemeral port, with certificates from a
    private PKI made at start. Names are SCENARIO.lab.test; make them resolve with
    --resolve '*.lab.test:127.0.0.1' (certdoctor) or curl --resolve.
    """
    from certdoctor.lab import SCENARIOS

    if scenarios:
        from certdoctor.errors import UsageError

        unknown = [s for s in scenarios if s not in SCENARIOS]
        if unknown:
            raise UsageError(f"unknown lab scenario(s): {', '.join(unknown)}",
                             "See them with: certdoctor lab --list")
        selected = [s for s in SCENARIOS if s.id in scenarios]
    else:
        selected = list(SCENARIOS)
    if list_only:
        return _list(as_json, selected)

    from certdoctor.lab import Lab

    lab = Lab(scenarios=[s.id for s in selected], workdir=workdir)
    stop = threading.Event()
    old_handlers: dict[int, object] = {}
    if threading.current_thread() is threading.main_thread():
        def _on_signal(signum, frame):  # Ctrl-C / SIGTERM: stop cleanly, whenever they come
            stop.set()
        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                old_handlers[signum] = signal.signal(signum, _on_signal)
            except (ValueError, OSError):  # pragma: no cover
                pass
    try:
        lab.start()
        if as_json:
            emit_json(_serving_doc(lab))
        else:
            _print_serving(lab)
        sys.stdout.flush()
        deadline = None if duration is None else time.monotonic() + duration
        try:
            while not stop.is_set():
                left = 0.5 if deadline is None else min(0.5, deadline - time.monotonic())
                if left <= 0:
                    break
                stop.wait(left)
        except KeyboardInterrupt:
            pass  # Ctrl-C is the normal way out (when our handler could not be installed)
    finally:
        lab.stop()
        for signum, handler in old_handlers.items():
            try:
                signal.signal(signum, handler)  # type: ignore[arg-type]
            except (ValueError, OSError, TypeError):  # pragma: no cover
                pass
    if not as_json:
        console().print("lab stopped.")
    return Exit.OK
