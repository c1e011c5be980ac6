"""renew --check: when each installed certificate is due and why, and the last attempt, from the
files, the record and `now` alone (no socket, no write); Nagios codes per certificate."""

from __future__ import annotations

import datetime as dt

import pytest

from certdoctor.model import Code
from certdoctor.renew import install
from certdoctor.renew import record as R
from certdoctor.renew.config import parse_config
from certdoctor.renew.run import check
from certdoctor.renew.schedule import cert_id
from support.cli import run_cli_captured
from support.pki import TestCA

NB = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
NA = NB + dt.timedelta(days=90)


def _config(tmp_path, *names):
    text = f'state = "{tmp_path / "renew.sqlite"}"\n' + "".join(
        f'[[certificate]]\nname = "{n}"\ndomains = ["{n}.example"]\ndirectory = "https://acme.test/dir"\n'
        f'install = {{ lineage = "{tmp_path / "certs"}" }}\n' for n in names)
    path = tmp_path / "renew.toml"
    path.write_text(text)
    return parse_config(text, str(path)), str(path)


def _install(tmp_path, name, *, not_before=NB, not_after=NA):
    ca = TestCA("check root")
    leaf = ca.issue_cert(f"{name}.example", not_before=not_before, not_after=not_after)
    install.install(install.Lineage(tmp_path / "certs", name), cert_pem=leaf.cert_pem(), chain_pem=ca.cert_pem(),
                    fullchain_pem=leaf.cert_pem() + ca.cert_pem(), key_pem=leaf.key_pem())
    return leaf.cert


@pytest.mark.parametrize("days, status, code", [
    (10, "ok", 0),            # 10 of 90 days: the lifetime rule renews at day 60
    (61, "warning", 1),       # past two thirds: due
    (82, "critical", 2),      # due with under a tenth left: renewals have failed for a long while
    (91, "critical", 2),      # expired
])
def test_the_lifetime_rule_and_the_nagios_codes(tmp_path, days, status, code):
    cfg, _ = _config(tmp_path, "web")
    _install(tmp_path, "web")
    report = check(cfg, now=NB + dt.timedelta(days=days))
    (r,) = report.results
    assert (r.status, report.exit_code, r.action) == (status, code, "checked")
    assert r.decision.source == ("expired" if days > 90 else "lifetime")
    if status != "ok":
        assert r.findings[0].code in (Code.RENEW_DUE, Code.EXPIRED) and "due since" in r.findings[0].summary
    assert not (tmp_path / "renew.sqlite").exists()  # --check creates nothing


def test_a_failed_last_attempt_is_a_warning_saying_when_and_why(tmp_path):
    cfg, _ = _config(tmp_path, "web", "api")
    _install(tmp_path, "web")
    _install(tmp_path, "api")
    with R.Record.open(tmp_path / "renew.sqlite") as rec:
        a = rec.begin("web", old_fingerprint="AA", now=NB + dt.timedelta(days=5))
        rec.finish(a, outcome=R.FAILED, error_kind="unreachable", error_text="ACME unreachable: connection refused")
        b = rec.begin("api", old_fingerprint="BB", now=NB + dt.timedelta(days=5))
        rec.finish(b, outcome=R.RENEWED, new_fingerprint="CC")
    before = (tmp_path / "renew.sqlite").read_bytes()
    report = check(cfg, now=NB + dt.timedelta(days=10))
    web, api = report.results
    assert web.status == "warning" and api.status == "ok" and report.exit_code == 1
    f = web.findings[-1]
    assert f.code is Code.RENEW_LAST_FAILED
    assert f.summary == "last attempt failed at 2026-01-06 00:00:00Z, because ACME unreachable: connection refused"
    assert (tmp_path / "renew.sqlite").read_bytes() == before


def test_the_recorded_ari_window_decides_for_the_certificate_it_was_about(tmp_path):
    cfg, _ = _config(tmp_path, "web")
    cert = _install(tmp_path, "web")

    class Info:
        start, end = NB + dt.timedelta(days=5), NB + dt.timedelta(days=6)
        explanation_url, retry_after = "https://ca.test/incident", None

    with R.Record.open(tmp_path / "renew.sqlite") as rec:
        rec.save_ari("web", cert_id(cert), Info())
    r = check(cfg, now=NB + dt.timedelta(days=7)).results[0]
    assert r.decision.due and r.decision.source == "ari" and r.status == "warning"
    assert r.ari.explanation_url == "https://ca.test/incident"
    with R.Record.open(tmp_path / "renew.sqlite") as rec:  # an answer about another certificate is not used
        rec.save_ari("web", "other.id", Info())
    r = check(cfg, now=NB + dt.timedelta(days=7)).results[0]
    assert not r.decision.due and r.decision.source == "lifetime" and r.status == "ok"


def test_nothing_installed_is_due_now(tmp_path):
    cfg, _ = _config(tmp_path, "web")
    r = check(cfg, now=NB).results[0]
    assert r.status == "warning" and r.findings[0].rule == "no_certificate"


def test_the_cli_check_line_json_and_usage(tmp_path, capsys):
    _, path = _config(tmp_path, "web")
    today = dt.datetime.now(dt.timezone.utc)
    _install(tmp_path, "web", not_before=today - dt.timedelta(days=1), not_after=today + dt.timedelta(days=89))
    code, out, err = run_cli_captured(["renew", "--config", path, "--check"], capsys)
    assert code == 0 and out.startswith("RENEW OK - web next ") and "(lifetime)" in out, (out, err)
    code, out, err = run_cli_captured(["renew", "--config", path, "--check", "--json"], capsys)
    import json

    doc = json.loads(out)
    assert code == 0 and doc["exit_code"] == 0 and doc["results"][0]["status"] == "ok" and doc["check"] is True
    assert doc["target"]["kind"] == "file" and doc["target"]["path"] == path
    code, out, err = run_cli_captured(["renew", "--config", str(tmp_path / "nope.toml"), "--check"], capsys)
    assert code == 3 and out.startswith("RENEW UNKNOWN - cannot read the config") and "hint: " in err
    code, out, err = run_cli_captured(["renew", "--config", path, "--check", "--force"], capsys)
    assert code == 2 and err.startswith("error: --check changes nothing")
    code, out, err = run_cli_captured(["renew", "--config", path, "nosuch"], capsys)
    assert code == 2 and "no certificate named 'nosuch'" in err and "Known names: web" in err
