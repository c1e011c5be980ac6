"""The real client on the other core (issue 13): a ``certdoctor diagnose`` process forks the real
client's run (gather's ``_Forked``) and says what the same run says in a thread or one step
after the other — same JSON, same verdict, same timeout — and leaves no process behind. The
command runs as its own process (a fork needs a process with one thread, which pytest's, with
its servers in threads, is not); the servers are real, on 127.0.0.1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.normal import normal as _normal
from support.pki import NO_URLS, TestCA, pem
from support.servers import counting, tls_server

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the fork is Linux-only")

TESTS = Path(__file__).resolve().parents[1]

#: runs the command in this process, counting the forks, then reports them and any process left
_SCRIPT = """
import json, os, sys
sys.path.insert(0, {tests!r})
from certdoctor.net import deadline as dl
forks = []
_init = dl.ForkJob.__init__
def counted(self, *a, **k):
    forks.append(1)
    return _init(self, *a, **k)
dl.ForkJob.__init__ = counted
{before}
# what certdoctor.cli.main runs for `diagnose … --json` (main itself then leaves with os._exit)
from certdoctor.cli.fast import main
code = main(sys.argv[1:])
assert code is not None, "the fast path did not read this command line"
sys.stdout.flush()
from support.procs import descendants
sys.stderr.write("REPORT " + json.dumps({{"forks": len(forks), "left": descendants(os.getpid())}}) + "\\n")
sys.stderr.flush()
os._exit(int(code))
"""


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR", "PIP_CERT")}
    env.update(extra)
    return env


def _run(tmp_path: Path, args: list[str], *, sequential: bool = False, before: str = "", timeout: float = 60):
    script = tmp_path / "run_diagnose.py"
    script.write_text(_SCRIPT.format(tests=str(TESTS), before=before))
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, timeout=timeout,
                          env=_env(CERTDOCTOR_SEQUENTIAL="1" if sequential else "0"))
    report = [line for line in proc.stderr.splitlines() if line.startswith("REPORT ")]
    assert report, proc.stderr
    return proc, json.loads(report[-1][7:]), time.monotonic() - t0


def _root(tmp_path):
    root = TestCA("Forked Client Root", **NO_URLS)
    (tmp_path / "root.pem").write_bytes(pem(root.cert))
    return root, str(tmp_path / "root.pem")


def test_the_forked_client_says_what_the_sequential_one_says(tmp_path):
    root, ca_file = _root(tmp_path)
    leaf = root.issue_cert("127.0.0.1", cn="forked.test", **NO_URLS)
    docs, forks = {}, {}
    with tls_server(leaf, handler=counting()) as srv:
        args = ["diagnose", f"https://127.0.0.1:{srv.port}/", "--ca-file", ca_file, "--no-cache", "--json"]
        for mode in ("together", "sequential"):
            proc, report, _ = _run(tmp_path, args, sequential=mode == "sequential")
            assert proc.returncode == 0, proc.stderr
            docs[mode] = json.loads(proc.stdout)
            forks[mode] = report["forks"]
            assert report["left"] == [], mode  # the child was reaped before the command ended
        gets = [h for h in srv.records if h.startswith(b"GET ")]
    assert forks == {"together": 1, "sequential": 0}
    assert _normal(docs["together"]) == _normal(docs["sequential"])
    assert docs["together"]["client_outcome"]["ok"] is True
    assert len(gets) == 2  # the real client reached the server once per run, from the child too


def test_a_forked_client_refused_by_a_wrong_store_is_the_same_refusal(tmp_path):
    root, _ = _root(tmp_path)
    other = TestCA("Not The Server's Root", **NO_URLS)
    (tmp_path / "other.pem").write_bytes(pem(other.cert))
    leaf = root.issue_cert("127.0.0.1", cn="refused.test", **NO_URLS)
    out = {}
    with tls_server(leaf) as srv:
        args = ["diagnose", f"https://127.0.0.1:{srv.port}/", "--ca-file", str(tmp_path / "other.pem"),
                "--no-cache", "--no-revocation", "--json"]
        for mode in ("together", "sequential"):
            proc, report, _ = _run(tmp_path, args, sequential=mode == "sequential")
            assert proc.returncode == 1, proc.stderr
            out[mode] = (json.loads(proc.stdout), report)
    (fork_doc, fork_report), (seq_doc, _) = out["together"], out["sequential"]
    assert fork_report["forks"] == 1 and fork_report["left"] == []
    assert _normal(fork_doc) == _normal(seq_doc)
    assert fork_doc["client_outcome"]["ok"] is False
    assert "CERTIFICATE_VERIFY_FAILED" in json.dumps(fork_doc["client_outcome"]), fork_doc["client_outcome"]


def _stall_after_handshake(conn, srv) -> None:
    """Completes the handshake (the server's side of it), then never answers the request."""
    try:
        conn.settimeout(8)
        if conn.recv(4096):  # a request (the probe sends none): held until the test ends
            srv.stopping.wait(8)
    except OSError:
        pass


def test_a_stalled_server_times_the_forked_client_out_within_the_deadline(tmp_path):
    root, ca_file = _root(tmp_path)
    leaf = root.issue_cert("127.0.0.1", cn="stalled.test", **NO_URLS)
    with tls_server(leaf, handler=_stall_after_handshake, timeout=15) as srv:
        args = ["diagnose", f"https://127.0.0.1:{srv.port}/", "--ca-file", ca_file, "--no-cache",
                "--no-revocation", "--timeout", "2", "--json"]
        proc, report, wall = _run(tmp_path, args)
    assert report["forks"] == 1 and report["left"] == []
    doc = json.loads(proc.stdout)
    outcome = doc["client_outcome"]
    assert outcome["ok"] is False and outcome["error_type"] == "TimeoutError", outcome
    assert "took longer than its 2 s budget" in outcome["error"]
    assert wall < 2 + 1.0 + 6  # the deadline, the child's grace, and the interpreter's start and end


def test_a_child_killed_mid_run_is_an_unconfirmed_verdict_and_no_process_is_left(tmp_path):
    """The child dies before it answers (SIGKILL, as the OOM killer would): the command still
    answers, says the real client gave no verdict, and has reaped it."""
    root, ca_file = _root(tmp_path)
    leaf = root.issue_cert("127.0.0.1", cn="killed.test", **NO_URLS)
    before = ("import certdoctor.net.client as _c, signal\n"
              "_c.run_client = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)\n")
    with tls_server(leaf) as srv:
        args = ["diagnose", f"https://127.0.0.1:{srv.port}/", "--ca-file", ca_file, "--no-cache",
                "--no-revocation", "--json"]
        proc, report, wall = _run(tmp_path, args, before=before)
    assert report["forks"] == 1 and report["left"] == []
    doc = json.loads(proc.stdout)
    assert doc["client_outcome"]["error_type"] == "ChildLost", doc["client_outcome"]
    assert "without an answer" in doc["client_outcome"]["error"]
    assert "VERDICT_UNCONFIRMED" in {f["code"] for f in doc["findings"]}, [f["code"] for f in doc["findings"]]
    assert wall < 20


def test_the_command_ends_with_its_output_whole_or_exit_code_1_when_its_reader_left(tmp_path):
    """``certdoctor diagnose … --json`` ends with os._exit after flushing (cli._leave): the JSON
    is whole and the exit code the diagnosis'; with standard output closed before the end (a
    reader that left), exit code 1 and no traceback."""
    root, ca_file = _root(tmp_path)
    leaf = root.issue_cert("127.0.0.1", cn="leave.test", **NO_URLS)
    with tls_server(leaf, handler=counting()) as srv:
        argv = [sys.executable, "-m", "certdoctor", "diagnose", f"https://127.0.0.1:{srv.port}/", "--ca-file",
                ca_file, "--no-cache", "--no-revocation", "--json"]
        whole = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=_env())
        read, write = os.pipe()
        os.close(read)  # nobody will read it
        try:
            left = subprocess.run(argv, stdout=write, stderr=subprocess.PIPE, text=True, timeout=60, env=_env())
        finally:
            os.close(write)
    assert whole.returncode == 0 and whole.stderr == "", whole.stderr
    assert json.loads(whole.stdout)["verdict"]["client_verifies"] is True
    assert left.returncode == 1
    assert "Traceback" not in left.stderr, left.stderr


def test_the_library_forks_only_when_asked(tmp_path):
    """diagnose() called by a program (one thread, Linux: it could) makes no child process unless
    it passes fork=True, as the command line does; both say the same."""
    root, ca_file = _root(tmp_path)
    leaf = root.issue_cert("127.0.0.1", cn="library.test", **NO_URLS)
    script = tmp_path / "library.py"
    script.write_text(
        "import json, sys\n"
        "from certdoctor.net import deadline as dl\n"
        "forks = []\n"
        "_init = dl.ForkJob.__init__\n"
        "dl.ForkJob.__init__ = lambda self, *a, **k: (forks.append(1), _init(self, *a, **k))[1]\n"
        "from certdoctor.diagnose import diagnose\n"
        "out = []\n"
        "for fork in (False, True):\n"
        "    d = diagnose(sys.argv[1], ca_file=sys.argv[2], timeout=10, revocation=False, fork=fork)\n"
        "    out.append((len(forks), d.verifies, [f.code.value for f in d.findings]))\n"
        "print(json.dumps(out))\n")
    with tls_server(leaf, handler=counting()) as srv:
        proc = subprocess.run([sys.executable, str(script), f"https://127.0.0.1:{srv.port}/", ca_file],
                              capture_output=True, text=True, timeout=60, env=_env())
    assert proc.returncode == 0, proc.stderr
    (forks_default, ok_default, codes_default), (forks_asked, ok_asked, codes_asked) = json.loads(proc.stdout)
    assert forks_default == 0 and forks_asked == 1
    assert ok_default is ok_asked is True and codes_default == codes_asked


def test_every_lab_scenario_says_the_same_from_the_forked_client(lab, tmp_path):
    """The command line's forked client against every lab scenario (the lab runs in this
    process; the command reaches it through --resolve): the JSON of one step after the other."""
    from certdoctor.lab import SCENARIOS

    compared, forked = 0, 0
    for scenario in SCENARIOS:
        if scenario.id == "stall":  # only a timeout either way (test_diagnose_concurrent)
            continue
        ep = lab.endpoint(scenario.id)
        args = ["diagnose", ep.url, "--ca-file", str(lab.ca_file), "--resolve", "*.lab.test:127.0.0.1",
                "--timeout", "5", "--no-cache", "--json"]
        if scenario.via_proxy:
            args += ["--proxy", lab.proxy_url]
        docs = []
        for sequential in (False, True):
            proc, report, _ = _run(tmp_path, args, sequential=sequential)
            assert proc.returncode in (0, 1), (scenario.id, proc.stderr)
            assert report["left"] == [], scenario.id
            forked += report["forks"]
            docs.append(_normal(json.loads(proc.stdout)))
        assert docs[0] == docs[1], scenario.id
        compared += 1
    assert compared >= 20
    assert forked == compared, (forked, compared)  # every run forked its client (no --pin here)
