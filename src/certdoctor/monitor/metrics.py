"""Monitor rows as Prometheus metric families: the contract of docs/MONITOR-METRICS.md, as a pure
function of the rows (no clock, no socket, no registry of its own).

    >>> fams = families(rows)                                  # doctest: +SKIP
    >>> [f.name for f in fams][:2]
    ['certdoctor_probe_success', 'certdoctor_chain_verified']
    >>> registry = collector_registry(fams)                    # doctest: +SKIP
    >>> prometheus_client.generate_latest(registry)            # doctest: +SKIP

:class:`Families` adds one row at a time (the CLI feeds it as rows complete: memory follows the
samples, not the rows), :func:`families` is the same over an iterable, :func:`self_families` the
exporter's own metrics (``certdoctor_monitor_*``), and :class:`Snapshot` a
``prometheus_client`` collector serving a fixed list of families (``/metrics``, ``/probe``,
``--textfile``).

What is read from a row (:class:`~certdoctor.monitor.result.Row`):

* ``target``, ``kind``, ``verified``, ``reason``, ``elapsed``, ``findings`` (``code``,
  ``severity``), ``certificates`` (``position``, ``fingerprint_sha256``, ``not_before``,
  ``not_after``, ``on_path``, ``subject``, ``issuer``, ``serial``);
* read defensively (``getattr`` with a default, so a row of an older or newer shape is still
  exported): ``leaf_changed_at`` and, failing that, ``changed_at`` — when the monitor's state last
  saw the served leaf change (an aware ``datetime`` or Unix seconds); absent or ``None``: no
  ``certdoctor_cert_change_timestamp_seconds`` for the target (the first sight of a target is not
  a change).

Rules of the contract implemented here:

* ``probe_success`` is 1 when certificates were obtained (the endpoint sent a chain, whatever its
  verification said; the file was read and parsed), else 0;
* ``chain_verified`` only when ``probe_success`` is 1 and the target is an endpoint (a file has no
  path to a trust store to verify: no series, so ChainVerificationFailed never fires for files);
  1 when the row is verified, 0 otherwise with ``reason`` = the stdlib's ``verify_message``
  wording of the deciding finding (:data:`REASONS`), or that finding's code when the stdlib has
  no wording for it; ``reason=""`` when verified. ``EXPIRING_SOON`` under ``crit_days`` makes a
  row critical but is not a verification failure: such a chain is exported as verified;
* ``position`` is a string, ``fingerprint_sha256`` and ``serial`` lower-case hex without colons,
  timestamps Unix seconds, ``on_path`` ``"true"``/``"false"``;
* every label value passes :func:`certdoctor._text.safe` (no control or bidi character) and is
  cut to :data:`~certdoctor.policy.MONITOR_LABEL_MAX` characters (ending in ``…``);
* a label set seen twice (the same target listed twice, two findings of one code) is exported
  once (the first row's value): Prometheus rejects a scrape with a duplicate series.
"""

from __future__ import annotations

import datetime as _dt
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Sequence

from certdoctor import policy
from certdoctor._text import safe
from certdoctor.model import Code

if TYPE_CHECKING:  # pragma: no cover
    from certdoctor.monitor.result import Row

PREFIX = "certdoctor_"
#: a failing chain's ``reason`` label: the stdlib's ``SSLCertVerificationError.verify_message``
#: for the deciding finding's code (OpenSSL 3 spellings, as the lab's scenarios record them);
#: a code not listed is its own reason (``STRICT_X509`` …)
REASONS: dict[str, str] = {
    Code.CHAIN_INCOMPLETE.value: "unable to get local issuer certificate",
    Code.UNTRUSTED_ROOT.value: "unable to get local issuer certificate",
    Code.EXPIRED.value: "certificate has expired",
    Code.NOT_YET_VALID.value: "certificate is not yet valid",
    Code.SELF_SIGNED.value: "self-signed certificate",
    Code.INTERCEPTING_PROXY.value: "self-signed certificate in certificate chain",
    Code.HOSTNAME_MISMATCH.value: "hostname mismatch",
    Code.NO_SAN.value: "hostname mismatch",
    Code.REVOKED.value: "certificate revoked",
    Code.PIN_MISMATCH.value: "pin mismatch",
    Code.WEAK_SIGNATURE.value: "CA signature digest algorithm too weak",
    Code.WEAK_KEY.value: "EE certificate key too weak",
    Code.INVALID_CA.value: "invalid CA certificate",
    Code.PATH_LENGTH.value: "path length constraint exceeded",
    Code.NAME_CONSTRAINTS.value: "permitted subtree violation",
    Code.WRONG_EKU.value: "unsupported certificate purpose",
    Code.UNHANDLED_CRITICAL_EXTENSION.value: "unhandled critical extension",
}

# (name, help, label names) of each family, in exposition order
_SPECS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("probe_success", "1 when the target's certificates were obtained (whatever verification then says), "
     "else 0.", ("target",)),
    ("chain_verified", "1 when the chain was fully verified (trust, hostname, validity, revocation, pins), "
     "else 0 with the reason; only when probe_success is 1, endpoints only.", ("target", "reason")),
    ("cert_not_after_timestamp_seconds", "notAfter of each certificate received, Unix seconds.",
     ("target", "position", "fingerprint_sha256", "on_path")),
    ("cert_not_before_timestamp_seconds", "notBefore of each certificate received, Unix seconds.",
     ("target", "position", "fingerprint_sha256", "on_path")),
    ("cert", "One series per certificate received (value 1).",
     ("target", "position", "fingerprint_sha256")),
    ("finding", "1 for each finding of the target's last run.", ("target", "code", "severity")),
    ("probe_duration_seconds", "Wall time of the target's last probe, seconds.", ("target",)),
    ("cert_change_timestamp_seconds", "When the monitor's state last saw the served leaf change, Unix seconds.",
     ("target",)),
)
_INFO = "cert"  # the one info family: certdoctor_cert_info (OpenMetrics: family certdoctor_cert, type info)
_ELLIPSIS = "…"


def label(value: Any) -> str:
    """A label value: ``safe`` (one printable line) and at most ``MONITOR_LABEL_MAX`` characters."""
    text = safe("" if value is None else value)
    limit = policy.MONITOR_LABEL_MAX
    return text if len(text) <= limit else text[: limit - len(_ELLIPSIS)] + _ELLIPSIS


def hex_lower(text: str | None) -> str:
    """``AB:CD:…`` (or ``abcd…``) as ``abcd…``: lower-case hex, no colons."""
    return (text or "").replace(":", "").lower()


def timestamp(value: Any) -> float | None:
    """Unix seconds of an aware (or UTC-naive) ``datetime``, or of a number; ``None`` otherwise."""
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.timezone.utc)
        return value.timestamp()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def probe_success(row: "Row") -> bool:
    """Were the target's certificates obtained? (A chain received — ``verified`` is then not
    ``None`` — or certificates parsed from the file.)"""
    return getattr(row, "verified", None) is not None or bool(getattr(row, "certificates", ()))


def _errors(row: "Row") -> list:
    findings = getattr(row, "findings", ()) or ()
    return [f for f in findings if getattr(getattr(f, "severity", None), "value", None) == "error"]


def chain_verified(row: "Row") -> tuple[bool, str]:
    """``(verified, reason)`` of an endpoint that sent a chain (see the module docstring)."""
    blocking = [f for f in _errors(row) if f.code is not Code.EXPIRING_SOON]
    if row.verified and not blocking:
        return True, ""
    if row.verified is False and not blocking and _errors(row):
        return True, ""  # only EXPIRING_SOON under crit_days: a verified chain close to its end
    code = blocking[0].code.value if blocking else (getattr(row, "reason", None) or "unknown")
    return False, REASONS.get(code, code)


def changed_at(row: "Row") -> float | None:
    """When the state last saw the leaf change (``leaf_changed_at``, else ``changed_at``), seconds."""
    for name in ("leaf_changed_at", "changed_at"):
        ts = timestamp(getattr(row, name, None))
        if ts is not None:
            return ts
    return None


class Families:
    """The metric families of a fleet, built a row at a time (:meth:`add`), read by :meth:`build`."""

    def __init__(self) -> None:
        self._samples: dict[str, dict[tuple[str, ...], Any]] = {name: {} for name, _, _ in _SPECS}

    def _put(self, name: str, labels: tuple[str, ...], value: Any) -> None:
        self._samples[name].setdefault(labels, value)  # first wins: no duplicate series

    def add(self, row: "Row") -> "Families":
        target = label(row.target)
        ok = probe_success(row)
        self._put("probe_success", (target,), 1.0 if ok else 0.0)
        if ok and getattr(row, "kind", "endpoint") == "endpoint":
            verified, reason = chain_verified(row)
            self._put("chain_verified", (target, label(reason)), 1.0 if verified else 0.0)
        for c in getattr(row, "certificates", ()) or ():
            key = (target, str(c.position), hex_lower(c.fingerprint_sha256))
            on_path = "true" if (c.on_path or c.position == 0) else "false"
            na, nb = timestamp(c.not_after), timestamp(c.not_before)
            if na is not None:
                self._put("cert_not_after_timestamp_seconds", key + (on_path,), na)
            if nb is not None:
                self._put("cert_not_before_timestamp_seconds", key + (on_path,), nb)
            self._put(_INFO, key, {"subject": label(c.subject), "issuer": label(c.issuer),
                                   "serial": hex_lower(c.serial)})
        for f in getattr(row, "findings", ()) or ():
            self._put("finding", (target, label(f.code.value), label(f.severity.value)), 1.0)
        elapsed = getattr(row, "elapsed", None)
        if isinstance(elapsed, (int, float)):
            self._put("probe_duration_seconds", (target,), float(elapsed))
        changed = changed_at(row)
        if changed is not None:
            self._put("cert_change_timestamp_seconds", (target,), changed)
        return self

    def build(self) -> list:
        """The families (``prometheus_client.core`` objects), every family present even when empty
        (its HELP and TYPE say what the exporter can export)."""
        from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily

        out = []
        for name, doc, labels in _SPECS:
            if name == _INFO:
                fam = InfoMetricFamily(PREFIX + name, doc, labels=list(labels))
            else:
                fam = GaugeMetricFamily(PREFIX + name, doc, labels=list(labels))
            for key, value in self._samples[name].items():
                fam.add_metric(list(key), value)
            out.append(fam)
        return out


def families(rows: Iterable["Row"]) -> list:
    """The metric families of ``rows`` (docs/MONITOR-METRICS.md), in :data:`_SPECS` order."""
    fams = Families()
    for row in rows:
        fams.add(row)
    return fams.build()


def self_families(*, last_run: float | None, duration: float | None, targets: int | None) -> list:
    """The exporter's own metrics: ``certdoctor_monitor_last_run_timestamp_seconds`` (when the
    latest complete fleet run ended), ``certdoctor_monitor_run_duration_seconds`` (how long it
    took) and ``certdoctor_monitor_targets`` (its rows); a value not known yet is not exported."""
    from prometheus_client.core import GaugeMetricFamily

    out = []
    for name, doc, value in (
            ("monitor_last_run_timestamp_seconds", "When the latest complete fleet run ended, Unix seconds.",
             last_run),
            ("monitor_run_duration_seconds", "How long the latest complete fleet run took, seconds.", duration),
            ("monitor_targets", "Targets (rows) in the latest complete fleet run.", targets)):
        fam = GaugeMetricFamily(PREFIX + name, doc)
        if value is not None:
            fam.add_metric([], float(value))
        out.append(fam)
    return out


class Snapshot:
    """A ``prometheus_client`` collector answering a fixed list of families (swap ``families``
    to publish a new snapshot: one attribute assignment, atomic for the scraping threads)."""

    def __init__(self, fams: Sequence = ()) -> None:
        self.families = list(fams)

    def collect(self) -> Iterator:
        yield from self.families

    def describe(self) -> list:
        return []  # unchecked collector: the names change with the snapshot, never registered twice


def collector_registry(fams: Sequence) -> Any:
    """A fresh ``CollectorRegistry`` holding only ``fams`` (no process or platform metrics)."""
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Snapshot(fams))
    return registry


def exposition(fams: Sequence, accept: str | None = None) -> tuple[bytes, str]:
    """``(body, content type)`` of ``fams`` for an HTTP ``Accept`` header (OpenMetrics when asked,
    else the text format 0.0.4), as prometheus_client's own handler negotiates."""
    from prometheus_client.exposition import choose_encoder

    encoder, content_type = choose_encoder(accept or "")
    return encoder(collector_registry(fams)), content_type


def text(fams: Sequence) -> bytes:
    """``fams`` in the text format 0.0.4 (node_exporter's textfile collector reads this)."""
    from prometheus_client import generate_latest

    return generate_latest(collector_registry(fams))


__all__ = ["REASONS", "Families", "families", "self_families", "Snapshot", "collector_registry", "exposition",
           "text", "label", "hex_lower", "timestamp", "probe_success", "chain_verified", "changed_at"]
