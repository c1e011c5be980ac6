"""Change detection on hand-made snapshots (pure), the state file's refusals, and redact_url."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, strategies as st

from certdoctor.errors import UsageError
from certdoctor.model import Code, Finding, Severity
from certdoctor.monitor import changes as C
from certdoctor.monitor.alerts import check_webhook_url, redact_url, scrub
from certdoctor.monitor.result import CertFacts, Row

NOW = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)


def cert(fp: str, spki: str = "sha256/K", issuer: str = "CN=I", position: int = 0) -> CertFacts:
    return CertFacts(position, "CN=x", issuer, "01", NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=60), 60,
                     0.1, fp, spki, "ec", 256, True, False, position > 0)


def row(status="ok", certs=(), findings=(), verified=True, **kw) -> Row:
    return Row("h:443", "endpoint", "argv", status, None, verified, None, NOW, 0.1, certificates=tuple(certs),
               findings=tuple(findings), **kw)


def f(code: Code, sev=Severity.WARNING, summary="s") -> Finding:
    return Finding(code, sev, summary)


def kinds(prev, r):
    return [t.kind for t in C.transitions(prev, r)]


def test_first_sight_then_nothing_on_a_repeat():
    r = row(certs=[cert("A"), cert("I1", position=1)])
    assert kinds(None, r) == ["new_target"]
    assert kinds(C.snapshot(r), r) == []


def test_days_counting_down_and_reworded_findings_are_no_transition():
    a = row("warning", [cert("A")], [f(Code.EXPIRING_SOON, summary="expires in 20 days")])
    b = row("warning", [cert("A")], [f(Code.EXPIRING_SOON, summary="expires in 19 days")])
    assert kinds(C.snapshot(a), b) == []


def test_leaf_renewed_rekeyed_issuer_chain():
    base = C.snapshot(row(certs=[cert("A"), cert("I1", position=1)]))
    assert kinds(base, row(certs=[cert("B"), cert("I1", position=1)])) == ["leaf_renewed"]
    assert kinds(base, row(certs=[cert("B", spki="sha256/N"), cert("I1", position=1)])) == ["leaf_rekeyed"]
    assert kinds(base, row(certs=[cert("B", issuer="CN=J"), cert("I2", position=1)])) == [
        "leaf_renewed", "issuer_changed", "chain_changed"]
    assert kinds(base, row(certs=[cert("A")])) == ["chain_changed"]  # an intermediate no longer sent


def test_findings_added_and_cleared_once_per_code_and_infos_ignored():
    base = C.snapshot(row(certs=[cert("A")], findings=[f(Code.CHAIN_ORDER, Severity.INFO)]))
    new = row("warning", [cert("A")], [f(Code.CHAIN_EXTRA_CERT), f(Code.CHAIN_EXTRA_CERT)])
    got = C.transitions(base, new)
    assert [(t.kind, t.new) for t in got] == [("status_changed", "warning"), ("finding_added", "CHAIN_EXTRA_CERT")]
    assert [(t.kind, t.old) for t in C.transitions(C.snapshot(new), row(certs=[cert("A")]))] == [
        ("status_changed", "warning"), ("finding_cleared", "CHAIN_EXTRA_CERT")]


def test_an_outage_carries_the_certificates_verified_and_chain_findings():
    before = C.snapshot(row("warning", [cert("A")], [f(Code.EXPIRING_SOON)]))
    down = row("unknown", (), [f(Code.TIMEOUT, Severity.ERROR)], verified=None)
    assert kinds(before, down) == ["status_changed", "finding_added"]
    during = C.snapshot(down, before)
    assert during["certificates"] == before["certificates"] and during["verified"] is True
    assert set(during["findings"]) == {"EXPIRING_SOON", "TIMEOUT"}
    back = row("critical", [cert("B", spki="sha256/N")], [f(Code.SELF_SIGNED, Severity.ERROR)], verified=False)
    assert kinds(during, back) == ["status_changed", "verification_failed", "leaf_rekeyed", "finding_added",
                                   "finding_cleared", "finding_cleared"]


def test_critical_for_days_alone_is_not_a_verification_failure():
    ok = C.snapshot(row("warning", [cert("A")], [f(Code.EXPIRING_SOON)]))
    crit = row("critical", [cert("A")], [f(Code.EXPIRING_SOON, Severity.ERROR)], verified=False)
    assert kinds(ok, crit) == ["status_changed"]


def test_identity_ignores_the_line_and_tells_backends_apart():
    assert C.identity("endpoint", "h:443") == C.identity("endpoint", "h:443", None, None)
    assert C.identity("endpoint", "h:443", address="10.0.0.1") != C.identity("endpoint", "h:443", address="10.0.0.2")
    assert set(C.KINDS) == {getattr(C, k.upper()) for k in C.KINDS}


@pytest.mark.parametrize("url, shown", [
    ("https://user:pw@hooks.example.org/x", "https://***@hooks.example.org/x"),
    ("https://h.example/x?token=abc&team=web&api_key=k1&sig=zz", "https://h.example/x?token=***&team=web&api_key=***&sig=***"),
    ("https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXX1234", "https://hooks.slack.com/services/T0000/B0000/***"),
    ("https://discord.com/api/webhooks/123456789012345678/aBcDeFgHiJkLmNoPqRsT_uvw-1",
     "https://discord.com/api/webhooks/123456789012345678/***"),
    ("http://[::1]:8080/h#frag", "http://[::1]:8080/h#***"),
    ("not a url", "***"),
    ("http://[::1/x", "***"),
])
def test_redact_url(url, shown):
    assert redact_url(url) == shown


@given(user=st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=3, max_size=12),
       password=st.text("abcdefghijklmnopqrstuvwxyz0123456789!$", min_size=3, max_size=12),
       token=st.text("abcdefghijklmnopqrstuvwxyzABCDEF0123456789", min_size=3, max_size=24))
def test_redacted_and_scrubbed_text_holds_no_secret(user, password, token):
    url = f"https://{user}:{password}@hooks.example.org/p?password={token}"
    out = redact_url(url)
    text = scrub(f"failed: {url} (auth {user}:{password}, {token})", [url])
    for secret in (f"{user}:{password}", password, f"password={token}"):
        assert secret not in out and secret not in text


def test_bad_webhook_urls_are_refused_redacted():
    for bad in ("ftp://u:secretpw@h/x", "https:///nohost", "http://h/ x", "http://u:secretpw@h:99999/"):
        with pytest.raises(UsageError) as exc:
            check_webhook_url(bad)
        assert "secretpw" not in exc.value.message
    assert check_webhook_url(" https://h.example/x ") == "https://h.example/x"


def test_the_state_refuses_a_newer_schema(tmp_path):
    import sqlite3

    from certdoctor.monitor.state import SCHEMA_VERSION, State

    p = tmp_path / "s.sqlite"
    State.open(p).close()
    db = sqlite3.connect(p)
    db.execute("UPDATE meta SET value = ? WHERE name = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    db.commit()
    db.close()
    with pytest.raises(UsageError, match="newer certdoctor"):
        State.open(p)
    assert oct(p.stat().st_mode & 0o777) == "0o600"


def test_the_default_state_path_is_in_the_data_dir(tmp_path, monkeypatch):
    from certdoctor.monitor.state import State, default_path

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_path() == tmp_path / "data" / "certdoctor" / "monitor.sqlite"
    with State.open() as st:
        assert st.path == default_path()
    assert oct((tmp_path / "data" / "certdoctor").stat().st_mode & 0o777) == "0o700"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_path() == tmp_path / "home" / ".local" / "share" / "certdoctor" / "monitor.sqlite"
