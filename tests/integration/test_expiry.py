"""expiry: every certificate of every chain, Nagios states and exit codes, clock skew.

Files are built here with ``cryptography`` and checked with ``now=`` pinned; endpoints are lab
scenarios and small TLS servers on 127.0.0.1 (one sends a wrong ``Date``).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import queue
import socket
import ssl
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from certdoctor.cli.common import run
from certdoctor.cli.main import cli
from certdoctor.errors import UsageError
from certdoctor.expiry import State, build_report, check_expiry
from certdoctor.model import Code

NOW = dt.datetime(2030, 6, 1, 12, 0, tzinfo=dt.timezone.utc)
DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)

# --------------------------------------------------------------------------- certificates


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


class Chain:
    """root -> intermediate -> leaf, with chosen validity windows."""

    def __init__(self, leaf_nb, leaf_na, *, cn="www.example.com", inter_na=None, root_na=None, names=None):
        self.root_key = ec.generate_private_key(ec.SECP256R1())
        self.inter_key = ec.generate_private_key(ec.SECP256R1())
        self.leaf_key = ec.generate_private_key(ec.SECP256R1())
        base = leaf_nb
        self.root = self._cert("Expiry Root", self.root_key, None, self.root_key, base - 900 * DAY,
                               root_na or base + 3000 * DAY, ca=True)
        self.inter = self._cert("Expiry Intermediate", self.inter_key, self.root, self.root_key,
                                base - 400 * DAY, inter_na or base + 1500 * DAY, ca=True)
        self.leaf = self._cert(cn, self.leaf_key, self.inter, self.inter_key, leaf_nb, leaf_na, ca=False,
                               names=names or [cn])

    @staticmethod
    def _cert(cn, key, issuer, issuer_key, nb, na, *, ca, names=()):
        import ipaddress

        b = (x509.CertificateBuilder().subject_name(_name(cn))
             .issuer_name(issuer.subject if issuer else _name(cn)).public_key(key.public_key())
             .serial_number(x509.random_serial_number()).not_valid_before(nb).not_valid_after(na)
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if names:
            sans = []
            for n in names:
                try:
                    sans.append(x509.IPAddress(ipaddress.ip_address(n)))
                except ValueError:
                    sans.append(x509.DNSName(n))
            b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return b.sign(issuer_key, hashes.SHA256())

    def pem(self, root=True):
        certs = [self.leaf, self.inter] + ([self.root] if root else [])
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)

    def write(self, path: Path, root=True) -> str:
        path.write_bytes(self.pem(root))
        return str(path)


def _chain_file(tmp_path, days_left, *, lifetime=90, name="chain.pem", now=NOW, **kw):
    na = now + dt.timedelta(days=days_left, hours=1)  # an hour of margin: whole days stay whole
    return Chain(na - lifetime * DAY, na, **kw).write(tmp_path / name)


# --------------------------------------------------------------------------- library, files


@pytest.mark.parametrize("days_left,state", [
    (84, State.OK), (30, State.OK), (29, State.WARNING), (8, State.WARNING), (7, State.WARNING),
    (6, State.CRITICAL), (0, State.CRITICAL),
])
def test_states_by_days_left(tmp_path, days_left, state):
    rep = check_expiry([_chain_file(tmp_path, days_left)], 30, 7, now=NOW)
    leaf = rep.sources[0].certs[0]
    assert leaf.days_left == days_left
    assert (leaf.state, rep.state, rep.exit_code) == (state, state, state.exit_code)


def test_expired_and_not_yet_valid_are_critical(tmp_path):
    expired = Chain(NOW - 100 * DAY, NOW - 10 * DAY - HOUR, cn="old.example.com").write(tmp_path / "old.pem")
    future = Chain(NOW + 10 * DAY, NOW + 100 * DAY, cn="new.example.com").write(tmp_path / "new.pem")
    rep = check_expiry([expired], now=NOW)
    c = rep.sources[0].certs[0]
    assert c.expired and c.state is State.CRITICAL and rep.exit_code == 2
    assert c.days_left == -10 and c.lifetime_used == 100.0
    assert rep.summary == ("CERT CRITICAL - 3 certificates in 1 chain, old.example.com expired 10 days ago"
                           " | days_left=-10;30;7")
    assert [f.code for f in rep.sources[0].findings] == [Code.EXPIRED]
    rep = check_expiry([future], now=NOW)
    c = rep.sources[0].certs[0]
    assert c.not_yet_valid and c.state is State.CRITICAL and c.lifetime_used == 0.0
    assert "new.example.com is not valid yet (starts in 10 days)" in rep.summary
    assert rep.sources[0].findings[0].code is Code.NOT_YET_VALID


def test_ok_summary_is_a_nagios_line(tmp_path):
    rep = check_expiry([_chain_file(tmp_path, 84)], now=NOW)
    assert rep.summary == "CERT OK - 3 certificates in 1 chain, soonest www.example.com expires in 84 days | days_left=84;30;7"
    assert rep.state is State.OK and rep.exit_code == 0 and rep.soonest_days_left == 84


def test_every_certificate_counts_an_expiring_intermediate(tmp_path):
    path = Chain(NOW - 10 * DAY, NOW + 300 * DAY, inter_na=NOW + 3 * DAY + HOUR).write(tmp_path / "c.pem")
    rep = check_expiry([path], now=NOW)
    states = [c.state for c in rep.sources[0].certs]
    assert states == [State.OK, State.CRITICAL, State.OK]
    assert rep.state is State.CRITICAL and "soonest Expiry Intermediate expires in 3 days" in rep.summary
    assert rep.sources[0].findings[0].cert_index == 1


def test_lifetime_used_and_dates(tmp_path):
    path = Chain(NOW - 30 * DAY, NOW + 90 * DAY).write(tmp_path / "c.pem")
    c = check_expiry([path], now=NOW).sources[0].certs[0]
    assert c.lifetime_used == 25.0 and c.days_left == 90
    assert c.not_before == NOW - 30 * DAY and c.not_after == NOW + 90 * DAY
    assert c.fingerprint_sha256.count(":") == 31


def test_several_chains_and_the_soonest(tmp_path):
    a = _chain_file(tmp_path, 84, name="a.pem", cn="a.example.com")
    b = _chain_file(tmp_path, 20, name="b.pem", cn="b.example.com")
    rep = check_expiry([a, b], now=NOW)
    assert rep.state is State.WARNING and rep.exit_code == 1
    assert rep.summary == ("CERT WARNING - 6 certificates in 2 chains, soonest b.example.com expires in 20 days"
                           " | days_left=20;30;7")


def test_unreadable_sources_are_unknown_entries_not_crashes(tmp_path):
    good = _chain_file(tmp_path, 84)
    junk = tmp_path / "junk.pem"
    junk.write_bytes(b"this is not a certificate")
    missing = tmp_path / "missing.pem"
    rep = check_expiry([good, str(junk), str(missing), str(tmp_path)], now=NOW)
    states = [s.state for s in rep.sources]
    assert states == [State.OK, State.UNKNOWN, State.UNKNOWN, State.UNKNOWN]
    assert all(s.error for s in rep.sources[1:]) and rep.sources[0].error is None
    assert "junk.pem" in rep.sources[1].error and "no such file" in rep.sources[2].error
    assert rep.state is State.UNKNOWN and rep.exit_code == 3
    assert rep.summary.startswith("CERT UNKNOWN - 3 certificates in 1 chain, soonest www.example.com")
    assert "3 of 4 sources not checked" in rep.summary and rep.summary.endswith("| days_left=84;30;7")
    only_bad = check_expiry([str(junk)], now=NOW)
    assert only_bad.exit_code == 3 and "|" not in only_bad.summary


def test_critical_outranks_unknown_outranks_warning(tmp_path):
    junk = tmp_path / "junk.pem"
    junk.write_bytes(b"x")
    crit = _chain_file(tmp_path, 2, name="crit.pem")
    warn = _chain_file(tmp_path, 20, name="warn.pem")
    assert check_expiry([crit, str(junk)], now=NOW).state is State.CRITICAL
    assert check_expiry([warn, str(junk)], now=NOW).state is State.UNKNOWN


def test_an_unreachable_endpoint_is_unknown(tmp_path):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    rep = check_expiry([f"127.0.0.1:{port}", _chain_file(tmp_path, 84)], now=NOW, timeout=3)
    assert rep.sources[0].state is State.UNKNOWN and rep.sources[0].kind == "endpoint"
    assert rep.sources[0].error and rep.sources[1].state is State.OK
    assert rep.exit_code == 3


@pytest.mark.parametrize("warn,crit", [(5, 7), (-1, 0), (30, -2)])
def test_bad_thresholds_raise(tmp_path, warn, crit):
    with pytest.raises(UsageError):
        check_expiry([_chain_file(tmp_path, 84)], warn, crit, now=NOW)


def test_build_report_from_nothing_checked():
    rep = build_report([], 30, 7, NOW)
    assert rep.state is State.OK and rep.soonest_days_left is None


# --------------------------------------------------------------------------- CLI, files


def _real_now_file(tmp_path, days_left, name="c.pem", **kw):
    return _chain_file(tmp_path, days_left, name=name, now=dt.datetime.now(dt.timezone.utc), **kw)


def test_cli_ok_warning_critical_exit_codes(tmp_path, capsys):
    ok = _real_now_file(tmp_path, 84, "ok.pem")
    assert run(cli, ["expiry", ok]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "CERT OK - 3 certificates in 1 chain, soonest www.example.com expires in 84 days | days_left=84;30;7"
    assert any("www.example.com" in line and "OK" in line for line in out[1:])
    assert run(cli, ["expiry", _real_now_file(tmp_path, 20, "w.pem")]) == 1
    assert capsys.readouterr().out.startswith("CERT WARNING - ")
    assert run(cli, ["expiry", "--warn-days", "10", "--crit-days", "3", _real_now_file(tmp_path, 20, "w2.pem")]) == 0
    capsys.readouterr()
    assert run(cli, ["expiry", _real_now_file(tmp_path, 2, "c.pem")]) == 2
    assert capsys.readouterr().out.startswith("CERT CRITICAL - 3 certificates in 1 chain, soonest www.example.com expires in 2 days")


def test_cli_unreadable_file_is_unknown(tmp_path, capsys):
    junk = tmp_path / "junk.pem"
    junk.write_bytes(b"nope")
    assert run(cli, ["expiry", str(junk)]) == 3
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("CERT UNKNOWN - 1 of 1 source not checked: ") and "junk.pem" in first


@pytest.mark.parametrize("argv,words", [
    (["--warn-days", "5", "--crit-days", "7"], "must not be below"),
    (["--warn-days", "-1"], "negative"),
    (["--crit-days", "x"], "not a valid integer"),
    (["--timeout", "0"], "--timeout"),
    ([], "Missing argument"),
])
def test_cli_bad_usage_exits_3_with_one_line(tmp_path, capsys, argv, words):
    src = [_real_now_file(tmp_path, 84)] if argv else []
    assert run(cli, ["expiry", *argv, *src]) == 3
    out = capsys.readouterr().out
    assert len(out.splitlines()) == 1 and out.startswith("CERT UNKNOWN - bad usage: ") and words in out


def test_cli_json(tmp_path, capsys):
    junk = tmp_path / "junk.pem"
    junk.write_bytes(b"nope")
    assert run(cli, ["expiry", "--json", _real_now_file(tmp_path, 20), str(junk)]) == 3
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema_version"] == 2 and doc["state"] == "UNKNOWN" and doc["exit_code"] == 3
    assert doc["summary"].startswith("CERT UNKNOWN - ")
    first, bad = doc["sources"]
    assert first["kind"] == "file" and first["state"] == "WARNING" and first["clock"] is None
    assert [c["days_left"] for c in first["certs"]][0] == 20
    assert {"not_before", "not_after", "lifetime_used", "state"} <= set(first["certs"][0])
    assert first["findings"][0]["code"] == "EXPIRING_SOON"
    assert bad["state"] == "UNKNOWN" and bad["error"]
    assert run(cli, ["expiry", "--json", "--warn-days", "1", _real_now_file(tmp_path, 20, "x.pem")]) == 3
    assert json.loads(capsys.readouterr().out)["state"] == "UNKNOWN"


# --------------------------------------------------------------------------- endpoints


class DateServer:
    """A TLS HTTP server on 127.0.0.1 answering every request with a chosen ``Date``.

    ``requests`` gets the request line of every request that reached it.
    """

    def __init__(self, chain: Chain, date_offset: dt.timedelta):
        d = Path(__import__("tempfile").mkdtemp())
        (d / "c.pem").write_bytes(chain.pem(root=False))
        (d / "k.pem").write_bytes(chain.leaf_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        self.ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ctx.load_cert_chain(d / "c.pem", d / "k.pem")
        self.offset = date_offset
        self.requests: queue.Queue = queue.Queue()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(5)
        self.sock.close()

    def _loop(self):
        while not self.stop.is_set():
            try:
                raw, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            threading.Thread(target=self._handle, args=(raw,), daemon=True).start()

    def _handle(self, raw):
        raw.settimeout(3)
        tls = None
        try:
            tls = self.ctx.wrap_socket(raw, server_side=True)
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = tls.recv(4096)
                if not chunk:
                    return
                head += chunk
            self.requests.put(head.split(b"\r\n", 1)[0].decode())
            date = email.utils.format_datetime(dt.datetime.now(dt.timezone.utc) + self.offset, usegmt=True)
            tls.sendall(f"HTTP/1.1 200 OK\r\nDate: {date}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())
        except (OSError, ssl.SSLError):
            pass
        finally:
            (tls or raw).close()


def _server_chain():
    now = dt.datetime.now(dt.timezone.utc)
    return Chain(now - 10 * DAY, now + 80 * DAY, cn="skew.test", names=["127.0.0.1"])


def test_clock_skew_is_measured_over_a_verified_connection_and_flagged(tmp_path):
    chain = _server_chain()
    ca = tmp_path / "root.pem"
    ca.write_bytes(chain.root.public_bytes(serialization.Encoding.PEM))
    with DateServer(chain, dt.timedelta(hours=1)) as srv:
        rep = check_expiry([f"https://127.0.0.1:{srv.port}/status?x=1"], ca_file=ca, timeout=5)
        assert srv.requests.get(timeout=5) == "HEAD /status?x=1 HTTP/1.1"
    src = rep.sources[0]
    assert src.clock is not None and src.clock.flagged
    assert 3590 <= src.clock.skew_seconds <= 3610
    assert Code.CLOCK_SKEW in [f.code for f in src.findings]
    assert src.state is State.WARNING and rep.exit_code == 1 and "clock skew" in rep.summary


def test_clock_skew_small_is_not_flagged(tmp_path):
    chain = _server_chain()
    ca = tmp_path / "root.pem"
    ca.write_bytes(chain.root.public_bytes(serialization.Encoding.PEM))
    with DateServer(chain, dt.timedelta(0)) as srv:
        rep = check_expiry([f"127.0.0.1:{srv.port}"], ca_file=ca, timeout=5)
    clock = rep.sources[0].clock
    assert clock.skew_seconds is not None and abs(clock.skew_seconds) < 5 and not clock.flagged
    assert rep.state is State.OK


def test_clock_skew_is_unknown_and_no_request_is_sent_when_the_chain_does_not_verify():
    chain = _server_chain()
    with DateServer(chain, dt.timedelta(hours=5)) as srv:
        rep = check_expiry([f"127.0.0.1:{srv.port}"], timeout=5)  # default store: the root is unknown
        assert srv.requests.empty()  # never read a Date over an unverified connection
    clock = rep.sources[0].clock
    assert clock.skew_seconds is None and not clock.flagged and "does not verify" in clock.note
    assert rep.state is State.OK and Code.CLOCK_SKEW not in [f.code for f in rep.sources[0].findings]


@pytest.fixture
def labx(request):
    pytest.importorskip("certdoctor.lab", reason="certdoctor.lab is built in parallel")
    pytest.importorskip("certdoctor.net.probe", reason="certdoctor.net.probe is built in parallel")
    return request.getfixturevalue("lab")


def test_lab_endpoints_through_the_cli(labx, capsys):
    good = labx.endpoint("good").url
    expired = labx.endpoint("expired_leaf").url
    soon = labx.endpoint("expiring_soon").url
    ca = str(labx.ca_file)

    assert run(cli, ["expiry", good, "--ca-file", ca]) == 0
    out = capsys.readouterr().out
    assert out.startswith("CERT OK - 2 certificates in 1 chain, soonest good.lab.test expires in ")
    assert "in step" in out  # the Date was read over the verified connection

    assert run(cli, ["expiry", expired, "--ca-file", ca]) == 2
    out = capsys.readouterr().out
    assert out.startswith("CERT CRITICAL - 2 certificates in 1 chain, expired-leaf.lab.test expired 10 days ago")
    assert "days_left=-10;30;7" in out.splitlines()[0]

    # 4 full days left: WARNING with the default --warn-days 30 once --crit-days is below it
    assert run(cli, ["expiry", soon, "--crit-days", "3"]) == 1
    assert capsys.readouterr().out.startswith("CERT WARNING - 2 certificates in 1 chain, soonest expiring-soon.lab.test expires in 4 days")
    # ...and CRITICAL with the default --crit-days 7 (4 < 7)
    assert run(cli, ["expiry", soon]) == 2
    capsys.readouterr()


def test_lab_many_endpoints_in_one_run_json(labx, capsys):
    ids = ["good", "expired_leaf", "expiring_soon", "good_rsa", "not_yet_valid", "stall"]
    urls = [labx.endpoint(i).url for i in ids]
    assert run(cli, ["expiry", "--json", "--timeout", "2", "--ca-file", str(labx.ca_file), *urls]) == 2
    doc = json.loads(capsys.readouterr().out)
    states = {s["source"]: s["state"] for s in doc["sources"]}
    assert [states[u] for u in urls] == ["OK", "CRITICAL", "CRITICAL", "OK", "CRITICAL", "UNKNOWN"]
    by = {s["source"]: s for s in doc["sources"]}
    assert by[urls[0]]["clock"]["skew_seconds"] is not None
    assert by[urls[1]]["clock"]["skew_seconds"] is None  # expired: does not verify, skew unknown
    assert by[urls[5]]["error"] and by[urls[5]]["certs"] == []


def _expiry_json(capsys, *argv: str) -> tuple[int, dict]:
    rc = run(cli, ["expiry", "--json", "--timeout", "5", *argv])
    return rc, json.loads(capsys.readouterr().out)


def test_lab_proxy_option_reads_the_interceptors_chain_and_date(labx, capsys):
    good = labx.endpoint("good").url
    rc, doc = _expiry_json(capsys, good, "--proxy", labx.proxy_url, "--ca-file", str(labx.proxy_ca_file))
    src = doc["sources"][0]
    assert rc == 0 and "Intercept" in src["certs"][-1]["subject"]
    # the HEAD for the Date went through the proxy too, verified against the interceptor's root
    assert src["clock"]["skew_seconds"] is not None and str(labx.proxy_ca_file) in src["clock"]["note"]
    # verification stays on through the proxy: the lab CA does not vouch for the interceptor
    rc, doc = _expiry_json(capsys, good, "--proxy", labx.proxy_url, "--ca-file", str(labx.ca_file))
    assert doc["sources"][0]["clock"]["skew_seconds"] is None
    assert "does not verify" in doc["sources"][0]["clock"]["note"]


def test_lab_https_proxy_env_and_no_proxy(labx, monkeypatch, capsys):
    good = labx.endpoint("good").url
    monkeypatch.setenv("HTTPS_PROXY", labx.proxy_url)
    _, doc = _expiry_json(capsys, good, "--ca-file", str(labx.ca_file))
    assert "Intercept" in doc["sources"][0]["certs"][-1]["subject"]
    monkeypatch.setenv("NO_PROXY", ".lab.test")
    rc, doc = _expiry_json(capsys, good, "--ca-file", str(labx.ca_file))
    src = doc["sources"][0]
    assert rc == 0 and "Intercept" not in src["certs"][-1]["subject"]
    assert src["clock"]["skew_seconds"] is not None  # direct, verified against the lab CA
    # the library's proxy= wins over NO_PROXY, like --proxy
    rep = check_expiry([good], timeout=5, ca_file=labx.ca_file, proxy=labx.proxy_url)
    assert "Intercept" in rep.sources[0].certs[-1].subject
