"""The HTML report's renderer, pure (rows in, HTML out): escaping of every outside string
(hypothesis), no URL or script anywhere, the summary counts, the piecewise axis, where a chain
breaks, the timeline's bars; the state file read back for ``certdoctor report`` and its refusals."""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings, strategies as st

from certdoctor import policy
from certdoctor._text import safe
from certdoctor.errors import UsageError
from certdoctor.model import Code, Finding, Severity
from certdoctor.monitor import changes as C
from certdoctor.monitor.result import CertFacts, Row
from certdoctor.monitor.state import State
from certdoctor.render import html as H
from support.cli import run_cli_captured

NOW = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)
DAY = dt.timedelta(days=1)
#: every element the page may hold
TAGS = {"html", "head", "meta", "link", "title", "style", "body", "header", "h1", "h2", "h3", "h4", "p", "time", "main",
        "section", "ul", "li", "b", "span", "table", "thead", "tbody", "tr", "th", "td", "a", "code", "div", "svg",
        "rect", "line", "ol", "article", "footer", "i"}


class Parsed(HTMLParser):
    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag

    def handle_data(self, data):
        self.text.append(data)

    def all(self, tag, **attrs):
        return [a for t, a in self.elements if t == tag and all(a.get(k.replace("_", "-")) == v for k, v in attrs.items())]


def rc(position=0, subject="CN=leaf", issuer="CN=Inter", days=60, life=90, fp=None, on_path=True, self_signed=False):
    return H.ReportCert(position=position, subject=subject, issuer=issuer, not_before=NOW - (life - days) * DAY,
                        not_after=NOW + days * DAY, fingerprint_sha256=fp or f"{subject}-{days}", on_path=on_path,
                        self_signed=self_signed, is_ca=position > 0)


def rf(code, severity="error", cert_index=None, summary="s", explanation="e", fix="f"):
    return H.ReportFinding(code=code, severity=severity, summary=summary, explanation=explanation, fix=fix,
                           who="server-operator", cert_index=cert_index)


def target(name="https://a.example/", status="ok", certs=(), findings=(), verified=True, kind="endpoint", **kw):
    return H.ReportTarget(target=name, kind=kind, status=status, verified=verified, checked_at=NOW,
                          certificates=tuple(certs), findings=tuple(findings), **kw)


GOOD = [rc(0, "CN=a", "CN=Inter"), rc(1, "CN=Inter", "CN=Root", days=900, life=1800)]


# --------------------------------------------------------------------------- escaping and no URL

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


@settings(max_examples=60, deadline=None)
@given(name=text, subject=text, issuer=text, summary=text, explanation=text, fix=text, detail=text, code=text)
def test_every_outside_string_is_text_and_the_page_has_no_url_or_script(name, subject, issuer, summary, explanation,
                                                                        fix, detail, code):
    t = target(name, "critical", [rc(0, subject, issuer)], [rf(code, summary=summary, explanation=explanation, fix=fix,
                                                              cert_index=0)], verified=False, reason=code)
    page = H.render_html([t], [H.ReportChange(name, "status_changed", detail, "2030-01-01T00:00:00Z")], now=NOW)
    parsed = Parsed(page)
    assert {tag for tag, _ in parsed.elements} <= TAGS
    for tag, attrs in parsed.elements:
        assert not [k for k in attrs if k.startswith("on")], (tag, attrs)
        for k in ("href", "src", "xlink:href", "action"):
            v = attrs.get(k)
            assert v is None or v.startswith("#t") or (tag == "link" and v == "data:,"), (tag, k, v)
        style = attrs.get("style")
        assert style is None or re.fullmatch(r"(left:[0-9.]+%|background:var\(--[a-z-]+\))", style), style
    # every field shows, sanitised, as text
    assert len(parsed.all("style")) == 1 and len(parsed.all("meta", http_equiv="Content-Security-Policy")) == 1
    shown = "".join(parsed.text)
    for value in (name, subject, issuer, summary, explanation, fix, detail, code):
        assert safe(value) in shown
    assert [a for a in parsed.all("tr") if a.get("class") == "target-row"][0]["data-target"] == safe(name)


def test_no_script_and_no_external_url_in_a_page():
    page = H.render_html([target("https://x.example/", certs=GOOD)], [], now=NOW)
    assert "<script" not in page.lower() and "javascript:" not in page.lower()
    assert not re.findall(r"(?:src|href)\s*=\s*\"(?!#|data:)", page)
    assert not re.search(r"url\(", page) and "@import" not in page
    urls = re.findall(r"https?://[^\s\"'<&]*", page)
    assert urls and set(urls) == {"https://x.example/"}  # the target's own name, as text only
    head = page[:page.index("<style>")]
    assert f'<meta http-equiv="Content-Security-Policy" content="{H.esc(H.CSP)}">' in head
    assert "default-src &#x27;none&#x27;" in head and '<link rel="icon" href="data:,">' in head
    assert "@media (prefers-color-scheme: dark)" in page and "@media print" in page


# --------------------------------------------------------------------------- summary and timeline

def test_summary_counts_and_codes():
    ts = [target("a", "ok", GOOD), target("b", "warning", GOOD, [rf("CHAIN_EXTRA_CERT", "warning")]),
          target("c", "critical", GOOD, [rf("EXPIRED", cert_index=0)], verified=False),
          target("d", "critical", GOOD, [rf("EXPIRED", cert_index=0), rf("CHAIN_ORDER", "info")], verified=False),
          target("e", "unknown", (), [rf("TIMEOUT")], verified=None), target("f", "error", (), verified=None)]
    p = Parsed(H.render_html(ts, [], now=NOW))
    counts = {a["data-group"]: int(a["data-count"]) for a in p.all("li") if "data-group" in a}
    assert counts == {"ok": 1, "warning": 1, "critical": 2, "failing": 2}
    codes = {a["data-code"]: int(a["data-count"]) for a in p.all("tr") if "data-code" in a}
    assert codes == {"EXPIRED": 2, "CHAIN_EXTRA_CERT": 1, "TIMEOUT": 1}  # notes are not counted
    assert [a["data-target"] for a in p.all("tr") if a.get("class") == "target-row"] == ["c", "d", "f", "e", "b", "a"]


def test_one_bar_per_distinct_certificate_and_the_cap(monkeypatch):
    shared = rc(1, "CN=Inter", "CN=Root", days=900, life=1800, fp="INTER")
    ts = [target(f"t{i}", certs=[rc(0, f"CN=t{i}", days=10 + i, fp=f"L{i}"), shared]) for i in range(5)]
    p = Parsed(H.render_html(ts, [], now=NOW))
    bars = p.all("rect")
    bars = [a for a in bars if a.get("class") == "bar"]
    assert len(bars) == 6
    assert [a["data-state"] for a in bars] == ["expiring"] * 5 + ["ok"]  # soonest first, 10..14 days < 30
    monkeypatch.setattr(policy, "REPORT_TIMELINE_MAX_BARS", 3)
    p = Parsed(H.render_html(ts, [], now=NOW))
    assert len([a for a in p.all("rect") if a.get("class") == "bar"]) == 3
    assert p.all("p", data_not_drawn="3")


def test_the_axis_is_piecewise_and_clipped():
    axis = H.Axis(NOW, NOW + 3650 * DAY)
    assert axis.x(NOW - 400 * DAY) == axis.x(NOW - 30 * DAY) == 0.0  # clipped on the left
    assert axis.x(NOW + 90 * DAY) == pytest.approx(750.0)
    assert axis.x(NOW) == pytest.approx(750.0 * 30 / 120)
    assert axis.x(NOW + 30 * DAY) - axis.x(NOW) == pytest.approx(187.5)  # 30 days: 18.75 % of the width
    assert axis.x(NOW + 3650 * DAY) == axis.x(NOW + 9999 * DAY) == 1000.0


@given(st.integers(-1000, 5000), st.integers(-1000, 5000))
def test_the_axis_never_reverses_time(a, b):
    axis = H.Axis(NOW, NOW + 3650 * DAY)
    x, y = axis.x(NOW + a * DAY), axis.x(NOW + b * DAY)
    assert 0.0 <= x <= 1000.0 and 0.0 <= y <= 1000.0
    assert (x <= y) if a <= b else (x >= y)


# --------------------------------------------------------------------------- the chain

def nodes(t):
    return [(n.role, n.state, n.broken) for n in H.chain_nodes(t, NOW)]


def test_a_good_chain_ends_at_the_store_root():
    assert nodes(target(certs=GOOD)) == [("leaf", "ok", ()), ("intermediate", "ok", ()), ("root", "ok", ())]


def test_a_missing_intermediate_is_drawn_missing_and_broken():
    t = target(status="critical", certs=GOOD[:1], findings=[rf("CHAIN_INCOMPLETE", cert_index=0)], verified=False)
    assert nodes(t) == [("leaf", "ok", ()), ("intermediate", "missing", ("CHAIN_INCOMPLETE",))]
    assert H.chain_nodes(t, NOW)[-1].subject == "CN=Inter"


def test_expired_certificates_and_an_untrusted_root():
    leaf = rc(0, "CN=a", "CN=Inter", days=-3)
    t = target(status="critical", certs=[leaf, GOOD[1]], findings=[rf("EXPIRED", cert_index=0)], verified=False)
    assert nodes(t) == [("leaf", "expired", ("EXPIRED",)), ("intermediate", "ok", ()), ("root", "ok", ())]
    t = target(status="critical", certs=GOOD, findings=[rf("UNTRUSTED_ROOT")], verified=False)
    assert nodes(t)[-1] == ("root", "untrusted", ("UNTRUSTED_ROOT",))


def test_self_signed_leaf_and_sent_order():
    own = rc(0, "CN=a", "CN=a", days=20, self_signed=True)
    t = target(status="critical", certs=[own], findings=[rf("SELF_SIGNED", cert_index=0)], verified=False)
    assert nodes(t) == [("leaf", "untrusted", ("SELF_SIGNED",))]
    # leaf, root, intermediate as sent: drawn in path order, the sent root on top
    root = rc(1, "CN=Root", "CN=Root", days=3000, life=4000, self_signed=True)
    inter = rc(2, "CN=Inter", "CN=Root", days=900, life=1800)
    drawn = H.chain_nodes(target(certs=[GOOD[0], root, inter]), NOW)
    assert [(n.role, n.subject) for n in drawn] == [("leaf", "CN=a"), ("intermediate", "CN=Inter"), ("root", "CN=Root")]


def test_fewer_than_crit_days_breaks_nothing_and_files_have_no_root():
    soon = rc(0, "CN=a", "CN=Inter", days=3)
    t = target(status="critical", certs=[soon, GOOD[1]], findings=[rf("EXPIRING_SOON", cert_index=0)], verified=False)
    assert nodes(t) == [("leaf", "expiring", ()), ("intermediate", "ok", ()), ("root", "ok", ())]
    f = target("/etc/ssl/a.pem", kind="file", certs=GOOD, verified=None)
    assert [n[0] for n in nodes(f)] == ["leaf", "intermediate"]


# --------------------------------------------------------------------------- rows, snapshots, state

def facts(fp, position=0, days=60, subject="CN=h", issuer="CN=I"):
    return CertFacts(position, subject, issuer, "01", NOW - DAY, NOW + days * DAY, days, 0.1, fp, "sha256/K", "ec",
                     256, True, False, position > 0)


def mkrow(status="ok", certs=(), findings=(), verified=True, target="h:443"):
    return Row(target, "endpoint", "argv", status, findings[0].code.value if findings else None, verified, None, NOW,
               0.1, certificates=tuple(certs), findings=tuple(findings), warn_days=21, crit_days=5)


def test_a_row_and_its_snapshot_give_the_same_target():
    finding = Finding(Code.CHAIN_INCOMPLETE, Severity.ERROR, "only the leaf", "why it matters", fix="send it",
                      cert_index=0)
    row = mkrow("critical", [facts("A")], [finding, Finding(Code.CHAIN_ORDER, Severity.INFO, "a note")], False)
    a = H.from_row(row)
    b = H.from_snapshot(row.target, row.kind, C.snapshot(row))
    assert (a.status, a.reason, a.verified, a.warn_days, a.crit_days) == (b.status, b.reason, b.verified, 21, 5)
    assert [(f.code, f.explanation, f.fix, f.cert_index) for f in b.findings] == [
        ("CHAIN_INCOMPLETE", "why it matters", "send it", 0)]  # the INFO note is not state
    assert [c.fingerprint_sha256 for c in a.certificates] == [c.fingerprint_sha256 for c in b.certificates] == ["A"]
    assert nodes(a) == nodes(b)
    # a snapshot written before the report part existed: the codes alone
    old = {k: v for k, v in C.snapshot(row).items() if k != "report"}
    assert [f.summary for f in H.from_snapshot("h:443", "endpoint", old).findings] == ["CHAIN_INCOMPLETE"]


@pytest.fixture
def state_file(tmp_path):
    path = tmp_path / "state.sqlite"
    with State.open(path) as st:
        run = st.begin_run()
        st.record(C.identity("endpoint", "a:443"), mkrow(certs=[facts("A")], target="a:443"), run)
        st.record(C.identity("endpoint", "b:443"), mkrow(certs=[facts("B")], target="b:443"), run)
        st.record(C.identity("endpoint", "a:443"), mkrow("critical", [facts("A2")], [
            Finding(Code.SELF_SIGNED, Severity.ERROR, "its own issuer", cert_index=0)], False, "a:443"), run)
        st.finish_run(run, targets=2, transitions=0)
    return path


def test_state_read_lists_the_latest_and_the_recent_changes(state_file):
    before = sorted(p.name for p in state_file.parent.iterdir())
    with State.read(state_file) as st:
        latest = st.latest()
        recent = st.recent()
        assert st.recent(limit=2) == recent[:2]
    assert [e["target"] for e in latest] == ["a:443", "b:443"] and latest[0]["status"] == "critical"
    assert {(e["target"], e["kind"]) for e in recent} >= {("a:443", "new_target"), ("a:443", "verification_failed"),
                                                          ("a:443", "leaf_renewed"), ("b:443", "new_target")}
    assert recent[0]["target"] == "a:443" and recent[-1]["kind"] == "new_target"  # newest first
    with pytest.raises(sqlite3.OperationalError):  # read-only
        with State.read(state_file) as st:
            st._db.execute("DELETE FROM targets")
    assert sorted(p.name for p in state_file.parent.iterdir() if not p.name.endswith(("-wal", "-shm"))) == \
        [n for n in before if not n.endswith(("-wal", "-shm"))]


def test_state_read_refuses_what_is_not_ours(tmp_path):
    other = tmp_path / "other.sqlite"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE t (x)")
    db.commit()
    db.close()
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    for path, why in ((tmp_path / "missing.sqlite", "no such file"), (tmp_path, "is a directory"),
                      (other, "something else"), (text, "not SQLite")):
        with pytest.raises(UsageError, match=why) as got:
            State.read(path)
        assert got.value.message.startswith("STATE ") and got.value.hint
    assert not (tmp_path / "missing.sqlite").exists()


def test_report_command_writes_the_page_or_refuses(state_file, tmp_path, capsys):
    out = tmp_path / "r" / "report.html"
    out.parent.mkdir()
    code, stdout, err = run_cli_captured(["report", str(state_file), "--html", str(out)], capsys)
    assert code == 0 and stdout == "" and "2 target(s)" in err
    p = Parsed(out.read_text())
    assert sorted(a["data-target"] for a in p.all("tr") if a.get("class") == "target-row") == ["a:443", "b:443"]
    assert (out.stat().st_mode & 0o777) == 0o644
    code, stdout, _ = run_cli_captured(["report", str(state_file), "--html", "-"], capsys)
    assert code == 0 and stdout.startswith("<!DOCTYPE html>")
    code, stdout, _ = run_cli_captured(["report", str(state_file), "--json"], capsys)
    doc = json.loads(stdout)
    assert code == 0 and doc["command"] == "report" and doc["exit_code"] == 0
    assert [t["target"] for t in doc["targets"]] == ["a:443", "b:443"] and doc["changes"][0]["target"] == "a:443"
    assert doc["targets"][0]["snapshot"]["report"]["findings"][0]["code"] == "SELF_SIGNED"
    for argv, line in ((["report", str(tmp_path / "nope.sqlite"), "--html", str(out)], "no such file"),
                       (["report", str(state_file), "--html", str(tmp_path / "no" / "dir" / "x.html")], "does not exist"),
                       (["report", str(state_file)], "nothing to write"),
                       (["report", str(state_file), "--json", "--html", "-"], "standard output")):
        code, stdout, err = run_cli_captured(argv, capsys)
        lines = err.strip().splitlines()
        assert code == 2 and stdout == "" and len(lines) == 2, err
        assert lines[0].startswith("error: ") and line in lines[0] and lines[1].startswith("hint: ")


def test_monitor_html_refuses_serve_and_a_second_stdout(capsys):
    for argv, word in ((["monitor", "a.example", "--html", "x.html", "--serve", "127.0.0.1:0"], "--serve"),
                       (["monitor", "a.example", "--json", "--html", "-"], "standard output")):
        code, stdout, err = run_cli_captured(argv, capsys)
        assert code == 3 and word in err and "hint:" in err, err
