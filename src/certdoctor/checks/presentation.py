"""CHAIN_ORDER and CHAIN_EXTRA_CERT: how the server presents its chain."""

from __future__ import annotations

from typing import TYPE_CHECKING

from certdoctor.model import Actor, ChainInfo, Code, Finding, Severity

if TYPE_CHECKING:  # pragma: no cover
    from certdoctor.checks.context import Context


def check(ctx: "Context") -> list[Finding]:
    if ctx.chain is None:
        return []
    f: list[Finding] = []
    _check_presentation(ctx.chain, f)
    return f


def _check_presentation(chain: ChainInfo, f: list[Finding]) -> None:
    if chain.off_path:
        names = [f"#{i} {chain.certs[i].display_name!r}" for i in chain.off_path]
        f.append(Finding(
            Code.CHAIN_EXTRA_CERT, Severity.WARNING,
            f"The server sends {len(chain.off_path)} certificate(s) that are not on its leaf's path.",
            ("OpenSSL ignores certificates it cannot use, so Python clients still work, but stricter clients "
             "(Java, some TLS 1.2 stacks) may not, and it wastes bytes in every handshake."),
            tuple(f"not on the path: {n} (issuer {chain.certs[int(n.split()[0][1:])].issuer})" for n in names),
            "The server's operator should serve only leaf + intermediates: `certdoctor convert chain.pem "
            "full_chain.pem --order` writes the right file.",
            Actor.SERVER_OPERATOR, None))
    on_path = chain.path
    if len(on_path) > 1 and tuple(on_path) != tuple(range(len(on_path))):
        f.append(Finding(
            Code.CHAIN_ORDER, Severity.WARNING,
            "The server sends its chain in the wrong order.",
            ("TLS expects leaf first, then each issuer in turn. OpenSSL builds the path from an unordered pool, "
             "so Python tolerates it; strict peers may not."),
            (f"sent order: {', '.join(c.display_name for c in chain.certs)}",
             f"right order: {', '.join(chain.certs[i].display_name for i in on_path)}"),
            "Serve leaf, then intermediates, in that order: `certdoctor convert chain.pem full_chain.pem --order`.",
            Actor.SERVER_OPERATOR, None))
