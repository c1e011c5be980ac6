"""The monitor against real servers on 127.0.0.1: the lab's scenarios get diagnose's codes,
hostile servers get their row in bounded time without costing 50 good targets theirs, the
concurrency bound holds, and a --targets file is consumed lazily."""

from __future__ import annotations

import json
import time

import pytest

from certdoctor.monitor.config import Defaults, endpoint, source, stream_targets
from certdoctor.monitor.run import monitor
from support import hostile
from support.pki import TestCA, pem
from support.servers import closed_port, server_context


SCENARIOS = ("good", "missing_intermediate", "expired_leaf", "self_signed", "hostname_mismatch")


@pytest.mark.parametrize("sid", SCENARIOS)
def test_lab_endpoints_get_diagnoses_primary_code(lab, sid):
    from certdoctor.diagnose import diagnose

    url = lab.endpoint(sid).url
    [row] = monitor([endpoint(url, Defaults(ca_file=str(lab.ca_file)))])
    d = diagnose(url, ca_file=str(lab.ca_file), run_real_client=False, canaries="none")
    primary = d.primary if d.primary is not None and d.primary.severity.rank > 0 else None
    assert row.reason == (primary.code.value if primary else None)
    assert row.status == ("ok" if sid == "good" else "critical")
    assert row.verified is (sid == "good")
    # certificate facts of every presented certificate, also when verification fails
    assert row.certificates and all(c.fingerprint_sha256 and c.spki_pin and c.serial for c in row.certificates)
    assert len(row.certificates) == len(d.probe.chain_der)
    json.dumps(row.to_json())


def test_expired_extra_certificate_is_its_own_finding_not_expired(tmp_path, servers):
    import datetime as dt

    root = TestCA("Mon Root")
    inter = root.intermediate("Mon Inter")
    leaf = inter.issue_cert("127.0.0.1")
    old = TestCA("Old Cross", not_before=dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc),
                 not_after=dt.datetime(2021, 1, 1, tzinfo=dt.timezone.utc))
    srv = servers.tls(server_context(pem(leaf.cert, inter.cert, old.cert), leaf.key))
    ca = tmp_path / "root.pem"
    ca.write_bytes(pem(root.cert))
    [row] = monitor([endpoint(f"127.0.0.1:{srv.port}", Defaults(ca_file=str(ca)))])
    assert row.status == "warning" and row.reason == "CHAIN_EXTRA_CERT"
    assert "EXPIRED" not in {f.code.value for f in row.findings}
    extra = [c for c in row.certificates if not c.on_path]
    assert len(extra) == 1 and extra[0].days_left < 0
    assert row.days_left > 0


def test_hostile_servers_get_rows_in_bounded_time_and_50_good_targets_too(tmp_path, servers):
    ca = TestCA("Mon Root")
    leaf = ca.intermediate().issue_cert("127.0.0.1")
    good = servers.tls(leaf)
    cafile = tmp_path / "ca.pem"
    cafile.write_bytes(pem(ca.cert))
    hostile_servers = {
        "stall": servers.tcp(hostile.stall, timeout=30),
        "reset": servers.tcp(hostile.reset),
        "garbage": servers.tcp(hostile.garbage),
        "huge": servers.tcp(hostile.huge_chain(), timeout=30),
    }
    d = Defaults(ca_file=str(cafile), timeout=2.0)
    specs = [endpoint(f"127.0.0.1:{good.port}", d) for _ in range(50)]
    specs += [endpoint(f"127.0.0.1:{s.port}", d, f"hostile {name}") for name, s in hostile_servers.items()]
    specs.append(endpoint(f"127.0.0.1:{closed_port()}", d, "closed"))
    t0 = time.monotonic()
    rows = monitor(specs, concurrency=20)
    took = time.monotonic() - t0
    assert len(rows) == len(specs)
    by = {r.origin: r for r in rows}
    assert sum(1 for r in rows if r.origin == "argv" and r.status == "ok") == 50
    assert by["hostile stall"].reason == "TIMEOUT" and by["hostile stall"].status == "unknown"
    assert by["hostile reset"].reason == "CONNECT_FAILED"
    assert by["hostile garbage"].reason == "NOT_TLS"
    # OpenSSL refuses the oversized Certificate message (or the byte cap stops it): a failed handshake
    assert by["hostile huge"].reason == "CONNECT_FAILED" and by["hostile huge"].status == "unknown"
    assert by["closed"].reason == "CONNECTION_REFUSED"
    # each within its own deadline: timeout 2 s (+ margin), the run about one deadline long
    assert all(r.elapsed < 2.0 + 1.5 for r in rows), [(r.origin, r.elapsed) for r in rows]
    assert took < 15, took


def test_concurrency_bound_holds(tmp_path, servers):
    ca = TestCA("Mon Root")
    leaf = ca.intermediate().issue_cert("127.0.0.1")
    counter = hostile.Counting(server_context(leaf), hold=0.05)
    srv = servers.tcp(counter)
    cafile = tmp_path / "ca.pem"
    cafile.write_bytes(pem(ca.cert))
    d = Defaults(ca_file=str(cafile), timeout=5.0)
    rows = monitor([endpoint(f"127.0.0.1:{srv.port}", d) for _ in range(40)], concurrency=4)
    assert len(rows) == 40 and all(r.status == "ok" for r in rows), {r.reason for r in rows}
    assert counter.total == 40
    assert 1 < counter.peak <= 4, counter.peak


def test_targets_file_is_streamed_lazily(tmp_path):
    port = closed_port()
    lines = ["# inventory", ""] + [f"127.0.0.1:{port}  # n{i}" for i in range(2000)]
    path = tmp_path / "targets.txt"
    path.write_text("\n".join(lines) + "\n")
    pulled = {"n": 0, "at_first_row": None}

    def counted():
        for spec in stream_targets(path, Defaults(timeout=2.0)):
            pulled["n"] += 1
            yield spec

    from certdoctor.monitor.run import run_monitor
    import asyncio

    async def go():
        count = 0
        # one process: its look-ahead is the concurrency (workers="auto" first peeks
        # MONITOR_SHARD_MIN_TARGETS specs: tests/integration/test_monitor_shard.py bounds that)
        async for row in run_monitor(counted(), concurrency=50, workers=1):
            if pulled["at_first_row"] is None:
                pulled["at_first_row"] = pulled["n"]
            assert row.reason == "CONNECTION_REFUSED"
            count += 1
        return count

    assert asyncio.run(go()) == 2000
    assert pulled["at_first_row"] <= 51  # look-ahead = concurrency: the file was not read whole


def test_bad_targets_line_is_its_row_naming_the_line(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("127.0.0.1:1\nexample.org:99999\nhttp://plain.example\n")
    rows = monitor(stream_targets(path, Defaults(timeout=1.0)))
    bad = sorted((r for r in rows if r.error and ":" in r.origin and r.reason is None), key=lambda r: r.origin)
    assert [r.origin for r in bad] == [f"{path}:2", f"{path}:3"]
    assert all(r.status == "unknown" and r.error.startswith(f"{path}:") for r in bad)


def test_a_bug_is_an_error_row_and_the_run_goes_on(monkeypatch, tmp_path):
    from certdoctor.monitor import engine

    def boom(*a, **k):
        raise RuntimeError("synthetic bug")

    monkeypatch.setattr(engine, "file_row", boom)
    f = tmp_path / "c.pem"
    f.write_bytes(pem(TestCA("X").cert))
    rows = monitor([source(str(f)), endpoint(f"127.0.0.1:{closed_port()}", Defaults(timeout=1.0))])
    assert sorted(r.status for r in rows) == ["error", "unknown"]
    assert any("synthetic bug" in (r.error or "") for r in rows)


def test_judgements_are_shared_per_chain_and_name_never_across_names(tmp_path, servers):
    """Targets presenting one chain for one name share one run of the checks (the engine's
    judgement cache); a host that presents the same chain under a name it does not match still
    gets its HOSTNAME_MISMATCH, and every row says what an engine without reuse says."""
    import asyncio
    import datetime as dt

    from certdoctor.monitor.engine import Engine

    root = TestCA("Mon Root")
    leaf = root.intermediate("Mon Inter").issue_cert("good.lab.test")
    one, two = servers.tls(leaf), servers.tls(leaf)  # one chain on two ports
    cafile = tmp_path / "ca.pem"
    cafile.write_bytes(pem(root.cert))
    d = Defaults(ca_file=str(cafile))
    specs = [endpoint(f"good.lab.test:{srv.port}", d, address="127.0.0.1") for srv in (one, two, one, two)]
    specs.append(endpoint(f"other.lab.test:{one.port}", d, "mismatch", address="127.0.0.1"))
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)

    def run(engine, targets):
        async def go():
            return [row async for row in engine.rows(targets)]
        return asyncio.run(go())

    shared = Engine(concurrency=1, now=now)
    rows = run(shared, specs)
    assert shared.reused == 3  # the first good.lab.test target is judged, the next three reuse it
    by_origin = [r for r in rows if r.origin == "argv"]
    assert [r.status for r in by_origin] == ["ok"] * 4 and all(r.verified for r in by_origin)
    [mismatch] = [r for r in rows if r.origin == "mismatch"]
    assert mismatch.reason == "HOSTNAME_MISMATCH" and mismatch.verified is False

    def comparable(row):
        doc = row.to_json()
        doc.pop("elapsed")
        return doc

    for spec, row in zip(specs, rows):  # concurrency 1: rows in target order
        alone = Engine(concurrency=1, now=now)
        [fresh] = run(alone, [spec])
        assert alone.reused == 0
        assert comparable(row) == comparable(fresh)
    assert {r.port for r in by_origin} == {one.port, two.port}


def test_judgement_reuse_fills_each_targets_own_url_into_fixes(tmp_path, servers):
    """A reused judgement of an untrusted chain suggests commands naming each target's own URL."""
    import asyncio
    import datetime as dt

    from certdoctor.monitor.engine import Engine

    leaf = TestCA("Unknown Root").intermediate().issue_cert("127.0.0.1")
    one, two = servers.tls(leaf), servers.tls(leaf)
    cafile = tmp_path / "other.pem"
    cafile.write_bytes(pem(TestCA("Mon Root").cert))
    d = Defaults(ca_file=str(cafile))
    specs = [endpoint(f"127.0.0.1:{one.port}", d), endpoint(f"127.0.0.1:{two.port}", d)]
    engine = Engine(concurrency=1, now=dt.datetime.now(dt.timezone.utc).replace(microsecond=0))

    async def go():
        return [row async for row in engine.rows(specs)]

    rows = asyncio.run(go())
    assert engine.reused == 1
    assert all(r.status == "critical" and r.verified is False for r in rows)
    for row, srv in zip(rows, (one, two)):
        fixes = " ".join(f.fix for f in row.findings)
        assert f"127.0.0.1:{srv.port}" in fixes
        other = two if srv is one else one
        assert f"127.0.0.1:{other.port}" not in fixes


def test_revocation_opt_in_finds_the_lab_revoked_leaf_and_shares_the_crl(lab, cache_dir):
    """`revocation = true` on a target: the lab's revoked leaf (in the intermediate's CRL, served
    by the lab) is REVOKED in the monitor as in diagnose; without the option it is not asked; the
    good endpoint stays ok with revocation on (one download cache for the run)."""
    from certdoctor.model import Code
    from certdoctor.net.fetch import FetchCache

    ca = str(lab.ca_file)
    revoked, good = lab.endpoint("revoked").url, lab.endpoint("good").url
    [plain] = monitor([endpoint(revoked, Defaults(ca_file=ca))])
    assert "REVOKED" not in {f["code"] for f in plain.findings}, plain.findings
    cache = FetchCache(cache_dir)
    rows = monitor([endpoint(revoked, Defaults(ca_file=ca, revocation=True)),
                    endpoint(revoked, Defaults(ca_file=ca, revocation=True)),
                    endpoint(good, Defaults(ca_file=ca, revocation=True))], cache=cache)
    by = {}
    for r in rows:
        by.setdefault(r.target, []).append(r)
    for r in by[revoked]:
        assert r.status == "critical" and r.reason == Code.REVOKED.value, (r.status, r.reason, r.findings)
    assert by[good][0].status == "ok", by[good][0].findings
