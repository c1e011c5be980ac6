"""Which hosts are canaries: --canary, CERTDOCTOR_CANARIES, the defaults; bad ones are bad usage."""

from __future__ import annotations

import pytest

from certdoctor import policy
from certdoctor.errors import UsageError
from certdoctor.gather import CANARY_ENV, CANARY_HOSTS, canary_hosts

from support.cli import run_cli_captured


def test_the_defaults_the_environment_and_the_argument():
    assert canary_hosts(None, {}) == tuple((h, 443) for h in CANARY_HOSTS) == (("pypi.org", 443),
                                                                              ("www.python.org", 443))
    assert canary_hosts(None, {CANARY_ENV: " "}) == canary_hosts(None, {})  # empty: the defaults
    env = {CANARY_ENV: "Intranet.Example.:8443, [::1], 10.0.0.1:4443,intranet.example:8443"}
    assert canary_hosts(None, env) == (("intranet.example", 8443), ("::1", 443), ("10.0.0.1", 4443))
    # the argument wins over the environment; each item may itself be a comma-separated list
    assert canary_hosts(["a.test", "b.test:1,c.test"], env) == (("a.test", 443), ("b.test", 1), ("c.test", 443))
    assert canary_hosts("a.test", env) == (("a.test", 443),)
    # 'none': no canary at all
    assert canary_hosts(["none"], {}) == () == canary_hosts(None, {CANARY_ENV: "NONE"})


@pytest.mark.parametrize("bad", ["https://pypi.org/", "pypi.org/simple", "a b", "::1", "host:0", "host:65536",
                                 "host:port", "[::1]x", "bad_host!", "x" * 254])
def test_a_malformed_canary_is_bad_usage(bad):
    with pytest.raises(UsageError) as err:
        canary_hosts([bad], {})
    assert repr(bad) in str(err.value) and "--canary" in err.value.hint
    with pytest.raises(UsageError) as err:
        canary_hosts(None, {CANARY_ENV: bad})
    assert f"(from {CANARY_ENV})" in str(err.value)


def test_too_many_canaries_is_bad_usage():
    many = [f"h{i}.test" for i in range(policy.MAX_CANARIES + 1)]
    assert len(canary_hosts(many[:-1], {})) == policy.MAX_CANARIES
    with pytest.raises(UsageError):
        canary_hosts(many, {})


@pytest.mark.parametrize("command", [["diagnose", "https://www.example.test/"],
                                     ["fix", "https://www.example.test/", "--out", "{d}/out"]])
def test_the_cli_refuses_a_bad_canary_before_connecting(command, tmp_path, capsys):
    """A bad --canary is one error: line and one hint: line, exit 2 (no socket is opened: unit test)."""
    argv = [a.format(d=tmp_path) for a in command] + ["--canary", "pypi.org", "--canary", "http://x/"]
    rc, out, err = run_cli_captured(argv, capsys)
    lines = err.splitlines()
    assert rc == 2 and out == "" and "Traceback" not in err, err
    assert len(lines) == 2 and lines[0] == "error: bad canary host 'http://x/' (from --canary)", err
    assert lines[1].startswith("hint: Give HOST or HOST:PORT")


def test_the_cli_documents_the_option(capsys):
    for command in ("diagnose", "fix"):
        rc, out, _ = run_cli_captured([command, "--help"], capsys)
        assert rc == 0 and "--canary HOST[:PORT]" in out and "CERTDOCTOR_CANARIES" in out
