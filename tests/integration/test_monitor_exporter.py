"""``certdoctor monitor --serve`` as a real process, scraped by a real Prometheus (Debian's, on
127.0.0.1): issue 11 item 6, "answers a PromQL query over its HTTP API with the expected expiry
of a failing target". Three TLS servers of support.servers (a good chain, a missing
intermediate, an expired leaf), the exporter on port 0 refreshing every second, one Prometheus
scraping /metrics with the shipped alert rules loaded and one scraping /probe?target=…,
blackbox-style; then SIGTERM, and the exporter must exit 0."""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes

from support.pki import NOW, TestCA, pem
from support.prometheus import require, run_prometheus

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "contrib" / "prometheus" / "certdoctor.rules.yml"
START_TIMEOUT = 30.0  # seconds until the exporter prints where it listens
STOP_TIMEOUT = 10.0  # seconds it may take to exit after SIGTERM
LOCAL_ISSUER = "unable to get local issuer certificate"


class Exporter:
    """``certdoctor monitor … --serve 127.0.0.1:0`` in a subprocess; ``url`` once it listens."""

    def __init__(self, args: list[str], workdir: Path) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
        self.log = workdir / "exporter.log"
        self._err = open(self.log, "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "certdoctor", "monitor", *args,
                                      "--serve", "127.0.0.1:0"], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=self._err, env=env, start_new_session=True)
        self.url = self._wait_listening()

    def _wait_listening(self) -> str:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            m = re.search(r"serving (http://127\.0\.0\.1:\d+)/metrics", self.text())
            if m:
                return m.group(1)
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"the exporter did not start (rc {self.proc.poll()}):\n{self.text()}")

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    @property
    def address(self) -> str:
        return self.url.removeprefix("http://")

    def get(self, path: str) -> tuple[int, bytes]:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(self.url + path, timeout=15) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def terminate(self, sig=signal.SIGTERM) -> int:
        """Send ``sig``; the exit code (bounded wait, then SIGKILL of its group and a failure)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=STOP_TIMEOUT)
            raise AssertionError(f"the exporter ignored {sig!r} for {STOP_TIMEOUT:.0f}s:\n{self.text()}") from None
        finally:
            self._err.close()


@pytest.fixture
def fleet(tmp_path, servers):
    """Three TLS servers on 127.0.0.1 and the CA file that trusts their root."""
    root = TestCA("Exporter Root")
    inter = root.intermediate("Exporter Inter")
    good = inter.issue_cert("127.0.0.1", not_after=NOW + dt.timedelta(days=80))
    missing = inter.issue_cert("127.0.0.1", not_after=NOW + dt.timedelta(days=40))
    expired = inter.issue_cert("127.0.0.1", not_before=NOW - dt.timedelta(days=100),
                               not_after=NOW - dt.timedelta(days=5))
    ca = tmp_path / "root.pem"
    ca.write_bytes(pem(root.cert))
    good_srv = servers.tls(good.chain[:-1], good.key)
    missing_srv = servers.tls(missing.chain[:1], missing.key)  # the leaf only
    expired_srv = servers.tls(expired.chain[:-1], expired.key)
    return {
        "ca": str(ca),
        "good": (f"127.0.0.1:{good_srv.port}", good.cert),
        "missing": (f"127.0.0.1:{missing_srv.port}", missing.cert),
        "expired": (f"127.0.0.1:{expired_srv.port}", expired.cert),
    }


def _one(result: list) -> tuple[dict, float]:
    assert len(result) == 1, result
    return result[0]["metric"], float(result[0]["value"][1])


def test_prometheus_scrapes_the_fleet_and_a_probe_and_sees_the_failing_targets_expiry(tmp_path, fleet):
    require("prometheus")
    targets = [fleet[k][0] for k in ("good", "missing", "expired")]
    exporter = Exporter([*targets, "--ca-file", fleet["ca"], "--timeout", "5", "--interval", "1"], tmp_path)
    try:
        missing, missing_cert = fleet["missing"]
        expired, expired_cert = fleet["expired"]
        with run_prometheus(tmp_path / "prom", [exporter.address], rule_files=[RULES]) as prom, \
                run_prometheus(tmp_path / "prom-probe", [exporter.address], metrics_path="/probe",
                               params={"target": [missing]}) as probe_prom:
            # the failing target's expiry, over the HTTP API: exactly the served leaf's notAfter
            got = prom.wait_for(f'certdoctor_cert_not_after_timestamp_seconds{{target="{missing}",position="0"}}',
                                timeout=60)
            labels, value = _one(got)
            assert value == missing_cert.not_valid_after_utc.timestamp()
            assert labels["on_path"] == "true" and labels["job"] == "certdoctor"
            assert labels["fingerprint_sha256"] == missing_cert.fingerprint(hashes.SHA256()).hex()
            _, value = _one(prom.query(f'certdoctor_probe_success{{target="{missing}"}}'))
            assert value == 1.0  # the chain was obtained, whatever verification says
            labels, value = _one(prom.query(f'certdoctor_chain_verified{{target="{missing}"}}'))
            assert (labels["reason"], value) == (LOCAL_ISSUER, 0.0)
            labels, value = _one(prom.query(f'certdoctor_chain_verified{{target="{expired}"}}'))
            assert (labels["reason"], value) == ("certificate has expired", 0.0)
            labels, value = _one(prom.query(f'certdoctor_chain_verified{{target="{fleet["good"][0]}"}}'))
            assert (labels.get("reason", ""), value) == ("", 1.0)
            _, value = _one(prom.query(f'certdoctor_cert_not_after_timestamp_seconds{{target="{expired}",'
                                       f'position="0"}}'))
            assert value == expired_cert.not_valid_after_utc.timestamp()
            _, value = _one(prom.query("certdoctor_monitor_targets"))
            assert value == 3.0
            # the shipped rules: ChainVerificationFailed (for: 5m) pending for both failing
            # targets, with the reason; CertificateExpired (no for:) firing for the expired leaf
            deadline = time.monotonic() + 30
            while True:
                alerts = prom.alerts()
                chain = {(a["labels"]["target"], a["labels"]["reason"], a["state"]) for a in alerts
                         if a["labels"]["alertname"] == "ChainVerificationFailed"}
                expired_alerts = {(a["labels"]["target"], a["state"]) for a in alerts
                                  if a["labels"]["alertname"] == "CertificateExpired"}
                if len(chain) >= 2 and expired_alerts:
                    break
                assert time.monotonic() < deadline, alerts
                time.sleep(0.5)
            assert {(missing, LOCAL_ISSUER), (expired, "certificate has expired")} == {(t, r) for t, r, _ in chain}
            assert all(state in ("pending", "firing") for *_, state in chain)
            assert expired_alerts == {(expired, "firing")}
            # the rule's own expression, as Prometheus loaded it, selects exactly the failing ones
            rules = [r for g in prom.api("/api/v1/rules")["groups"] for r in g["rules"]
                     if r.get("name") == "ChainVerificationFailed"]
            assert len(rules) == 1
            assert {s["metric"]["target"] for s in prom.query(rules[0]["query"])} == {missing, expired}

            # /probe?target=…, scraped like blackbox_exporter's: the same series for that target
            got = probe_prom.wait_for(f'certdoctor_cert_not_after_timestamp_seconds{{target="{missing}"}}',
                                      timeout=60)
            _, value = _one(got)
            assert value == missing_cert.not_valid_after_utc.timestamp()
            labels, value = _one(probe_prom.query("certdoctor_chain_verified"))
            assert (labels["target"], labels["reason"], value) == (missing, LOCAL_ISSUER, 0.0)
            assert {s["metric"]["target"] for s in probe_prom.query("certdoctor_probe_success")} == {missing}
        # the HTTP surface besides: 404 elsewhere, 400 for a /probe without a target or of a file
        assert exporter.get("/nowhere")[0] == 404
        assert exporter.get("/probe")[0] == 400
        status, body = exporter.get("/probe?target=" + urllib.request.quote(fleet["ca"]))
        assert status == 400 and b"bad target" in body
        status, body = exporter.get("/metrics")
        assert status == 200 and b"certdoctor_monitor_last_run_timestamp_seconds" in body
    finally:
        rc = exporter.terminate()
    assert rc == 0, exporter.text()
    assert "Traceback" not in exporter.text()


def test_the_exporter_serves_the_latest_complete_run_and_stops_on_sigint(tmp_path, servers):
    """A target that stops answering changes /metrics at the next run; SIGINT stops it (exit 0)."""
    root = TestCA("Exporter Root")
    leaf = root.intermediate().issue_cert("127.0.0.1")
    ca = tmp_path / "root.pem"
    ca.write_bytes(pem(root.cert))
    from support.servers import tls_server

    cm = tls_server(leaf.chain[:-1], leaf.key)
    srv = cm.__enter__()
    target = f"127.0.0.1:{srv.port}"
    exporter = Exporter([target, "--ca-file", str(ca), "--timeout", "2", "--interval", "1"], tmp_path)
    stopped = False
    try:
        def success() -> bytes | None:
            _, body = exporter.get("/metrics")
            m = re.search(rb'certdoctor_probe_success\{target="' + re.escape(target.encode()) + rb'"\} (\S+)', body)
            return m.group(1) if m else None

        deadline = time.monotonic() + 30
        while success() != b"1.0":
            assert time.monotonic() < deadline, exporter.get("/metrics")
            time.sleep(0.2)
        cm.__exit__(None, None, None)
        stopped = True
        deadline = time.monotonic() + 30
        while success() != b"0.0":  # the next complete run: refused, nothing half-published
            assert time.monotonic() < deadline, exporter.get("/metrics")
            time.sleep(0.2)
        _, body = exporter.get("/metrics")
        assert b"certdoctor_cert_not_after_timestamp_seconds{" not in body  # the old leaf is gone
    finally:
        if not stopped:
            cm.__exit__(None, None, None)
        rc = exporter.terminate(signal.SIGINT)
    assert rc == 0, exporter.text()


def test_serve_refuses_a_bound_port_with_error_and_hint(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
        done = subprocess.run([sys.executable, "-m", "certdoctor", "monitor", "--serve", f"127.0.0.1:{port}"],
                              capture_output=True, text=True, timeout=60, env=env, stdin=subprocess.DEVNULL)
    assert done.returncode == 3
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("error: --serve 127.0.0.1:") and "cannot listen" in lines[0]
    assert lines[1].startswith("hint: ")


def test_many_probes_at_once_are_answered_or_refused_never_hung(tmp_path, servers):
    """/probe in parallel threads: every answer is a 200 with the target's metrics."""
    root = TestCA("Exporter Root")
    leaf = root.intermediate().issue_cert("127.0.0.1")
    ca = tmp_path / "root.pem"
    ca.write_bytes(pem(root.cert))
    srv = servers.tls(leaf.chain[:-1], leaf.key)
    exporter = Exporter(["--ca-file", str(ca), "--interval", "300"], tmp_path)  # /probe only, no fleet
    try:
        results: list = []

        def one() -> None:
            results.append(exporter.get(f"/probe?target=127.0.0.1:{srv.port}"))

        threads = [threading.Thread(target=one) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert len(results) == 8
        for status, body in results:
            assert status == 200
            assert f'certdoctor_chain_verified{{reason="",target="127.0.0.1:{srv.port}"}} 1.0'.encode() in body
        _, body = exporter.get("/metrics")
        assert b"certdoctor_probe_success{" not in body  # an empty fleet: self-metrics only
    finally:
        rc = exporter.terminate()
    assert rc == 0, exporter.text()


def test_the_exporter_keeps_state_and_exports_when_the_leaf_changed(tmp_path, servers):
    """`--serve --state FILE`: each fleet run is recorded in the state file, so a leaf replaced on
    the live server between two runs shows as certdoctor_cert_change_timestamp_seconds (absent
    before: the first sight of a target is not a change) and as a leaf_rekeyed transition in the
    state's history; /probe records nothing."""
    import sqlite3

    from prometheus_client.parser import text_string_to_metric_families

    from support.servers import server_context

    root = TestCA("Exporter State Root")
    inter = root.intermediate("Exporter State Inter")
    ca = tmp_path / "root.pem"
    ca.write_bytes(pem(root.cert))
    first = inter.issue_cert("127.0.0.1")
    srv = servers.tls(first.chain[:-1], first.key)
    target = f"127.0.0.1:{srv.port}"
    state = tmp_path / "state.sqlite"

    def changed_at(exp) -> list[float]:
        status, body = exp.get("/metrics")
        assert status == 200
        return [s.value for fam in text_string_to_metric_families(body.decode())
                for s in fam.samples if s.name == "certdoctor_cert_change_timestamp_seconds"]

    def runs(exp) -> float:
        _, body = exp.get("/metrics")
        return next((s.value for fam in text_string_to_metric_families(body.decode()) for s in fam.samples
                     if s.name == "certdoctor_monitor_last_run_timestamp_seconds"), 0.0)

    exp = Exporter([target, "--ca-file", str(ca), "--interval", "1", "--state", str(state)], tmp_path)
    try:
        deadline = time.monotonic() + 20
        while not runs(exp) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert runs(exp), exp.text()
        assert changed_at(exp) == []  # one run, no change yet
        swapped = time.time()
        second = inter.issue_cert("127.0.0.1")  # a new key: a rekeyed leaf
        srv.tls = server_context(second.chain[:-1], second.key)
        got: list[float] = []
        while not got and time.monotonic() < deadline + 20:
            time.sleep(0.2)
            got = changed_at(exp)
        assert len(got) == 1 and got[0] >= swapped - 2, (got, exp.text())
        assert exp.get(f"/probe?target={target}")[0] == 200
    finally:
        assert exp.terminate() == 0, exp.text()
    db = sqlite3.connect(state)
    kinds = [k for (k,) in db.execute("SELECT kind FROM history ORDER BY rowid")]
    assert kinds[0] == "new_target" and "leaf_rekeyed" in kinds, kinds
