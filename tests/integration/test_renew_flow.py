"""``certdoctor renew`` end to end with real parts (issue 12 items 2-6): Debian's pebble issues
through a real http-01 validation against certdoctor's own challenge server, the certificate goes
into a certbot-like lineage, a real nginx serves it and its ``nginx -s reload`` is the deploy
hook; the served-is-renewed proof probes that nginx.

Each fault keeps the old certificate: one ``error:`` line, exit 1, the lineage's live files
byte-identical and nginx still serving the old leaf. Faults: pebble killed mid-order, a challenge
server answering the wrong token, the http-01 port in use, a hook exiting 1, nginx not reloaded
(DEPLOY_NOT_SERVED, then --rollback-on-fail), rateLimited with Retry-After through the ARI proxy
(and the next run waits for it), a full disk (a small tmpfs), two runs at once (the lock).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.server
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509

from certdoctor.model import fingerprint_sha256
from certdoctor.renew.deploy import served_fingerprint
from certdoctor.renew.record import Record
from support.cli import run_cli_captured
from support.nginx import nginx_binary, run_nginx
from support.pebble import run_pebble
from support.servers import closed_port

NAME = "web"
DOMAIN = "web.renew.test"
LIVE = ("cert.pem", "chain.pem", "fullchain.pem", "privkey.pem")
SRC = Path(__file__).resolve().parents[2] / "src"

pytestmark = pytest.mark.skipif(not os.access("/usr/bin/pebble", os.X_OK) or nginx_binary() is None,
                                reason="needs Debian's pebble and nginx (scripts/ensure-tools.sh)")


@dataclass
class World:
    tmp: Path
    directory: str
    ca_file: str
    http_port: int
    lineage: Path
    pebble: object
    ari: object = None
    nginx: tuple[str, int] | None = None
    conf_n: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def live(self) -> Path:
        return self.lineage / "live" / NAME

    @property
    def state(self) -> Path:
        return self.tmp / "state" / "renew.sqlite"

    def reload_hook(self) -> list[str]:
        prefix = self.tmp / "nginx"
        return [nginx_binary(), "-s", "reload", "-c", str(prefix / "nginx.conf"), "-p", str(prefix),
                "-e", str(prefix / "error.log")]

    def config(self, *, hook=None, verify=True, challenge=None, verify_timeout=20, directory=None) -> str:
        """A renew.toml for this world; returns its path."""
        self.conf_n += 1
        path = self.tmp / f"renew{self.conf_n}.toml"
        challenge = challenge or f'{{ type = "http-01", listen = "127.0.0.1:{self.http_port}" }}'
        lines = [f'state = {json.dumps(str(self.state))}', "[[certificate]]", f'name = "{NAME}"',
                 f'domains = ["{DOMAIN}"]', f"directory = {json.dumps(directory or self.directory)}",
                 f"ca_file = {json.dumps(self.ca_file)}", f"challenge = {challenge}",
                 f"install = {{ lineage = {json.dumps(str(self.lineage))} }}",
                 f"timeouts = {{ order = 60, verify = {verify_timeout}, hook = 20 }}"]
        if hook is not None:
            lines.append(f"deploy_hook = {json.dumps(hook)}")
        if verify and self.nginx is not None:
            lines.append(f'verify = ["127.0.0.1:{self.nginx[1]}"]')
            lines.append(f'servername = "{DOMAIN}"')
        path.write_text("\n".join(lines) + "\n")
        return str(path)

    def files(self) -> dict[str, bytes]:
        return {n: (self.live / n).read_bytes() for n in LIVE}

    def leaf_fp(self) -> str:
        return fingerprint_sha256(x509.load_pem_x509_certificate((self.live / "cert.pem").read_bytes()))

    def served(self) -> str | None:
        fp, _why = served_fingerprint("127.0.0.1", self.nginx[1], DOMAIN, 5.0)
        return fp

    def last(self):
        with Record.open(self.state) as rec:
            return rec.last(NAME)


@contextlib.contextmanager
def world(tmp_path: Path, *, ari: bool = False, lineage: Path | None = None, nginx: bool = True):
    """pebble (+ the ARI proxy), a first certificate issued by `certdoctor renew` into a lineage,
    and nginx serving it."""
    port = closed_port()
    with run_pebble(tmp_path / "pebble", http_port=port) as pb, contextlib.ExitStack() as stack:
        directory = pb.directory_url
        proxy = None
        if ari:
            from support.ari import run_ari_proxy

            proxy = stack.enter_context(run_ari_proxy(pb))
            directory = proxy.directory_url
        w = World(tmp_path, directory, pb.ca_file, port, lineage or tmp_path / "certs", pb, proxy)
        code, out, err = _renew(w.config(verify=False))
        assert code == 0, (out, err)
        assert "renewed" in out and all((w.live / n).is_file() for n in LIVE), out
        if nginx:
            w.nginx = stack.enter_context(run_nginx(tmp_path / "nginx", w.live / "fullchain.pem",
                                                    w.live / "privkey.pem"))
            assert w.served() == w.leaf_fp()
        yield w


_capsys = None


@pytest.fixture(autouse=True)
def _cap(capsys):
    global _capsys
    _capsys = capsys
    yield
    _capsys = None


def _renew(config: str, *args: str) -> tuple[int, str, str]:
    return run_cli_captured(["renew", "--config", config, *args], _capsys)


def _one_error(err: str) -> str:
    errors = [ln for ln in err.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1, err
    assert any(ln.startswith("hint: ") for ln in err.splitlines()), err
    return errors[0]


def _kept(w: World, before: dict[str, bytes], old_fp: str) -> None:
    """The fault left the old certificate in place (byte for byte) and served."""
    assert w.files() == before
    assert w.leaf_fp() == old_fp
    if w.nginx is not None:
        assert w.served() == old_fp


# --------------------------------------------------------------------------- the happy path

def test_issue_install_reload_and_prove_the_new_leaf_is_served(tmp_path):
    with world(tmp_path) as w:
        old = w.leaf_fp()
        first = w.last()
        assert first.outcome == "renewed" and first.old_fingerprint is None and first.new_fingerprint == old
        # pebble's certificates last 5 years: not due, nothing done, exit 0
        code, out, err = _renew(w.config(hook=w.reload_hook()))
        assert code == 0 and "web: not due" in out and "lifetime" in out, (out, err)
        assert w.leaf_fp() == old
        code, out, err = _renew(w.config(hook=w.reload_hook()), "--force")
        assert code == 0, (out, err)
        new = w.leaf_fp()
        assert new != old and w.served() == new
        assert f"sha256 {old} -> {new}" in out and f"served by 127.0.0.1:{w.nginx[1]}" in out
        assert (w.live / "privkey.pem").stat().st_mode & 0o777 == 0o600
        last = w.last()
        assert (last.outcome, last.old_fingerprint, last.new_fingerprint) == ("renewed", old, new)
        # --check: nothing changed, Nagios 0, the last attempt in the JSON
        before = w.files()
        mtime = w.state.stat().st_mtime_ns
        code, out, err = _renew(w.config(), "--check", "--json")
        assert code == 0, (out, err)
        doc = json.loads(out)
        assert doc["command"] == "renew" and doc["exit_code"] == 0 and doc["check"] is True
        r = doc["results"][0]
        assert r["status"] == "ok" and r["decision"]["due"] is False and r["decision"]["source"] == "lifetime"
        assert r["last_attempt"]["outcome"] == "renewed" and r["old_fingerprint"] == new
        assert w.files() == before and w.state.stat().st_mtime_ns == mtime
        code, out, err = _renew(w.config(), "--check")
        assert code == 0 and out.startswith("RENEW OK - web next "), out


# --------------------------------------------------------------------------- deploy faults

def test_a_hook_exiting_1_with_rollback_keeps_the_old_certificate(tmp_path):
    with world(tmp_path) as w:
        old, before = w.leaf_fp(), w.files()
        code, out, err = _renew(w.config(hook=["sh", "-c", "echo reload refused >&2; exit 1"]), "--force",
                                "--rollback-on-fail")
        assert code == 1, (out, err)
        line = _one_error(err)
        assert line.startswith("error: web: the deploy hook exited with status 1: reload refused"), line
        _kept(w, before, old)
        last = w.last()
        assert (last.outcome, last.error_kind) == ("rolled_back", "hook_failed") and last.new_fingerprint != old


def test_nginx_not_reloaded_is_deploy_not_served_and_rollback_restores(tmp_path):
    with world(tmp_path) as w:
        old, before = w.leaf_fp(), w.files()
        code, out, err = _renew(w.config(hook=["true"], verify_timeout=2), "--force", "--rollback-on-fail")
        assert code == 1, (out, err)
        line = _one_error(err)
        assert "still serves the old leaf" in line and f"sha256 {old}" in line, line
        _kept(w, before, old)
        assert "rolled back: previous files restored, hook run again, previous leaf proven served" in out, out
        # without --rollback-on-fail: the new files stay, the error names both fingerprints
        code, out, err = _renew(w.config(hook=["true"], verify_timeout=2), "--force", "--json")
        assert code == 1
        doc = json.loads(out)
        new = doc["results"][0]["new_fingerprint"]
        error = next(f for f in doc["findings"] if f["severity"] == "error")
        assert error["code"] == "DEPLOY_NOT_SERVED" and error["rule"] == "leaf_not_served"
        assert f"new leaf: sha256 {new}" in error["evidence"] and f"served leaf: sha256 {old}" in error["evidence"]
        assert w.leaf_fp() == new and w.served() == old and doc["results"][0]["action"] == "not_served"
        code, out, err = _renew(w.config(), "--check")
        assert code == 1 and "last attempt failed at" in out and "because" in out, out


# --------------------------------------------------------------------------- ACME and challenge faults

def test_pebble_killed_mid_order_keeps_the_old_certificate(tmp_path):
    with world(tmp_path) as w:
        old, before = w.leaf_fp(), w.files()
        pebble_pid = w.pebble._procs[-1].pid  # pebble leads its own process group
        hook = json.dumps([sys.executable, "-c", "import os, signal\nif os.environ['CERTDOCTOR_ACTION'] == 'set': "
                           f"os.killpg({pebble_pid}, signal.SIGKILL)"])
        started = time.monotonic()
        code, out, err = _renew(w.config(challenge=f'{{ type = "dns-01", hook = {hook} }}'), "--force")
        assert code == 1, (out, err)
        line = _one_error(err)
        assert line.startswith("error: web: ACME "), line
        assert time.monotonic() - started < 60
        _kept(w, before, old)
        last = w.last()
        assert last.outcome == "failed" and last.error_kind in ("unreachable", "timeout", "bad_response")


class _WrongToken(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"not-the-key-authorization"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_a_challenge_server_answering_the_wrong_token_fails_the_order(tmp_path):
    with world(tmp_path) as w:
        old, before = w.leaf_fp(), w.files()
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", w.http_port), _WrongToken)
        t = threading.Thread(target=srv.serve_forever, daemon=True)
        t.start()
        try:
            webroot = tmp_path / "webroot"
            webroot.mkdir()
            code, out, err = _renew(w.config(challenge=f'{{ type = "http-01", webroot = {json.dumps(str(webroot))} }}'),
                                    "--force")
        finally:
            srv.shutdown()
            srv.server_close()
        assert code == 1, (out, err)
        line = _one_error(err)
        assert line.startswith("error: web: ACME "), line
        _kept(w, before, old)
        assert w.last().error_kind in ("challenge_failed", "order_invalid")
        assert not any(p.is_file() for p in webroot.rglob("*"))  # the token file was removed


def test_the_http01_port_in_use_is_one_error(tmp_path):
    with world(tmp_path) as w:
        old, before = w.leaf_fp(), w.files()
        import socket

        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen(1)
            port = busy.getsockname()[1]
            code, out, err = _renew(w.config(challenge=f'{{ type = "http-01", listen = "127.0.0.1:{port}" }}'),
                                    "--force")
        assert code == 1
        line = _one_error(err)
        assert f"cannot listen on 127.0.0.1:{port}" in line, line
        _kept(w, before, old)
        assert w.last().error_kind == "challenge_failed"


# --------------------------------------------------------------------------- ARI

def _cid(w: World) -> str:
    from certdoctor.renew.schedule import cert_id

    return cert_id(x509.load_pem_x509_certificate((w.live / "cert.pem").read_bytes()))


def test_a_passed_ari_window_renews_and_the_order_replaces_the_old_certificate(tmp_path):
    with world(tmp_path, ari=True) as w:
        old, cid = w.leaf_fp(), _cid(w)
        now = dt.datetime.now(dt.timezone.utc)
        w.ari.set_window(cid, now - dt.timedelta(days=2), now - dt.timedelta(days=1),
                         explanation_url="https://ca.test/incident")
        code, out, err = _renew(w.config(hook=w.reload_hook()))
        assert code == 0, (out, err)
        assert "web: renewed" in out and "https://ca.test/incident" in out
        assert w.ari.orders[-1].get("replaces") == cid  # sent because the directory advertises ARI
        assert w.served() == w.leaf_fp() != old


def test_ari_retry_after_is_honoured_and_a_rate_limit_is_waited_for(tmp_path):
    with world(tmp_path, ari=True) as w:
        old, before, cid = w.leaf_fp(), w.files(), _cid(w)
        now = dt.datetime.now(dt.timezone.utc)
        w.ari.set_window(cid, now + dt.timedelta(days=3), now + dt.timedelta(days=4), retry_after=3600,
                         explanation_url="https://ca.test/why")
        code, out, err = _renew(w.config(hook=w.reload_hook()))
        assert code == 0 and "not due" in out and "(ari)" in out and "https://ca.test/why" in out, (out, err)
        asked = [r for r in w.ari.requests if r[1].startswith("/renewal-info/")]
        assert len(asked) == 1
        # the CA moves the window into the past, but its Retry-After (1 h) has not passed: not asked again
        w.ari.set_window(cid, now - dt.timedelta(days=2), now - dt.timedelta(days=1))
        code, out, err = _renew(w.config(hook=w.reload_hook()))
        assert code == 0 and "not due" in out, (out, err)
        assert len([r for r in w.ari.requests if r[1].startswith("/renewal-info/")]) == 1
        # rateLimited: exit 1, the old one kept, the next run waits for Retry-After
        w.ari.fail_next("newOrder", "429", retry_after=3600)
        code, out, err = _renew(w.config(hook=w.reload_hook()), "--force")
        assert code == 1, (out, err)
        assert "rate" in _one_error(err).lower()
        _kept(w, before, old)
        last = w.last()
        assert last.error_kind == "rate_limited" and last.retry_after and last.next_attempt > now
        code, out, err = _renew(w.config(hook=w.reload_hook()))
        assert code == 1 and "web: deferred" in out and "not tried before" in out, (out, err)
        _kept(w, before, old)
        code, out, err = _renew(w.config(), "--check")
        assert code == 1 and "last attempt failed at" in out and "because ACME rate limited" in out, out
        # --force overrides the wait
        code, out, err = _renew(w.config(hook=w.reload_hook()), "--force")
        assert code == 0, (out, err)
        assert w.ari.orders[-1].get("replaces") == cid
        assert w.served() == w.leaf_fp() != old


def test_an_unusable_ari_answer_falls_back_to_the_lifetime_rule(tmp_path):
    with world(tmp_path, ari=True, nginx=False) as w:
        cid = _cid(w)
        w.ari.set_raw_renewal_info(cid, b'{"suggestedWindow": {"start": "yesterday"}}')
        code, out, err = _renew(w.config())
        assert code == 0 and "not due" in out and "(lifetime)" in out, (out, err)
        assert "renewalInfo could not be used" in out and "lifetime rule decided" in out


# --------------------------------------------------------------------------- disk and lock

def _mount_tmpfs(path: Path, size: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    try:
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                           capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0


def test_a_full_disk_keeps_the_old_certificate(tmp_path):
    # A real filesystem that refuses the write (ENOSPC). RLIMIT_FSIZE would refuse the attempt
    # record's SQLite writes first, so the lineage lives on a small tmpfs instead.
    mnt = tmp_path / "small"
    if not _mount_tmpfs(mnt, "256k"):
        pytest.skip("cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN)")
    try:
        with world(tmp_path, lineage=mnt / "certs") as w:
            old, before = w.leaf_fp(), w.files()
            for n, chunk in enumerate((65536, 4096, 1)):  # fill the filesystem to the last byte
                fd = os.open(mnt / f"filler{n}", os.O_WRONLY | os.O_CREAT, 0o600)
                try:
                    with contextlib.suppress(OSError):
                        while True:
                            os.write(fd, b"\0" * chunk)
                finally:
                    os.close(fd)
            code, out, err = _renew(w.config(hook=w.reload_hook()), "--force")
            assert code == 1, (out, err)
            line = _one_error(err)
            assert line.startswith("error: web: the new certificate could not be installed"), line
            _kept(w, before, old)
            assert w.last().error_kind == "install_failed"
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True, timeout=10)


def test_two_runs_at_once_the_second_is_refused_naming_the_first(tmp_path):
    with world(tmp_path, nginx=False) as w:
        old = w.leaf_fp()
        marker = tmp_path / "hook-started"
        slow = w.config(hook=["sh", "-c", f"touch {marker}; sleep 4"], verify=False)
        env = {**os.environ, "PYTHONPATH": str(SRC)}
        proc = subprocess.Popen([sys.executable, "-m", "certdoctor", "renew", "--config", slow, "--force"],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 60
            while not marker.exists():
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline
                time.sleep(0.05)
            code, out, err = _renew(w.config(verify=False), "--force")
            assert code == 1
            line = _one_error(err)
            assert f"another certdoctor renew is running (pid {proc.pid} holds the lock" in line, line
        finally:
            out2, err2 = proc.communicate(timeout=60)
        assert proc.returncode == 0, err2
        assert w.leaf_fp() != old  # the first run did its work, the second touched nothing


def test_already_replaced_is_answered_with_one_order_without_replaces(tmp_path):
    with world(tmp_path, ari=True) as w:
        old, before, cid = w.leaf_fp(), w.files(), _cid(w)
        # an order that replaces the certificate, then a rollback: the old one is back, already replaced
        code, out, err = _renew(w.config(hook=["true"], verify_timeout=1), "--force", "--rollback-on-fail")
        assert code == 1 and w.ari.orders[-1].get("replaces") == cid, (out, err)
        _kept(w, before, old)
        code, out, err = _renew(w.config(hook=w.reload_hook()), "--force")
        assert code == 0, (out, err)
        assert [o.get("replaces") for o in w.ari.orders[-2:]] == [cid, None]  # 409 alreadyReplaced, then without
        assert w.served() == w.leaf_fp() != old
