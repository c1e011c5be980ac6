"""Bad input never ends in a traceback (issue 10 item 11): hypothesis drives every command, in
process, with argument lists drawn from a grammar of what users (and scripts) pass.

For each command: its own options with values from pools — files that are a valid certificate
chain, a key, garbage, empty, a directory, missing, under a file, a dangling symlink and a
symlink loop (the "unreadable" files: these tests run as root here, where ``chmod 000`` does
not stop a read; a FIFO is left out because opening one blocks until a writer comes, as for
``cat``), ``-`` with standard input holding a certificate, garbage, nothing or closed; URLs
that fail before any connection (http://, ftp://, ports 0 and 70000, brackets, spaces, control
characters — this is a unit test: the autouse fixture refuses every socket, so a URL that
would connect fails the test); numbers (nan, inf, -1, 0, 1e309, '', 'abc', 10**20 …);
fingerprints, pins, ``--resolve`` rules, choices; unknown options and extra arguments.

Asserted for every run:
  * ``run()`` returns (an exception other than click's exit would be a traceback), and no
    ``Traceback`` is printed;
  * the exit code is one the command documents (expiry: Nagios 0-3);
  * bad input (exit 2; expiry's "bad usage", exit 3) prints a line starting ``error:`` and one
    starting ``hint:`` on stderr — without --json, exactly those two lines and nothing on
    stdout (expiry: its one Nagios ``CERT UNKNOWN - bad usage`` line on stdout);
  * after bad input nothing is written: the run's working directory, its output directory and
    its inputs are byte-for-byte as before.

Network-facing arguments that are valid (a host that would be resolved) are exercised in
``tests/integration/test_cli_stdin.py`` against a closed port on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.pki import NO_URLS, TestCA, key_pem
from support.tree import snapshot as _snapshot

# ----------------------------------------------------------------------------- the fixtures of one run

_ROOT = TestCA("Fuzz Root", **NO_URLS)
_LEAF = _ROOT.issue_cert("www.fuzz.test", aia_url=None, crl_url=None, ocsp_url=None)
CHAIN_PEM = _LEAF.cert_pem() + _ROOT.cert_pem()
ROOT_PEM = _ROOT.cert_pem()
KEY_PEM = key_pem(_LEAF.key)
GARBAGE = b"\x00\x01not a certificate at all\xff" * 8

INPUTS = {  # name under in/ -> what it is
    "chain.pem": CHAIN_PEM,
    "root.pem": ROOT_PEM,
    "key.pem": KEY_PEM,
    "garbage.crt": GARBAGE,
    "empty.pem": b"",
}


def _make_run_dir() -> Path:
    """A fresh tree: in/ (the inputs, plus a directory and two broken links), out/ (empty),
    cwd/ (empty; the run's working directory)."""
    base = Path(tempfile.mkdtemp(prefix="certdoctor-fuzz-"))
    (base / "in").mkdir()
    for name, data in INPUTS.items():
        (base / "in" / name).write_bytes(data)
    (base / "in" / "dir").mkdir()
    os.symlink(base / "in" / "nowhere.pem", base / "in" / "dangling.pem")
    os.symlink(base / "in" / "loop.pem", base / "in" / "loop.pem")
    (base / "out").mkdir()
    (base / "cwd").mkdir()
    return base


# ----------------------------------------------------------------------------- value pools ({in}/{out} filled in)

IN_FILES = ["{in}/chain.pem", "{in}/root.pem", "{in}/key.pem", "{in}/garbage.crt", "{in}/empty.pem", "{in}/dir",
            "{in}/missing.pem", "{in}/chain.pem/sub.pem", "{in}/dangling.pem", "{in}/loop.pem", "-", "",
            "missing.pem", "/proc/certdoctor-none"]
OUT_PATHS = ["{out}/new.pem", "{out}", "{out}/a/b/new.der", "", "-", "{in}/chain.pem/sub", "{in}/dir",
             "{in}/garbage.crt", "/proc/certdoctor-none/x", "{out}/new.p7b", "{out}/new.key"]
BAD_URLS = ["http://example.org", "ftp://example.org/x", "example.org:0", "example.org:70000", "https://",
            "https://[::1", "https://[zz]/", "exa mple.org", "https://user@example.org/", "\x1b[2Jhost",
            "https://example.org:99999/", ":443", "[]:443", "a..b", "-x.test:0", "https://example.org:-1/"]
NUMBERS = ["nan", "NaN", "inf", "-inf", "-1", "0", "1e309", "-0", "", "abc", "1", "0.05", "0.5", "10", "300.1",
           "99999999999999999999", " 5", "0x10", "1_000", "\uff15", "1.5", "36526", "7"]
FINGERPRINTS = ["00:11", "", "zz" * 32, "ab" * 32, "AB:" * 31 + "AB", "sha256:" + "01" * 32, "ab" * 33,
                "\u00e9" * 64]
PINS = ["sha256/" + "A" * 43 + "=", "abc", "", "ab" * 32, "sha256//" + "B" * 43 + "=", "pin-sha256=\"x\""]
RESOLVES = ["a.fuzz.test:127.0.0.1", "foo", ":", "a:b", "*.fuzz.test:::1", "x:999.1.1.1", "x:443:127.0.0.1", ""]
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)


def _values(pool):
    return st.sampled_from(pool)


# option -> strategy of its value (None: a flag)
CONNECTION = {
    "--timeout": _values(NUMBERS),
    "--proxy": _values(["http://127.0.0.1:9", "not a proxy", "", "ftp://x", "http://[::1"]),
    "--servername": _values(["x.fuzz.test", "", "a b", "\x1b]52;c;x\x07"]),
    "--resolve": _values(RESOLVES),
    "--ca-file": _values(IN_FILES),
    "--allow-private-fetch": None,
}
PASSWORD = {"--password": TEXT}
JSON = {"--json": None}
CLIENT = {"--client": _values(["requests", "httpx", "urllib", "pip", "curl", ""]),
          "--python": _values(["3.13", "current", "2.7"])}

# command -> (positional strategies, options, documented exit codes)
GRAMMAR = {
    "inspect": ([_values(IN_FILES + BAD_URLS)], {**CONNECTION, **PASSWORD, **JSON}, {0, 1, 2}),
    "convert": ([_values(IN_FILES), _values(OUT_PATHS)],
                {"--to": _values(["pem", "der", "p7b", "p7b-pem", "xml", ""]), "--order": None,
                 "--split": _values(OUT_PATHS), "--with-key": None, "--key-out": _values(OUT_PATHS),
                 "--force": None, **PASSWORD, **JSON}, {0, 2}),
    "diagnose": ([_values(IN_FILES + BAD_URLS)],
                 {**CONNECTION, **CLIENT, "--no-revocation": None, "--no-aia": None, "--pin": _values(PINS),
                  "--no-cache": None, "--canary": _values(["none", "", "a b", "x:70000"]), **JSON}, {0, 1, 2}),
    "fix": ([_values(IN_FILES + BAD_URLS)],
            {"--out": _values(OUT_PATHS), "--trust": _values(FINGERPRINTS), "--intermediate": _values(IN_FILES),
             **CONNECTION, **CLIENT, **PASSWORD, "--canary": _values(["none", "a b"]), **JSON}, {0, 1, 2}),
    "bundle": ([_values(IN_FILES)],
               {"--add": _values(IN_FILES), "--base": _values(["certifi", "none", "system", *IN_FILES]),
                "--out": _values(OUT_PATHS), "--allow-leaf": None, "--check": _values(IN_FILES), **PASSWORD,
                **JSON}, {0, 1, 2}),
    "lint": ([_values(["{in}/dir", "{in}/missing.py", "{in}/garbage.crt", "-", "", "{in}/dangling.pem"])],
             {"--format": _values(["human", "json", "sarif", "xml"]), "--select": TEXT, "--ignore": TEXT,
              "--exclude": TEXT, "--jobs": _values(NUMBERS), **JSON}, {0, 1, 2}),
    "pin": ([_values(IN_FILES + BAD_URLS)],
            {"--new-backup-key": _values(OUT_PATHS), "--rsa": _values(["2048", "1024", "x"]),
             "--backup-key": _values(IN_FILES), "--level": _values(["leaf", "intermediate", "root"]),
             **CONNECTION, **PASSWORD, **JSON}, {0, 1, 2}),
    "expiry": ([_values(IN_FILES + BAD_URLS)],
               {"--warn-days": _values(NUMBERS), "--crit-days": _values(NUMBERS), **CONNECTION,
                "--no-clock": None, "--concurrency": _values(NUMBERS), **PASSWORD, **JSON}, {0, 1, 2, 3}),
    "revocation": ([_values(IN_FILES + BAD_URLS)],
                   {"--issuer": _values(IN_FILES), "--policy": _values(["soft", "hard", "x"]),
                    "--method": _values(["all", "crl", "ocsp", "dns"]), "--no-cache": None, **CONNECTION,
                    **PASSWORD, **JSON}, {0, 1, 2}),
    "csr": ([], {"--name": _values(["example.com", "*.a.fuzz.test", "a..b", "192.0.2.1", "", "b\u00fccher.test",
                                    "*.*.x", "x" * 70 + ".test", "a.*.b", "-a.test"]),
                 "--ip": _values(["192.0.2.1", "::1", "[::1]", "nope", ""]),
                 "--key-type": _values(["ec256", "ec384", "rsa1024", ""]), "--key": _values(IN_FILES),
                 "--common-name": _values(["example.com", "other.test", ""]), "--no-common-name": None,
                 "--out-key": _values(OUT_PATHS), "--out-csr": _values(OUT_PATHS), **JSON}, {0, 2}),
    # --list always: a lab that starts would open sockets; its values are checked before anything starts
    "lab": ([], {"--scenario": _values(["expired", "nope", ""]), "--duration": _values(NUMBERS),
                 "--workdir": _values(OUT_PATHS), **JSON}, {0, 2}),
}
STDIN = [CHAIN_PEM, GARBAGE, b"", None]  # None: standard input is closed


@st.composite
def argv_for(draw, command: str) -> list[str]:
    positionals, options, _codes = GRAMMAR[command]
    groups: list[list[str]] = [["--list"]] if command == "lab" else []  # an option with its value: one group
    for name in draw(st.lists(st.sampled_from(sorted(options)), max_size=4)):
        value = options[name]
        groups.append([name] if value is None else [name, draw(value)])
    for strategy in positionals[:draw(st.integers(0, len(positionals)))] if command != "expiry" else positionals:
        groups.append([draw(strategy)])
    # between groups (never between an option and its value, which would make that value an
    # argument: a generated password could be a host name, and a unit test opens no socket)
    extra = draw(st.sampled_from([None, None, None, "--no-such-option", "extra argument", "-"]))
    if extra is not None:
        groups.insert(draw(st.integers(0, len(groups))), [extra])
    return [command] + [word for group in groups for word in group]


@contextlib.contextmanager
def _stdin(data: bytes | None):
    old = sys.stdin
    if data is None:
        closed = io.TextIOWrapper(io.BytesIO())
        closed.close()
        sys.stdin = closed
    else:
        sys.stdin = io.TextIOWrapper(io.BytesIO(data))
    try:
        yield
    finally:
        sys.stdin = old


def _drop_resolve_rules() -> None:
    """A valid --resolve installs a process-wide rule (the CLI's whole run): gone after each run."""
    from certdoctor.net import resolve

    for override in resolve.active():
        override.remove()


def drive(argv_template: list[str], stdin: bytes | None, capsys) -> None:
    from certdoctor.cli.common import run
    from certdoctor.cli.main import cli

    command = argv_template[0]
    codes = GRAMMAR[command][2] if command in GRAMMAR else {2}
    base = _make_run_dir()
    cwd = os.getcwd()
    try:
        argv = [a.replace("{in}", str(base / "in")).replace("{out}", str(base / "out")) for a in argv_template]
        before = _snapshot(base)
        capsys.readouterr()
        os.chdir(base / "cwd")
        try:
            with _stdin(stdin):
                rc = run(cli, argv)
        finally:
            os.chdir(cwd)
            _drop_resolve_rules()
        out, err = capsys.readouterr()
        shown = f"argv={argv!r} rc={rc}\nstdout:\n{out}\nstderr:\n{err}"
        assert isinstance(rc, int), shown
        assert "Traceback" not in out + err, shown
        assert rc in codes, shown
        nagios_usage = command == "expiry" and rc == 3 and "bad usage" in (out.splitlines() or [""])[0] + out
        bad_input = rc == 2 if command != "expiry" else nagios_usage
        if command == "expiry" and rc == 3 and not nagios_usage:
            assert out.startswith("CERT UNKNOWN - ") or '"state": "UNKNOWN"' in out, shown  # a source not checked
        if bad_input:
            lines = err.splitlines()
            assert any(line.startswith("error: ") for line in lines), shown
            assert any(line.startswith("hint: ") for line in lines), shown
            if "--json" not in argv:
                assert len(lines) == 2 and lines[0].startswith("error: ") and lines[1].startswith("hint: "), shown
                if command == "expiry":
                    assert len(out.splitlines()) == 1 and out.startswith("CERT UNKNOWN - bad usage: "), shown
                else:
                    assert out == "", shown
            assert _snapshot(base) == before, f"bad input wrote something\n{shown}"
    finally:
        shutil.rmtree(base, ignore_errors=True)


FUZZ = settings(max_examples=int(os.environ.get("CERTDOCTOR_FUZZ_EXAMPLES", "30")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                        HealthCheck.too_slow])


@pytest.mark.parametrize("command", sorted(GRAMMAR))
@FUZZ
@given(data=st.data())
def test_generated_arguments_never_traceback(command, data, capsys):
    argv = data.draw(argv_for(command), label="argv")
    stdin = data.draw(st.sampled_from(STDIN), label="stdin")
    drive(argv, stdin, capsys)


# ----------------------------------------------------------------------------- the cases seen on main, by name

@pytest.mark.parametrize("argv", [
    [],                                                       # certdoctor alone
    ["no-such-command"],
    ["inspect", "--no-such-option", "{in}/chain.pem"],
    ["inspect"],                                              # missing argument
    ["diagnose", "https://example.org:0/", "--client", "curl"],  # bad choice
    ["diagnose", "http://example.org", "--timeout", "nan"],
    ["diagnose", "http://example.org", "--timeout", "inf"],
    ["diagnose", "http://example.org", "--timeout", "-1"],
    ["inspect", "{in}/chain.pem", "--timeout", "1e309"],
    ["fix", "http://example.org", "--out", "{out}", "--trust", "00:11"],
    ["diagnose", "http://example.org", "--pin", "abc"],
    ["diagnose", "http://example.org", "--resolve", "foo"],
    ["lab", "--list", "--duration", "nan"],
    ["lint", "--jobs", "0", "{in}/dir"],
    ["lint", "--jobs", "99999999999", "{in}/dir"],
    ["fix", "http://example.org", "--out", "{in}/chain.pem/sub"],
    ["fix", "http://example.org", "--out", ""],
    ["fix", "{in}/missing.pem", "--out", "{out}"],            # a file name: refused, never resolved
    ["diagnose", "{in}/chain.pem"],
    ["inspect", "-", "--ca-file", "-"],                       # stdin can be read once
    ["pin", "{in}/chain.pem", "--backup-key", "-", "--ca-file", "-"],
])
def test_seen_on_main(argv, capsys):
    drive(argv, CHAIN_PEM, capsys) if argv else _alone(capsys)


def _alone(capsys):
    from certdoctor.cli.common import run
    from certdoctor.cli.main import cli

    capsys.readouterr()
    assert run(cli, []) == 2
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert out == "" and len(lines) == 2 and lines[0].startswith("error: no command given") and "inspect" in lines[0]
    assert lines[1].startswith("hint: ")


@pytest.mark.parametrize("argv,words", [
    (["expiry", "{in}/chain.pem", "--ca-file", "{in}/missing.pem"], "--ca-file"),
    (["expiry", "{in}/chain.pem", "--timeout", "nan"], "finite"),
    (["expiry", "{in}/chain.pem", "--warn-days", "99999999999999"], "--warn-days"),
    (["expiry", "{in}/chain.pem", "--concurrency", "0"], "--concurrency"),
    (["expiry", "-", "-"], "read once"),
    (["expiry", "{in}/chain.pem", "--no-such-option"], "no-such-option"),
])
def test_expiry_bad_usage_is_unknown_with_error_and_hint(argv, words, capsys):
    """Nagios reads exit 1 as WARNING: bad usage of expiry is UNKNOWN (3), its one plugin line on
    stdout, and the error:/hint: pair of every command on stderr."""
    from certdoctor.cli.common import run
    from certdoctor.cli.main import cli

    base = _make_run_dir()
    try:
        capsys.readouterr()
        with _stdin(CHAIN_PEM):
            rc = run(cli, [a.replace("{in}", str(base / "in")) for a in argv])
        out, err = capsys.readouterr()
    finally:
        shutil.rmtree(base, ignore_errors=True)
    assert rc == 3, (out, err)
    assert out.startswith("CERT UNKNOWN - bad usage: ") and len(out.splitlines()) == 1 and words in out
    lines = err.splitlines()
    assert len(lines) == 2 and lines[0].startswith("error: ") and words in lines[0] and lines[1].startswith("hint: ")


def test_stdin_file_is_removed_after_the_command(capsys, monkeypatch, tmp_path):
    """``--ca-file -`` is kept in a private temporary file for the run, and removed after it,
    also when the command fails."""
    from certdoctor.cli.common import run
    from certdoctor.cli.main import cli

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)  # gettempdir() reads TMPDIR again
    base = _make_run_dir()
    try:
        for argv, code in ((["inspect", str(base / "in" / "chain.pem"), "--ca-file", "-"], 0),
                           (["inspect", str(base / "in" / "garbage.crt"), "--ca-file", "-"], 2)):
            with _stdin(ROOT_PEM):
                assert run(cli, argv) == code
            assert not [p for p in tmp_path.iterdir() if p.name.startswith("certdoctor-stdin-")]
        out = capsys.readouterr().out
        assert "Fuzz Root" in out
    finally:
        shutil.rmtree(base, ignore_errors=True)
