"""The shipped alert rules (contrib/prometheus/certdoctor.rules.yml) pass ``promtool check rules``
and their unit tests (``promtool test rules`` on certdoctor.rules.test.yml), and those unit tests
are strong enough to catch the mistakes that matter: each mutation below (expiry judged on every
certificate instead of the verified path, no ``for``, the change recipe without its cert_info
half, warnings counted as errors) must make them fail. Skips only when promtool is missing off CI."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from support.prometheus import require

ROOT = Path(__file__).resolve().parents[2]
CONTRIB = ROOT / "contrib" / "prometheus"
RULES = CONTRIB / "certdoctor.rules.yml"
RULE_TESTS = CONTRIB / "certdoctor.rules.test.yml"
DOC = ROOT / "docs" / "MONITOR-METRICS.md"


@pytest.fixture(scope="module")
def promtool() -> str:
    return require("promtool")


def _run(promtool: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([promtool, *args], capture_output=True, text=True, timeout=120, cwd=cwd,
                          stdin=subprocess.DEVNULL)


def _alert_names(text: str) -> list[str]:
    return re.findall(r"^\s*- alert:\s*(\S+)\s*$", text, re.M)


def test_promtool_check_rules(promtool):
    proc = _run(promtool, "check", "rules", str(RULES), cwd=CONTRIB)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    n = len(_alert_names(RULES.read_text()))
    assert n >= 9
    assert f"SUCCESS: {n} rules found" in proc.stdout


def test_promtool_test_rules(promtool):
    proc = _run(promtool, "test", "rules", RULE_TESTS.name, cwd=CONTRIB)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


def test_every_alert_has_a_unit_test_that_expects_it_to_fire():
    tests = RULE_TESTS.read_text()
    for name in set(_alert_names(RULES.read_text())):
        blocks = re.findall(rf"alertname: {name}\n\s+exp_alerts:\n\s+- exp_labels:", tests)
        assert blocks, f"no test in {RULE_TESTS.name} expects {name} to fire"


def test_the_scenarios_the_issue_names_are_in_the_unit_tests():
    tests = RULE_TESTS.read_text()
    for needle in ('target="healthy.example:443"', 'target="soon.example:443"',
                   'target="expired.example:443"', 'reason="unable to get local issuer certificate"',
                   'target="changed.example:443"', 'on_path="false"'):
        assert needle in tests, needle


def test_the_rules_use_only_documented_metrics_and_labels():
    """Every certdoctor_* metric and every label the rules select on is in docs/MONITOR-METRICS.md
    (the exporter is built from that page)."""
    rules, doc = RULES.read_text(), DOC.read_text()
    metrics = set(re.findall(r"\bcertdoctor_[a-z_]+\b", rules))
    assert {"certdoctor_cert_not_after_timestamp_seconds", "certdoctor_chain_verified",
            "certdoctor_probe_success", "certdoctor_finding", "certdoctor_cert_info",
            "certdoctor_cert_change_timestamp_seconds"} <= metrics
    for m in metrics:
        assert f"`{m}`" in doc, f"{m} is used by the rules but not documented"
    for label in set(re.findall(r"\{([a-z_]+)[!=~]", rules)) | set(re.findall(r", ?([a-z_]+)[!=~]=?\"", rules)):
        assert f"`{label}`" in doc, f"label {label} is used by the rules but not documented"


MUTATIONS = {
    # expiry of every certificate the server sent: the unused expired cross-cert fires "expired"
    "expired on every cert": ('certdoctor_cert_not_after_timestamp_seconds{on_path="true"} <= time()',
                              "certdoctor_cert_not_after_timestamp_seconds <= time()",
                              "extra.example:443"),
    # no for: the verification alert fires on the first failed scrape
    "verification without for": ("certdoctor_chain_verified == 0\n        for: 5m\n",
                                 "certdoctor_chain_verified == 0\n", "time: 4m"),
    # change detection only from the state's timestamp: a fresh state file misses a new leaf
    "change without cert_info": (
        '          or\n          (count by (target) (count_over_time(certdoctor_cert_info{position="0"}[1h])) > 1)\n',
        "", "restarted.example:443"),
    # a window longer than the hour: the change alert does not resolve an hour after the renewal
    "change window 3h": ("count_over_time(certdoctor_cert_info{position=\"0\"}[1h])",
                         "count_over_time(certdoctor_cert_info{position=\"0\"}[3h])", "time: 3h30m"),
    # warnings counted as errors
    "every finding": ('certdoctor_finding{severity="error"} == 1', "certdoctor_finding == 1",
                      "CHAIN_EXTRA_CERT"),
    # the warning and the critical range overlap: a 3-day leaf would alert twice
    "overlapping thresholds": (">= 7 * 86400", ">= 0", "critical.example:443"),
    # ProbeFailed after 1 minute: the flapping target alerts
    "probe without for": ("certdoctor_probe_success == 0\n        for: 10m\n",
                          "certdoctor_probe_success == 0\n        for: 1m\n", "flap.example:443"),
}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_a_broken_rule_fails_the_unit_tests(promtool, tmp_path, name):
    old, new, named = MUTATIONS[name]
    text = RULES.read_text()
    assert text.count(old) == 1, f"the mutation {name!r} no longer matches the rule file"
    shutil.copy(RULE_TESTS, tmp_path / RULE_TESTS.name)
    (tmp_path / RULES.name).write_text(text.replace(old, new))
    assert _run(promtool, "check", "rules", RULES.name, cwd=tmp_path).returncode == 0  # still valid
    proc = _run(promtool, "test", "rules", RULE_TESTS.name, cwd=tmp_path)
    assert proc.returncode != 0, f"the unit tests pass with the mutation {name!r}"
    assert "FAILED" in proc.stdout + proc.stderr
    assert named in proc.stdout + proc.stderr  # it fails for the reason the mutation is about


@pytest.mark.parametrize("ci, outcome", [("true", "failed"), ("1", "failed"), ("", "skipped"),
                                         ("false", "skipped")])
def test_a_missing_promtool_skips_only_off_ci(monkeypatch, ci, outcome):
    import support.prometheus as prom

    monkeypatch.setattr(prom, "binary", lambda tool: None)
    monkeypatch.setenv("CI", ci)
    kinds = {"failed": pytest.fail.Exception, "skipped": pytest.skip.Exception}
    with pytest.raises(kinds[outcome], match="promtool is not installed"):
        prom.require("promtool")
