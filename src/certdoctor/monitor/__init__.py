"""Fleet monitoring: every endpoint and certificate file, judged by diagnose's checks (issue 11).

* :mod:`certdoctor.monitor.config` — targets (command line, TOML, streamed ``--targets``);
* :mod:`certdoctor.monitor.engine` — the asyncio engine (bounded concurrency, one row per target);
* :mod:`certdoctor.monitor.result` — the result row and its JSON (docs/MONITOR.md);
* :mod:`certdoctor.monitor.run` — :func:`run_monitor`, the one call the CLI makes.
"""

from certdoctor._lazy import exporter

_EXPORTS = {
    "run_monitor": "run",
    "monitor": "run",
    "Row": "result",
    "CertFacts": "result",
    "TargetSpec": "config",
    "Defaults": "config",
    "Engine": "engine",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = exporter(__name__, _EXPORTS)
