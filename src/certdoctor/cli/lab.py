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

from certdoctor.cli.common import Exit, console
from certdoctor import policy
from certdoctor.cli.options import Seconds, json_option


@click.command("lab")
@click.option("--list", "list_only", is_flag=True, help="List the scenarios without starting anything.")
@click.option("--scenario", "-s", "scenarios", multiple=True, metavar="ID",
              help="Serve only this scenario (repeatable). Default: all.")
@click.option("--duration", type=Seconds(0, policy.LAB_MAX_SECONDS), default=None, metavar="SECONDS",
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
        if as_json:
            from certdoctor.render.json import emit
            from certdoctor.render.lab import list_json

            emit(list_json(selected))
        else:
            from certdoctor.render.lab import render_list

            render_list(selected, console())
        return Exit.OK

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
            from certdoctor.render.json import emit
            from certdoctor.render.lab import serving_json

            emit(serving_json(lab))
        else:
            from certdoctor.render.lab import render_serving

            render_serving(lab, console())
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
