"""The HTML report: one self-contained page of a fleet (``certdoctor report STATE --html``,
``monitor --html``) or of one endpoint (``diagnose URL --html``), docs/REPORT.md.

    >>> page = render_html([from_row(row) for row in rows], changes, now=now)   # doctest: +SKIP

Self-contained: inline CSS and SVG, no script, no URL to anything outside the page (the favicon
is ``data:,``), and a Content-Security-Policy that forbids every load but inline styles and
``data:`` images, so that even a bug here cannot make the page fetch anything. Every string from
a certificate, a server, a state file or the user (subjects, targets, finding texts, change
details) passes through :func:`certdoctor._text.safe` and then ``html.escape(quote=True)``
(:func:`esc`): a subject ``<script>…`` is text.

The renderer is pure: :class:`ReportTarget` values in (from a monitor row: :func:`from_row`; from
the state file: :func:`from_snapshot`; from a diagnosis: :func:`from_diagnosis`), a ``str`` out.
It never gathers or judges; the chain's "where it broke" is read from the findings the checks
made (:func:`chain_nodes`).

The markup is stable for tests and scripts (docs/REPORT.md): ``tr.target-row[data-target]`` one
per target, ``article.target[data-target][data-status]``, ``rect.bar`` one per distinct
certificate in the timeline, ``li.node[data-state][data-role]`` per certificate of a chain and
``data-broken`` on the link where it broke.
"""

from __future__ import annotations

import datetime as _dt
import html as _html
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from certdoctor import policy
from certdoctor._text import safe

if TYPE_CHECKING:  # pragma: no cover
    from certdoctor.diagnose import Diagnosis
    from certdoctor.model import Finding
    from certdoctor.monitor.result import Row

#: the page's Content-Security-Policy (a ``<meta http-equiv>``): nothing loads but inline styles
#: and ``data:`` images; no script at all
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
#: a certificate's state, as coloured in the chain and the timeline
CERT_STATES = ("ok", "expiring", "expired", "not-yet-valid", "untrusted", "missing")
#: the summary's groups: ``failing`` is ``unknown`` (nothing to judge) and ``error`` (certdoctor failed)
GROUPS = {"ok": "ok", "warning": "warning", "critical": "critical", "unknown": "failing", "error": "failing"}
#: finding codes that mean "the path does not reach a trusted root": the break is at the top
TRUST_CODES = frozenset({"UNTRUSTED_ROOT", "SELF_SIGNED", "CHAIN_INCOMPLETE", "INTERCEPTING_PROXY", "CA_BUNDLE_ENV",
                         "CERTIFI_OUTDATED"})
ORDER = {"critical": 0, "error": 1, "unknown": 2, "warning": 3, "ok": 4}
WHO = {"server-operator": "the server's operator", "client-user": "the client's user",
       "network-admin": "the network/IT team (the proxy's owner)", "nobody": "nobody in particular"}
DAY = _dt.timedelta(days=1)


def esc(value: object) -> str:
    """Text for HTML (element content or a quoted attribute): :func:`safe`, then escaped."""
    return _html.escape(safe("" if value is None else value), quote=True)


# --------------------------------------------------------------------------- the input

@dataclass(frozen=True, slots=True)
class ReportCert:
    """One certificate as the report shows it (``position`` as sent, 0 the leaf)."""

    position: int
    subject: str
    issuer: str
    not_before: _dt.datetime
    not_after: _dt.datetime
    fingerprint_sha256: str = ""
    serial: str = ""
    on_path: bool = True
    self_signed: bool = False
    is_ca: bool | None = None


@dataclass(frozen=True, slots=True)
class ReportFinding:
    code: str
    severity: str
    summary: str
    explanation: str = ""
    fix: str = ""
    who: str = "nobody"
    cert_index: int | None = None

    @classmethod
    def of(cls, f: "Finding | Mapping[str, Any]") -> "ReportFinding":
        if isinstance(f, Mapping):
            return cls(code=str(f.get("code")), severity=str(f.get("severity") or "info"),
                       summary=str(f.get("summary") or f.get("code")), explanation=str(f.get("explanation") or ""),
                       fix=str(f.get("fix") or ""), who=str(f.get("who") or "nobody"), cert_index=f.get("cert_index"))
        return cls(code=f.code.value, severity=f.severity.value, summary=f.summary, explanation=f.explanation,
                   fix=f.fix, who=getattr(f.who, "value", str(f.who)), cert_index=f.cert_index)


@dataclass(frozen=True, slots=True)
class ReportChange:
    """One recorded transition (docs/MONITOR.md's kinds), ``checked_at`` as stored (``…Z``)."""

    target: str
    kind: str
    detail: str
    checked_at: str | None = None


@dataclass(frozen=True, slots=True)
class ReportTarget:
    """One target's latest result. ``notes`` are extra lines of context (a diagnosis' client and
    trust store)."""

    target: str
    kind: str
    status: str
    reason: str | None = None
    verified: bool | None = None
    checked_at: _dt.datetime | None = None
    error: str | None = None
    warn_days: int = policy.EXPIRING_SOON_DAYS
    crit_days: int = policy.CRITICAL_DAYS
    findings: tuple[ReportFinding, ...] = ()
    certificates: tuple[ReportCert, ...] = ()
    notes: tuple[str, ...] = ()


def _dt_of(value: Any) -> _dt.datetime | None:
    if value is None or isinstance(value, _dt.datetime):
        return value if value is None or value.tzinfo else value.replace(tzinfo=_dt.timezone.utc)
    return _dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def from_row(row: "Row") -> ReportTarget:
    """A monitor :class:`~certdoctor.monitor.result.Row`."""
    return ReportTarget(
        target=row.target, kind=row.kind, status=row.status, reason=row.reason, verified=row.verified,
        checked_at=_dt_of(row.checked_at), error=row.error, warn_days=row.warn_days, crit_days=row.crit_days,
        findings=tuple(ReportFinding.of(f) for f in row.findings),
        certificates=tuple(ReportCert(position=c.position, subject=c.subject, issuer=c.issuer,
                                      not_before=_dt_of(c.not_before), not_after=_dt_of(c.not_after),
                                      fingerprint_sha256=c.fingerprint_sha256, serial=c.serial, on_path=c.on_path,
                                      self_signed=c.self_signed, is_ca=c.is_ca) for c in row.certificates))


def from_snapshot(target: str, kind: str, snap: Mapping[str, Any]) -> ReportTarget:
    """A target's last snapshot in the state file (:func:`certdoctor.monitor.changes.snapshot`;
    its ``report`` part holds the findings' texts and the thresholds, absent from older files:
    then the findings are their codes alone)."""
    extra = snap.get("report") or {}
    if extra.get("findings") is not None:
        findings = tuple(ReportFinding.of(f) for f in extra["findings"])
    else:
        findings = tuple(ReportFinding(code=c, severity=s, summary=c)
                         for c, s in sorted((snap.get("findings") or {}).items()))
    certs = tuple(ReportCert(position=int(c.get("position") or 0), subject=str(c.get("subject") or ""),
                             issuer=str(c.get("issuer") or ""), not_before=_dt_of(c.get("not_before")),
                             not_after=_dt_of(c.get("not_after")), fingerprint_sha256=str(c.get("fingerprint_sha256") or ""),
                             serial=str(c.get("serial") or ""), on_path=bool(c.get("on_path", True)),
                             self_signed=bool(c.get("self_signed", c.get("subject") == c.get("issuer"))),
                             is_ca=c.get("is_ca"))
                  for c in snap.get("certificates") or () if c.get("not_before") and c.get("not_after"))
    return ReportTarget(
        target=target, kind=kind, status=str(snap.get("status") or "unknown"), reason=snap.get("reason"),
        verified=snap.get("verified"), checked_at=_dt_of(snap.get("checked_at")), error=extra.get("error"),
        warn_days=int(extra.get("warn_days", policy.EXPIRING_SOON_DAYS)),
        crit_days=int(extra.get("crit_days", policy.CRITICAL_DAYS)), findings=findings, certificates=certs,
        notes=() if snap.get("answered", True) else ("no answer at the last check: the certificates are the last ones seen",))


def from_diagnosis(d: "Diagnosis", input: str | None = None, *, warn_days: int = policy.EXPIRING_SOON_DAYS,
                   crit_days: int = policy.CRITICAL_DAYS) -> ReportTarget:
    """One :class:`~certdoctor.diagnose.Diagnosis` (``certdoctor diagnose URL --html``)."""
    from certdoctor.monitor.result import status_of, with_critical_days

    findings = with_critical_days(d.findings, crit_days)
    certs: list[ReportCert] = []
    if d.chain is not None:
        on = set(d.chain.path)
        certs = [ReportCert(position=i, subject=c.subject, issuer=c.issuer, not_before=_dt_of(c.not_before),
                            not_after=_dt_of(c.not_after), fingerprint_sha256=c.fingerprint_sha256, serial=c.serial,
                            on_path=i in on, self_signed=c.self_signed, is_ca=c.is_ca)
                 for i, c in enumerate(d.chain.certs)]
    path_days = [int((c.not_after - d.now).total_seconds() // 86400) for c in certs if c.on_path]
    status, reason = status_of(findings, min(path_days) if path_days else None, warn_days, crit_days,
                               have_certificates=bool(certs))
    verified = None if not certs else bool(d.ok)
    trust = d.trust
    store = trust.cafile or trust.capath or ("the OS trust store" if trust.uses_os_store else "?")
    notes = [f"client: {d.client} (Python {d.python} rules); trust store: {store} ({trust.source})"]
    if d.outcome is not None and d.outcome.error:
        notes.append(f"{d.client} says: {d.outcome.error[:600]}")
    failure = d.probe.failure
    return ReportTarget(target=input if input is not None else d.target.url, kind="endpoint", status=status,
                        reason=reason, verified=verified, checked_at=_dt_of(d.now),
                        error=None if certs else (getattr(failure, "message", None) or (findings[0].summary if findings else None)),
                        warn_days=warn_days, crit_days=crit_days,
                        findings=tuple(ReportFinding.of(f) for f in findings), certificates=tuple(certs),
                        notes=tuple(notes))


def changes_from_history(entries: Iterable[Mapping[str, Any]]) -> list[ReportChange]:
    """State history entries (``target``, ``kind``, ``detail``, ``checked_at``) as changes."""
    return [ReportChange(target=str(e.get("target")), kind=str(e.get("kind")), detail=str(e.get("detail") or ""),
                         checked_at=e.get("checked_at")) for e in entries]


def changes_from_rows(rows: Iterable["Row"]) -> list[ReportChange]:
    """The transitions the rows of one run carry (a run with state, without its history)."""
    out = []
    for row in rows:
        at = _dt_of(row.checked_at)
        for t in row.transitions:
            out.append(ReportChange(target=row.target, kind=t.kind, detail=t.detail,
                                    checked_at=at.strftime("%Y-%m-%dT%H:%M:%SZ") if at else None))
    return out


# --------------------------------------------------------------------------- states and the chain

def cert_state(c: ReportCert, now: _dt.datetime, warn_days: int) -> str:
    """``not-yet-valid``, ``expired``, ``expiring`` (fewer than ``warn_days`` left) or ``ok``."""
    if now < c.not_before:
        return "not-yet-valid"
    if c.not_after <= now:
        return "expired"
    if c.not_after - now < warn_days * DAY:
        return "expiring"
    return "ok"


@dataclass(frozen=True, slots=True)
class Node:
    """One link of a drawn chain: a certificate received (``cert``), or the issuer at the top that
    was not sent (``cert`` None: the trust store's root, or the missing intermediate)."""

    role: str  # leaf | intermediate | root
    subject: str
    state: str
    note: str
    broken: tuple[str, ...] = ()  # the codes that break the chain here
    cert: ReportCert | None = None


def path_order(certs: Sequence[ReportCert]) -> list[ReportCert]:
    """The certificates on the path, leaf first, each followed by its issuer (by name; the order
    sent when no name matches)."""
    on = sorted((c for c in certs if c.on_path), key=lambda c: c.position) or sorted(certs, key=lambda c: c.position)[:1]
    if not on:
        return []
    ordered, rest = [on[0]], on[1:]
    while rest:
        top = ordered[-1]
        nxt = next((c for c in rest if c.subject == top.issuer), None) if not top.self_signed else None
        nxt = nxt if nxt is not None else rest[0]
        ordered.append(nxt)
        rest.remove(nxt)
    return ordered


def chain_nodes(t: ReportTarget, now: _dt.datetime) -> list[Node]:
    """The chain leaf → intermediates → root, each link's state, and where it broke: an ERROR
    finding about one certificate (``cert_index``: expired, hostname, weak key …) marks that
    certificate; a trust failure (:data:`TRUST_CODES`) marks the top: the root not trusted, or
    the issuer that was not sent (``missing``). A file's certificates are a list, not a path: no
    root is drawn for them."""
    ordered = path_order(t.certificates)
    if not ordered:
        return []
    # fewer than crit_days left is critical, but the chain still verifies: it breaks nowhere
    errors = [f for f in t.findings if f.severity == "error" and f.code != "EXPIRING_SOON"]
    trust = tuple(dict.fromkeys(f.code for f in errors if f.code in TRUST_CODES))
    failed = t.verified is False and bool(errors)
    nodes: list[Node] = []
    for i, c in enumerate(ordered):
        role = "leaf" if i == 0 else ("root" if c.self_signed else "intermediate")
        state = cert_state(c, now, t.warn_days)
        broken = tuple(dict.fromkeys(f.code for f in errors if f.cert_index == c.position and f.code not in TRUST_CODES))
        days = int((c.not_after - now).total_seconds() // 86400)
        note = (f"expired {-days} day(s) ago" if state == "expired" else
                f"not valid before {c.not_before:%Y-%m-%d}" if state == "not-yet-valid" else f"{days} day(s) left")
        nodes.append(Node(role=role, subject=c.subject, state=state, note=note, broken=broken, cert=c))
    if t.kind != "endpoint":
        return nodes
    top = nodes[-1]
    if top.cert is not None and top.cert.self_signed:
        if trust:
            nodes[-1] = Node(role=top.role, subject=top.subject, state=_untrusted(top.state),
                             note=top.note + "; not in the trust store", broken=top.broken + trust, cert=top.cert)
        return nodes
    issuer = ordered[-1].issuer
    if "CHAIN_INCOMPLETE" in trust:
        nodes.append(Node(role="intermediate", subject=issuer, state="missing",
                          note="not sent by the server, not in the trust store", broken=trust))
    elif trust or (failed and not any(n.broken for n in nodes)):
        nodes.append(Node(role="root", subject=issuer, state="untrusted", note="not in the trust store",
                          broken=trust or (t.reason or "UNVERIFIED",)))
    else:
        nodes.append(Node(role="root", subject=issuer, state="ok", note="in the trust store (not sent)"))
    return nodes


def _untrusted(state: str) -> str:
    """Not trusted outranks "expiring" (the colour says the worse); expired stays expired."""
    return state if state in ("expired", "not-yet-valid") else "untrusted"


# --------------------------------------------------------------------------- the timeline axis

class Axis:
    """Time → x in ``0..width``: **piecewise linear**. From ``now - past_days`` to ``now +
    near_days`` over the first ``near_share`` of the width (the next 90 days readable at a
    glance); from there to the last notAfter over the rest (compressed); anything before
    ``now - past_days`` is **clipped** to the left edge."""

    def __init__(self, now: _dt.datetime, end: _dt.datetime | None, *, width: float = 1000.0,
                 past_days: int = policy.REPORT_PAST_DAYS, near_days: int = policy.REPORT_NEAR_DAYS,
                 near_share: float = policy.REPORT_NEAR_SHARE) -> None:
        self.now, self.width = now, width
        self.start = now - past_days * DAY
        self.near = now + near_days * DAY
        self.end = max(end or self.near, self.near + DAY)
        self.split = width * near_share

    def x(self, t: _dt.datetime) -> float:
        if t <= self.start:
            return 0.0
        if t <= self.near:
            return self.split * (t - self.start) / (self.near - self.start)
        if t >= self.end:
            return self.width
        return self.split + (self.width - self.split) * (t - self.near) / (self.end - self.near)

    def pct(self, t: _dt.datetime) -> float:
        return 100.0 * self.x(t) / self.width


def _iso_day(t: _dt.datetime | None) -> str:
    return "" if t is None else t.astimezone(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


# --------------------------------------------------------------------------- the page

_CSS = """
:root{--bg:#fff;--fg:#1b1f24;--muted:#59636e;--line:#d0d7de;--card:#f6f8fa;--ok:#1a7f37;--warn:#9a6700;
--crit:#cf222e;--fail:#8250df;--zone-warn:rgba(212,167,44,.22);--zone-crit:rgba(207,34,46,.18);--bar-ok:#2da44e;
--bar-expiring:#d4a72c;--bar-expired:#cf222e;--bar-nyv:#8c959f;--today:#0969da;--missing-bg:repeating-linear-gradient(45deg,transparent 0 6px,rgba(207,34,46,.15) 6px 12px)}
@media (prefers-color-scheme: dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;--line:#3d444d;--card:#151b23;
--ok:#3fb950;--warn:#d29922;--crit:#f85149;--fail:#ab7df8;--zone-warn:rgba(210,153,34,.22);--zone-crit:rgba(248,81,73,.2);
--bar-ok:#3fb950;--bar-expiring:#d29922;--bar-expired:#f85149;--bar-nyv:#6e7681;--today:#4493f8}}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0 auto;max-width:1200px;padding:16px;background:var(--bg);color:var(--fg);
font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;overflow-wrap:anywhere}
h1{font-size:1.5rem;margin:.2em 0}h2{font-size:1.2rem;margin:1.4em 0 .5em;border-bottom:1px solid var(--line)}
h3{font-size:1.05rem;margin:.2em 0 .4em}h4{font-size:.95rem;margin:.3em 0}
.muted,.meta{color:var(--muted);font-size:.9em}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.88em}
.badge{display:inline-block;padding:0 .5em;border-radius:1em;font-size:.8em;font-weight:600;color:#fff;vertical-align:middle}
[data-status=ok]>.badge,.badge[data-status=ok]{background:var(--ok)}
[data-status=warning]>.badge,.badge[data-status=warning]{background:var(--warn)}
[data-status=critical]>.badge,.badge[data-status=critical]{background:var(--crit)}
[data-status=unknown]>.badge,.badge[data-status=unknown],[data-status=error]>.badge,.badge[data-status=error],.badge[data-status=failing]{background:var(--fail)}
ul.counts{display:flex;flex-wrap:wrap;gap:8px;list-style:none;padding:0;margin:.5em 0}
ul.counts li{flex:1 1 120px;background:var(--card);border:1px solid var(--line);border-radius:8px;padding:8px 12px}
ul.counts b{display:block;font-size:1.6rem}
table{border-collapse:collapse;width:100%;font-size:.92em}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{color:var(--muted);font-weight:600}
.timeline{border:1px solid var(--line);border-radius:8px;padding:8px;background:var(--card)}
.axis{position:relative;height:2.6em;margin:0 0 4px}
.axis span{position:absolute;top:0;transform:translateX(-50%);font-size:.75em;color:var(--muted);white-space:nowrap}
.axis span.start{transform:none}.axis span.end{transform:translateX(-100%)}
.axis span.today{color:var(--today);font-weight:600;top:1.3em}
.lane{margin:2px 0 6px}
.lane .label{font-size:.8em;line-height:1.25}
.lane svg{display:block;width:100%;height:14px}
.zone-warn{fill:var(--zone-warn)}.zone-crit{fill:var(--zone-crit)}
.bar{fill:var(--bar-ok)}.bar[data-state=expiring]{fill:var(--bar-expiring)}.bar[data-state=expired]{fill:var(--bar-expired)}
.bar[data-state=not-yet-valid]{fill:var(--bar-nyv)}
line.today{stroke:var(--today);stroke-width:2}line.split{stroke:var(--muted);stroke-dasharray:3 3;stroke-width:1}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;font-size:.8em;color:var(--muted);margin-top:6px}
.legend i{display:inline-block;width:.9em;height:.9em;border-radius:2px;vertical-align:-1px;margin-right:4px}
article.target{border:1px solid var(--line);border-left:6px solid var(--ok);border-radius:8px;padding:10px 14px;margin:12px 0;break-inside:avoid}
article.target[data-status=warning]{border-left-color:var(--warn)}article.target[data-status=critical]{border-left-color:var(--crit)}
article.target[data-status=unknown],article.target[data-status=error]{border-left-color:var(--fail)}
ol.chain{display:flex;flex-wrap:wrap;align-items:stretch;gap:6px 0;list-style:none;padding:0;margin:.5em 0}
ol.chain li{flex:0 1 250px;min-width:0;border:2px solid var(--ok);border-radius:6px;padding:4px 8px;background:var(--card);font-size:.85em;position:relative}
ol.chain li+li{margin-left:26px}
ol.chain li+li::before{content:"\\2192";position:absolute;left:-22px;top:40%;color:var(--muted);font-size:1.2em}
ol.chain li[data-state=expiring]{border-color:var(--warn)}
ol.chain li[data-state=expired],ol.chain li[data-state=not-yet-valid]{border-color:var(--crit)}
ol.chain li[data-state=untrusted]{border-color:var(--crit);border-style:dashed}
ol.chain li[data-state=missing]{border-color:var(--crit);border-style:dotted;background:var(--missing-bg)}
ol.chain li[data-broken]{box-shadow:0 0 0 3px var(--zone-crit)}
ol.chain .role{display:block;text-transform:uppercase;font-size:.75em;letter-spacing:.05em;color:var(--muted)}
ol.chain .broke{display:block;color:var(--crit);font-weight:600}
.finding{border-top:1px dashed var(--line);padding:6px 0}
.finding[data-severity=error] .sev{color:var(--crit)}.finding[data-severity=warning] .sev{color:var(--warn)}
.finding[data-severity=info] .sev{color:var(--muted)}
.finding p{margin:.25em 0}.fix{white-space:pre-wrap}
.error{color:var(--crit)}
ul.extras,ul.notes{margin:.3em 0;padding-left:1.2em;font-size:.85em}
footer{margin:2em 0 1em;color:var(--muted);font-size:.8em}
@media (max-width:640px){body{padding:10px;font-size:14px}
table.targets thead,table.changes thead{display:none}
table.targets tr,table.changes tr{display:block;border-bottom:1px solid var(--line);padding:4px 0}
table.targets td,table.changes td{display:inline-block;border:0;padding:2px 6px}table.targets td.t,table.changes td.d{display:block}
ol.chain{flex-direction:column}ol.chain li{flex-basis:auto}ol.chain li+li{margin:18px 0 0 0}
ol.chain li+li::before{content:"\\2193";left:45%;top:-19px}}
@media print{:root{--bg:#fff;--fg:#000;--card:#fff;--muted:#444}body{max-width:none;padding:0;font-size:11pt}
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}article.target,.timeline,tr{break-inside:avoid}
a{color:inherit;text-decoration:none}h2{break-after:avoid}}
"""


def _attr(name: str, value: object) -> str:
    return f' {name}="{esc(value)}"'


class _Page:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def add(self, *parts: str) -> None:
        self.parts.extend(parts)


def render_html(targets: Sequence[ReportTarget], changes: Sequence[ReportChange] | None = (), *,
                now: _dt.datetime | None = None, title: str = "certdoctor report",
                source: str | None = None) -> str:
    """The whole page (a ``str``; write it as UTF-8). ``now`` is the clock the timeline marks as
    today (default: the latest ``checked_at``, else the current time); ``source`` says where the
    results came from (a state file, a run), shown in the header. ``changes=None``: no history
    to show (a diagnosis), the section is left out."""
    checked = [t.checked_at for t in targets if t.checked_at is not None]
    if now is None:
        now = max(checked) if checked else _dt.datetime.now(_dt.timezone.utc)
    now = _dt_of(now)
    targets = sorted(targets, key=lambda t: (ORDER.get(t.status, 9), t.target))
    p = _Page()
    p.add("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
          f'<meta http-equiv="Content-Security-Policy" content="{esc(CSP)}">',
          '<meta name="viewport" content="width=device-width, initial-scale=1">',
          '<meta name="color-scheme" content="light dark">',
          '<meta name="referrer" content="no-referrer">',
          '<link rel="icon" href="data:,">',
          f"<title>{esc(title)} — {len(targets)} target{'s' if len(targets) != 1 else ''} — {esc(_iso_day(now))}</title>",
          f"<style>{_CSS}</style></head><body>")
    p.add(f'<header><h1>{esc(title)}</h1><p class="meta">{len(targets)} target{"s" if len(targets) != 1 else ""}'
          f' · as of <time datetime="{esc(now.strftime("%Y-%m-%dT%H:%M:%SZ"))}">{esc(_iso_day(now))}</time>'
          + (f" · from {esc(source)}" if source else "") + "</p></header><main>")
    _summary(p, targets)
    _timeline(p, targets, now)
    if changes is not None:
        _changes(p, changes)
    p.add('<section id="targets"><h2>Targets</h2>')
    by_target: dict[str, list[ReportChange]] = {}
    for c in changes or ():
        by_target.setdefault(c.target, []).append(c)
    for i, t in enumerate(targets, 1):
        _target(p, i, t, now, by_target.get(t.target, []))
    p.add("</section></main>",
          f'<footer>certdoctor · self-contained page: no script, nothing loaded from the network '
          f'(Content-Security-Policy <code>{esc(CSP)}</code>) · docs/REPORT.md</footer></body></html>\n')
    return "".join(p.parts)


def _summary(p: _Page, targets: Sequence[ReportTarget]) -> None:
    groups = {g: 0 for g in ("ok", "warning", "critical", "failing")}
    for t in targets:
        groups[GROUPS.get(t.status, "failing")] += 1
    p.add('<section id="summary"><h2>Summary</h2><ul class="counts">')
    for g, n in groups.items():
        p.add(f'<li data-group="{g}" data-count="{n}"><b>{n}</b><span class="badge" data-status="{g}">{g}</span></li>')
    p.add("</ul>")
    codes: dict[str, tuple[str, int]] = {}
    for t in targets:
        seen: dict[str, str] = {}
        for f in t.findings:
            if f.severity in ("warning", "error"):
                seen[f.code] = "error" if "error" in (seen.get(f.code), f.severity) else f.severity
        for code, sev in seen.items():
            old = codes.get(code)
            codes[code] = ("error" if sev == "error" or (old and old[0] == "error") else sev, (old[1] if old else 0) + 1)
    if codes:
        p.add('<table class="codes"><thead><tr><th>finding code</th><th>severity</th><th>targets</th></tr></thead><tbody>')
        for code, (sev, n) in sorted(codes.items(), key=lambda kv: (kv[1][0] != "error", -kv[1][1], kv[0])):
            p.add(f'<tr data-code="{esc(code)}" data-count="{n}"><td><code>{esc(code)}</code></td>'
                  f'<td>{esc(sev)}</td><td>{n}</td></tr>')
        p.add("</tbody></table>")
    p.add('<table class="targets"><thead><tr><th>status</th><th>target</th><th>days left</th><th>not after</th>'
          "<th>reason</th></tr></thead><tbody>")
    for i, t in enumerate(targets, 1):
        days = [c for c in path_order(t.certificates)]
        soonest = min((c.not_after for c in days), default=None)
        left = "" if soonest is None or t.checked_at is None else str(int((soonest - t.checked_at).total_seconds() // 86400))
        p.add(f'<tr class="target-row"{_attr("data-target", t.target)}{_attr("data-status", t.status)}>'
              f'<td><span class="badge"{_attr("data-status", t.status)}>{esc(t.status)}</span></td>'
              f'<td class="t"><a href="#t{i}">{esc(t.target)}</a></td><td>{esc(left)}</td>'
              f'<td>{esc(soonest.strftime("%Y-%m-%d") if soonest else "")}</td><td><code>{esc(t.reason or "")}</code></td></tr>')
    p.add("</tbody></table></section>")


def _distinct(targets: Sequence[ReportTarget]) -> list[tuple[ReportCert, list[str], int, int]]:
    """Every distinct certificate (by fingerprint), the targets that sent it, and the tightest
    warn/crit days among them."""
    seen: dict[str, tuple[ReportCert, list[str], int, int]] = {}
    for t in targets:
        for c in t.certificates:
            key = c.fingerprint_sha256 or f"{c.subject}\x1f{c.serial}\x1f{c.not_after.isoformat()}"
            if key in seen:
                cert, names, w, cr = seen[key]
                if t.target not in names:
                    names.append(t.target)
                seen[key] = (cert, names, max(w, t.warn_days), max(cr, t.crit_days))
            else:
                seen[key] = (c, [t.target], t.warn_days, t.crit_days)
    return sorted(seen.values(), key=lambda e: (e[0].not_after, e[0].subject))


def _mode(values: Iterable[int], default: int) -> int:
    counted: dict[int, int] = {}
    for v in values:
        counted[v] = counted.get(v, 0) + 1
    return max(counted, key=lambda v: (counted[v], v)) if counted else default


def _timeline(p: _Page, targets: Sequence[ReportTarget], now: _dt.datetime) -> None:
    certs = _distinct(targets)
    warn = _mode((t.warn_days for t in targets), policy.EXPIRING_SOON_DAYS)
    crit = _mode((t.crit_days for t in targets), policy.CRITICAL_DAYS)
    shown = certs[:policy.REPORT_TIMELINE_MAX_BARS]
    axis = Axis(now, max((c.not_after for c, *_ in shown), default=None))
    p.add('<section id="timeline"><h2>Expiry timeline</h2>',
          f'<p class="muted">One bar per certificate, notBefore → notAfter, soonest to expire first. The axis is '
          f'piecewise: linear from {policy.REPORT_PAST_DAYS} days ago to {policy.REPORT_NEAR_DAYS} days ahead over '
          f'{policy.REPORT_NEAR_SHARE:.0%} of the width, then compressed up to the last notAfter '
          f'({esc(_iso_day(axis.end))}); earlier dates are clipped at the left edge. Shaded: critical '
          f'(&lt; {crit} days) and warning (&lt; {warn} days) zones.</p>')
    if not shown:
        p.add('<p class="muted">No certificate to draw.</p></section>')
        return
    ticks = [("start", axis.start, f"−{policy.REPORT_PAST_DAYS} d"), ("today", now, "today")]
    ticks += [("", now + d * DAY, f"+{d} d") for d in (30, 60, 90) if d <= policy.REPORT_NEAR_DAYS]
    ticks.append(("end", axis.end, axis.end.strftime("%Y")))
    p.add('<div class="timeline"><div class="axis" aria-hidden="true">')
    for cls, when, label in ticks:
        p.add(f'<span class="{cls}" style="left:{axis.pct(when):.2f}%"{_attr("title", _iso_day(when))}>{esc(label)}</span>')
    p.add("</div>")
    W = axis.width
    x_now = axis.x(now)
    zone_crit = (x_now, axis.x(now + crit * DAY) - x_now)
    zone_warn = (axis.x(now + crit * DAY), axis.x(now + warn * DAY) - axis.x(now + crit * DAY))
    for c, names, w_days, _ in shown:
        state = cert_state(c, now, w_days)
        days = int((c.not_after - now).total_seconds() // 86400)
        who = ", ".join(names[:3]) + (f" (+{len(names) - 3} more)" if len(names) > 3 else "")
        tip = (f"{c.subject} — notBefore {_iso_day(c.not_before)} → notAfter {_iso_day(c.not_after)} "
               f"({days} day(s) left); issuer {c.issuer}; sent by {who}")
        x0, x1 = axis.x(c.not_before), axis.x(c.not_after)
        clipped = c.not_before < axis.start
        p.add(f'<div class="lane"{_attr("data-fingerprint", c.fingerprint_sha256)}{_attr("data-state", state)}>'
              f'<div class="label"{_attr("title", tip)}><span class="mono">{esc(c.subject)}</span> '
              f'<span class="muted">· {days} d · {esc(who)}</span></div>'
              f'<svg viewBox="0 0 {W:.0f} 14" preserveAspectRatio="none" role="img"'
              f'{_attr("aria-label", tip)}><title>{esc(tip)}</title>'
              f'<rect class="zone-crit" x="{zone_crit[0]:.1f}" y="0" width="{max(zone_crit[1], 0):.1f}" height="14"/>'
              f'<rect class="zone-warn" x="{zone_warn[0]:.1f}" y="0" width="{max(zone_warn[1], 0):.1f}" height="14"/>'
              f'<rect class="bar"{_attr("data-state", state)}{_attr("data-not-before", c.not_before.isoformat())}'
              f'{_attr("data-not-after", c.not_after.isoformat())}{" data-clipped" if clipped else ""} '
              f'x="{x0:.1f}" y="3" width="{max(x1 - x0, 2.0):.1f}" height="8" rx="2"><title>{esc(tip)}</title></rect>'
              f'<line class="split" x1="{axis.split:.1f}" x2="{axis.split:.1f}" y1="0" y2="14" vector-effect="non-scaling-stroke"/>'
              f'<line class="today" x1="{x_now:.1f}" x2="{x_now:.1f}" y1="0" y2="14" vector-effect="non-scaling-stroke"/>'
              f"</svg></div>")
    p.add('<div class="legend"><span><i style="background:var(--bar-ok)"></i>ok</span>'
          '<span><i style="background:var(--bar-expiring)"></i>expiring (warning zone)</span>'
          '<span><i style="background:var(--bar-expired)"></i>expired</span>'
          '<span><i style="background:var(--bar-nyv)"></i>not yet valid</span>'
          '<span><i style="background:var(--zone-crit)"></i>critical zone</span>'
          '<span><i style="background:var(--zone-warn)"></i>warning zone</span>'
          '<span><i style="background:var(--today)"></i>today</span></div></div>')
    if len(certs) > len(shown):
        p.add(f'<p class="muted" data-not-drawn="{len(certs) - len(shown)}">{len(certs) - len(shown)} more '
              f'certificate(s) expire later and are not drawn (at most {policy.REPORT_TIMELINE_MAX_BARS}).</p>')
    p.add("</section>")


def _changes(p: _Page, changes: Sequence[ReportChange]) -> None:
    p.add('<section id="changes"><h2>Recent changes</h2>')
    if not changes:
        p.add('<p class="muted">No change recorded.</p></section>')
        return
    shown = sorted(changes, key=lambda c: c.checked_at or "", reverse=True)[:policy.REPORT_CHANGES_MAX]
    p.add('<table class="changes"><thead><tr><th>when (UTC)</th><th>target</th><th>change</th><th>detail</th></tr>'
          "</thead><tbody>")
    for c in shown:
        p.add(f'<tr class="change"{_attr("data-kind", c.kind)}{_attr("data-target", c.target)}>'
              f'<td>{esc((c.checked_at or "").replace("T", " ").replace("Z", ""))}</td><td>{esc(c.target)}</td>'
              f'<td><code>{esc(c.kind)}</code></td><td class="d">{esc(c.detail)}</td></tr>')
    p.add("</tbody></table>")
    if len(changes) > len(shown):
        p.add(f'<p class="muted">{len(changes) - len(shown)} older change(s) not listed.</p>')
    p.add("</section>")


def _target(p: _Page, i: int, t: ReportTarget, now: _dt.datetime, changes: Sequence[ReportChange]) -> None:
    p.add(f'<article class="target" id="t{i}"{_attr("data-target", t.target)}{_attr("data-status", t.status)}'
          f'{_attr("data-kind", t.kind)}{_attr("data-reason", t.reason or "")}>'
          f'<h3><span class="badge"{_attr("data-status", t.status)}>{esc(t.status)}</span> {esc(t.target)}</h3>')
    meta = [t.kind]
    if t.checked_at is not None:
        meta.append(f"checked {_iso_day(t.checked_at)}")
    if t.verified is not None:
        meta.append("chain verifies" if t.verified else "chain does not verify")
    meta.append(f"warn {t.warn_days} d / crit {t.crit_days} d")
    p.add(f'<p class="meta">{esc(" · ".join(meta))}</p>')
    if t.notes:
        p.add('<ul class="notes">' + "".join(f"<li>{esc(n)}</li>" for n in t.notes) + "</ul>")
    if t.error:
        p.add(f'<p class="error">{esc(t.error)}</p>')
    nodes = chain_nodes(t, now)
    if nodes:
        broken = any(n.broken for n in nodes)
        p.add(f'<ol class="chain" data-verified="{esc("" if t.verified is None else str(t.verified).lower())}"'
              f'{" data-broken" if broken else ""} aria-label="certificate chain, leaf first">')
        for n in nodes:
            attrs = _attr("data-role", n.role) + _attr("data-state", n.state)
            if n.cert is not None:
                attrs += _attr("data-position", n.cert.position)
                tip = f"notBefore {_iso_day(n.cert.not_before)} · notAfter {_iso_day(n.cert.not_after)} · issuer {n.cert.issuer}"
            else:
                attrs += ' data-sent="false"'
                tip = n.note
            if n.broken:
                attrs += _attr("data-broken", " ".join(n.broken))
            p.add(f'<li class="node"{attrs}{_attr("title", tip)}><span class="role">{esc(n.role)} · {esc(n.state)}</span>'
                  f'<span class="subject mono">{esc(n.subject)}</span> <span class="muted">{esc(n.note)}</span>'
                  + (f'<span class="broke">✗ breaks here: {esc(", ".join(n.broken))}</span>' if n.broken else "")
                  + "</li>")
        p.add("</ol>")
        extras = [c for c in sorted(t.certificates, key=lambda c: c.position) if not c.on_path]
        if extras and t.kind == "endpoint":
            p.add('<ul class="extras">' + "".join(
                f'<li class="extra"{_attr("data-position", c.position)}>extra, not on the path: '
                f'<span class="mono">{esc(c.subject)}</span> (#{c.position})</li>' for c in extras) + "</ul>")
    shown = sorted(t.findings, key=lambda f: (-{"error": 2, "warning": 1}.get(f.severity, 0), f.code))
    if shown:
        p.add('<div class="findings">')
        for f in shown:
            p.add(f'<div class="finding"{_attr("data-code", f.code)}{_attr("data-severity", f.severity)}>'
                  f'<h4><span class="sev">{esc(f.severity.upper())}</span> <code>{esc(f.code)}</code> — {esc(f.summary)}</h4>'
                  + (f'<p class="explanation">{esc(f.explanation)}</p>' if f.explanation else "")
                  + (f'<p class="fix"><b>Fix:</b> {esc(f.fix)}</p>' if f.fix else "")
                  + f'<p class="who muted">who must act: {esc(WHO.get(f.who, f.who))}</p></div>')
        p.add("</div>")
    if changes:
        recent = sorted(changes, key=lambda c: c.checked_at or "", reverse=True)[:policy.REPORT_CHANGES_PER_TARGET]
        p.add('<h4>Changes</h4><ul class="target-changes">' + "".join(
            f'<li{_attr("data-kind", c.kind)}>{esc((c.checked_at or "").replace("T", " ").replace("Z", ""))} '
            f'<code>{esc(c.kind)}</code> {esc(c.detail)}</li>' for c in recent) + "</ul>")
    p.add("</article>")


def render_bytes(*args: Any, **kwargs: Any) -> bytes:
    """:func:`render_html` as UTF-8 bytes (what the commands write)."""
    return render_html(*args, **kwargs).encode("utf-8")


__all__ = ["CSP", "CERT_STATES", "TRUST_CODES", "ReportCert", "ReportFinding", "ReportChange", "ReportTarget", "Node",
           "Axis", "esc", "from_row", "from_snapshot", "from_diagnosis", "changes_from_history", "changes_from_rows",
           "cert_state", "path_order", "chain_nodes", "render_html", "render_bytes"]
