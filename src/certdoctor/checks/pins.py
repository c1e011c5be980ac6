"""PIN_MISMATCH: no certificate of the path carries a pinned key (SPKI SHA-256)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from certdoctor.model import Actor, Code, Finding, Severity

if TYPE_CHECKING:  # pragma: no cover
    from certdoctor.checks.context import Context
    from certdoctor.x509.path import PathResult


def check(ctx: "Context") -> list[Finding]:
    pins = ctx.evidence.options.pins
    if ctx.path is None or not pins:
        return []
    f: list[Finding] = []
    outcome = ctx.evidence.outcome
    _check_pins(ctx.path, pins, f, outcome.not_run if outcome is not None else None)
    if not f and outcome is not None and outcome.not_run == PIN_RACE:
        wanted = sorted({p.split("/", 1)[-1] for p in pins})
        f.append(Finding(
            Code.PIN_MISMATCH, Severity.ERROR,
            "The server showed a pinned key to one connection and another key to the next.",
            ("The chain certdoctor captured carries a pinned key, but the real client's own connection was "
             "presented keys none of which you pinned: the server (or someone in the middle) picks the key per "
             "connection. The client aborted right after the handshake: the server was sent no request."),
            tuple(f"expected: sha256/{w}" for w in wanted) + (outcome.error or "",),
            "Find out which key is right with the server's operator; until then do not send this server data.",
            Actor.CLIENT_USER, None))
    return f


#: ``net/client.py`` ``PIN_RACE`` (checks never import ``net``): the real client's own connection
#: presented no pinned key, so it sent no request
PIN_RACE = "pin mismatch on the real client's connection"


def pins_match(path: "PathResult | None", pins: Sequence[str]) -> bool:
    """Does a certificate of ``path`` carry one of ``pins`` (canonical ``sha256/B64``)? No
    path (nothing presented) matches nothing. The one rule: this check, and gather's decision
    not to run the real client against a server that fails ``--pin``."""
    if path is None:
        return False
    wanted = {p.split("/", 1)[-1] for p in pins}
    return bool(wanted & {c.spki_pin for c in path.path})


def _check_pins(path: "PathResult", pins: Sequence[str], f: list[Finding], not_run: str | None = None) -> None:
    wanted = {p.split("/", 1)[-1] for p in pins}  # already canonical sha256/B64 (pin.parse_pins)
    seen = [c.spki_pin for c in path.path]
    if not pins_match(path, pins):
        said = (f"the real client was not run ({not_run}): the server was sent no request",) if not_run else ()
        f.append(Finding(
            Code.PIN_MISMATCH, Severity.ERROR,
            "No certificate of the chain matches your pins.",
            ("The server presents keys none of which you pinned: either the server rotated its key without a backup "
             "pin, or someone in the middle presents a different (possibly valid) certificate."),
            tuple([f"expected: sha256/{w}" for w in sorted(wanted)] + [f"presented: sha256/{s} ({c.display_name})" for s, c in zip(seen, path.path)])
            + said,
            "Confirm with the server's operator which key is right; update the pins (`certdoctor pin URL`).",
            Actor.CLIENT_USER, None))
