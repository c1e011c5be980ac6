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
    return f


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
