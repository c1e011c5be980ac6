"""Renderers for an :class:`~certdoctor.expiry.ExpiryReport`: the Nagios text (the plugin line
first, then one block per source) and the JSON document."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from certdoctor.render.text import echo, safe

if TYPE_CHECKING:  # pragma: no cover
    from certdoctor.expiry import ExpiryReport, SourceExpiry


def _fmt_time(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M")


def render_expiry(report: "ExpiryReport") -> None:
    """The summary line, then one block per source (every line sanitised: a name, an error or a
    path is the server's or the user's text)."""
    echo(safe(report.summary))
    for src in report.sources:
        where = safe(f"{src.host}:{src.port}" if src.host else src.source)
        echo("")
        if src.error:
            echo(f"{where} ({src.kind}): {src.state.value}: {safe(src.error)}")
            continue
        echo(f"{where} ({src.kind}): {src.state.value}, {len(src.certs)} certificate"
             f"{'s' if len(src.certs) != 1 else ''}")
        echo(f"  {'#':>2}  {'state':<8}  {'days':>6}  {'used':>6}  {'not before (UTC)':<16}  "
             f"{'not after (UTC)':<16}  name")
        for c in src.certs:
            echo(f"  {c.index:>2}  {c.state.value:<8}  {c.days_left:>6}  {c.lifetime_used:>5.1f}%  "
                 f"{_fmt_time(c.not_before):<16}  {_fmt_time(c.not_after):<16}  {safe(c.name)}")
        if src.clock is not None:
            flag = "  CLOCK_SKEW (> 5 min)" if src.clock.flagged else ""
            echo(f"  clock: {safe(src.clock.note)}{flag}")
        for f in src.findings:
            echo(f"  {f.code.value}: {safe(f.summary)}")


def source_target(src: "SourceExpiry") -> dict[str, Any]:
    """The ``target`` object of one source."""
    from certdoctor.render.json import make_target

    return make_target(src.source, src.kind, path=src.source if src.kind == "file" else None,
                       endpoint=src.target)


def expiry_json(report: "ExpiryReport") -> dict[str, Any]:
    """``certdoctor expiry --json``: the envelope plus schema 1's keys.

    ``certificates`` are every source's chain one after the other and ``findings`` every
    source's findings, their ``cert_index`` pointing into that one list; each entry of
    ``sources`` keeps its own ``certs`` and ``findings`` (``cert_index`` within its chain) and
    says which ``certificates`` are its own (``certificate_index``).
    """
    from cryptography import x509

    from certdoctor.model import ChainInfo
    from certdoctor.render.json import chain_certificates, envelope, fields, make_target

    certificates: list[dict[str, Any]] = []
    findings = []
    sources = []
    for src in report.sources:
        offset = len(certificates)
        chain = ChainInfo.analyse([x509.load_der_x509_certificate(c.der) for c in src.certs if c.der],
                                  report.now) if src.certs else None
        for doc in chain_certificates(chain):
            doc["index"] += offset
            if doc["issued_by"] is not None:
                doc["issued_by"] += offset
            certificates.append(doc)
        findings.extend(f if f.cert_index is None else dataclasses.replace(f, cert_index=f.cert_index + offset)
                        for f in src.findings)
        sources.append({**_source_keys(src), "certificate_index": list(range(offset, len(certificates)))})
    if len(report.sources) == 1:
        target = source_target(report.sources[0])
    else:
        target = make_target(None, "several")
    return envelope(
        "expiry", target=target, exit_code=report.exit_code, findings=findings, certificates=certificates,
        **fields(report, "state", "summary", "warn_days", "crit_days", "now", "soonest_days_left"),
        sources=sources,
    )


def _source_keys(src: "SourceExpiry") -> dict[str, Any]:
    from certdoctor.model import to_jsonable

    doc = to_jsonable(src)
    doc.pop("target", None)
    return doc


def usage_json(message: str) -> dict[str, Any]:
    """The document of a usage error (Nagios UNKNOWN, exit 3): no target, nothing checked."""
    from certdoctor.render.json import envelope

    return envelope("expiry", target=None, exit_code=3, state="UNKNOWN", error=message,
                    summary=usage_line(message))


def usage_line(message: str) -> str:
    return f"CERT UNKNOWN - bad usage: {safe(message)}"


__all__ = ["render_expiry", "expiry_json", "usage_json", "usage_line", "source_target"]
