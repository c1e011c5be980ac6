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
    _check_pins(ctx.path, pins, f)
    return f


def _check_pins(path: "PathResult", pins: Sequence[str], f: list[Finding]) -> None:
    wanted = {p.split("/", 1)[-1] for p in pins}  # already canonical sha256/B64 (pin.parse_pins)
    seen = [c.spki_pin for c in path.path]
    if not wanted & set(seen):
        f.append(Finding(
            Code.PIN_MISMATCH, Severity.ERROR,
            "No certificate of the chain matches your pins.",
            ("The server presents keys none of which you pinned: either the server rotated its key without a backup "
             "pin, or someone in the middle presents a different (possibly valid) certificate."),
            tuple([f"expected: sha256/{w}" for w in sorted(wanted)] + [f"presented: sha256/{s} ({c.display_name})" for s, c in zip(seen, path.path)]),
            "Confirm with the server's operator which key is right; update the pins (`certdoctor pin URL`).",
            Actor.CLIENT_USER, None))
