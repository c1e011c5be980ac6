"""The real-Prometheus harness (support/prometheus.py) the exporter's tests use: Debian's
prometheus on 127.0.0.1 scrapes a plain HTTP server of support.servers every second, and PromQL
over the HTTP API returns what that server exposed."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.prometheus import PrometheusError, run_prometheus, write_config
from support.servers import http_server

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "contrib" / "prometheus" / "certdoctor.rules.yml"

METRICS = (
    b"# HELP certdoctor_cert_not_after_timestamp_seconds notAfter of each certificate received\n"
    b"# TYPE certdoctor_cert_not_after_timestamp_seconds gauge\n"
    b'certdoctor_cert_not_after_timestamp_seconds{target="x",position="0"} 1.8e9\n'
    b"# HELP certdoctor_probe_success 1 when the target's certificates were read\n"
    b"# TYPE certdoctor_probe_success gauge\n"
    b'certdoctor_probe_success{target="x"} 1\n'
)
TEXT = {"Content-Type": "text/plain; version=0.0.4; charset=utf-8"}


def test_prometheus_scrapes_and_answers_promql(tmp_path):
    with http_server({"/metrics": (200, TEXT, METRICS)}) as web:
        with run_prometheus(tmp_path / "prom", [f"{web.host}:{web.port}"]) as prom:
            assert prom.url.startswith("http://127.0.0.1:")
            got = prom.wait_for('certdoctor_cert_not_after_timestamp_seconds{target="x",position="0"}')
            assert len(got) == 1
            sample = got[0]
            assert float(sample["value"][1]) == 1.8e9
            assert sample["metric"]["__name__"] == "certdoctor_cert_not_after_timestamp_seconds"
            assert sample["metric"]["job"] == "certdoctor"
            assert sample["metric"]["instance"] == f"{web.host}:{web.port}"
            # arithmetic on the scraped value: days until notAfter, from the server's clock
            days = prom.query('(certdoctor_cert_not_after_timestamp_seconds{target="x"} - time()) / 86400')
            assert len(days) == 1
            assert float(days[0]["value"][1]) == pytest.approx((1.8e9 - float(days[0]["value"][0])) / 86400)
            assert prom.query('certdoctor_cert_not_after_timestamp_seconds{target="nobody"}') == []
            assert [t["health"] for t in prom.targets()] == ["up"]
            lifecycle, _ = prom.get("/-/quit")  # --web.enable-lifecycle is off: no remote shutdown
            assert lifecycle in (403, 405)
            assert prom.process.poll() is None
        assert web.hits["/metrics"] >= 1
    assert prom.process.poll() is not None  # stopped when the block ended


def test_bad_promql_is_an_error_not_an_empty_answer(tmp_path):
    with http_server({"/metrics": (200, TEXT, METRICS)}) as web:
        with run_prometheus(tmp_path / "prom", [f"{web.host}:{web.port}"]) as prom:
            with pytest.raises(PrometheusError, match="bad_data"):
                prom.query("certdoctor_probe_success{")


def test_the_shipped_rules_load_and_evaluate(tmp_path):
    """The rule file loads into a real server and CertificateExpired fires on a scraped expired leaf
    (notAfter 1.6e9, in 2020) while the expired cert off the verified path stays quiet."""
    metrics = (
        b'certdoctor_cert_not_after_timestamp_seconds{target="old",position="0",on_path="true",'
        b'fingerprint_sha256="aa"} 1.6e9\n'
        b'certdoctor_cert_not_after_timestamp_seconds{target="ok",position="0",on_path="true",'
        b'fingerprint_sha256="bb"} 4.0e9\n'
        b'certdoctor_cert_not_after_timestamp_seconds{target="ok",position="2",on_path="false",'
        b'fingerprint_sha256="cc"} 1.6e9\n'
    )
    with http_server({"/metrics": (200, TEXT, metrics)}) as web:
        with run_prometheus(tmp_path / "prom", [f"{web.host}:{web.port}"], rule_files=[RULES]) as prom:
            prom.wait_for('ALERTS{alertname="ExtraCertificateExpired",alertstate="firing"}')
            prom.wait_for('ALERTS{alertname="CertificateExpired",alertstate="firing"}')
            firing = {(a["labels"]["alertname"], a["labels"]["target"]) for a in prom.alerts()
                      if a["state"] == "firing"}
            assert firing == {("CertificateExpired", "old"), ("ExtraCertificateExpired", "ok")}


def test_a_config_prometheus_rejects_is_an_error_naming_it(tmp_path):
    with pytest.raises(PrometheusError, match="scrape_interval|unknown|not a valid|parse|invalid"):
        with run_prometheus(tmp_path / "prom", ["127.0.0.1:1"], scrape_interval="soon"):
            pytest.fail("a server started with a broken config")


def test_the_generated_config_quotes_what_it_is_given(tmp_path):
    conf = write_config(tmp_path, ['127.0.0.1:9"1'], params={"target": ['a" b']},
                        metrics_path="/probe").read_text()
    assert '"127.0.0.1:9\\"1"' in conf
    assert '"target": ["a\\" b"]' in conf
    assert 'metrics_path: "/probe"' in conf
    assert "enable-lifecycle" not in conf
