"""renew/challenge.py without sockets: tokens, listen addresses, the webroot and the dns-01 hook."""

from __future__ import annotations

import os
import stat
import sys

import pytest

from certdoctor.errors import UsageError
from certdoctor.renew.challenge import (ChallengeError, DnsHook, Responder, Webroot, check_token, parse_listen,
                                        txt_name)


@pytest.mark.parametrize("token", ["../../etc/passwd", "a/b", "a.b", "", "tok en", "x" * 300, "ab\x00c"])
def test_tokens_that_are_not_base64url_are_refused(token):
    with pytest.raises(ChallengeError, match="not base64url"):
        check_token(token)


def test_a_base64url_token_passes():
    assert check_token("LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0") == "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"


@pytest.mark.parametrize("text,want", [("127.0.0.1:80", ("127.0.0.1", 80)), ("[::1]:8080", ("::1", 8080)),
                                       ("0.0.0.0:0", ("0.0.0.0", 0)), (" localhost:5002 ", ("localhost", 5002))])
def test_listen_addresses(text, want):
    assert parse_listen(text) == want


@pytest.mark.parametrize("text", ["80", ":80", "host:", "host:http", "host:70000", "[::1]80", "::1:80"])
def test_bad_listen_addresses(text):
    with pytest.raises(UsageError) as err:
        parse_listen(text)
    assert err.value.hint and "HOST:PORT" in err.value.hint


def test_txt_name_drops_the_wildcard_label():
    assert txt_name("www.example.test") == "_acme-challenge.www.example.test"
    assert txt_name("*.example.test") == "_acme-challenge.example.test"


def test_every_responder_meets_the_protocol(tmp_path):
    for r in (Webroot(tmp_path), DnsHook([sys.executable, "-c", "pass"])):
        assert isinstance(r, Responder)
    assert Webroot(tmp_path).types == ("http-01",)
    assert DnsHook("true").types == ("dns-01",)


def test_webroot_writes_the_key_authorization_and_removes_it_after(tmp_path):
    w = Webroot(tmp_path)
    w.prepare("a.test", "http-01", "tok-1_A", "tok-1_A.thumbprint", "")
    f = tmp_path / ".well-known" / "acme-challenge" / "tok-1_A"
    assert f.read_bytes() == b"tok-1_A.thumbprint"
    assert stat.S_IMODE(f.stat().st_mode) == 0o644
    assert [p.name for p in f.parent.iterdir()] == ["tok-1_A"]  # no temp file left beside it
    w.cleanup("a.test", "http-01", "tok-1_A", "tok-1_A.thumbprint", "")
    assert not (tmp_path / ".well-known").exists()  # the directories it made are gone too


def test_webroot_keeps_directories_that_were_there(tmp_path):
    (tmp_path / ".well-known" / "acme-challenge").mkdir(parents=True)
    (tmp_path / ".well-known" / "security.txt").write_text("x")
    w = Webroot(tmp_path)
    w.prepare("a.test", "http-01", "t1", "t1.k", "")
    w.cleanup("a.test", "http-01", "t1", "t1.k", "")
    assert (tmp_path / ".well-known" / "acme-challenge").is_dir()
    assert (tmp_path / ".well-known" / "security.txt").read_text() == "x"


def test_webroot_refuses_a_token_that_leaves_it(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    with pytest.raises(ChallengeError):
        Webroot(root).prepare("a.test", "http-01", "../../escape", "k", "")
    assert not (tmp_path / "escape").exists()


def test_webroot_refuses_a_symlinked_challenge_dir(tmp_path):
    root, elsewhere = tmp_path / "www", tmp_path / "elsewhere"
    root.mkdir(), elsewhere.mkdir()
    (root / ".well-known").symlink_to(elsewhere)
    with pytest.raises(ChallengeError, match="symlink"):
        Webroot(root).prepare("a.test", "http-01", "tok", "tok.k", "")
    assert list(elsewhere.iterdir()) == []


def test_webroot_must_exist(tmp_path):
    with pytest.raises(UsageError, match="not a directory"):
        Webroot(tmp_path / "missing")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_webroot_not_writable_is_a_challenge_error(tmp_path):
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(ChallengeError, match="cannot create"):
            Webroot(tmp_path).prepare("a.test", "http-01", "tok", "tok.k", "")
    finally:
        tmp_path.chmod(0o700)


HOOK = ("import os, sys; p = sys.argv[1]; "
        "open(p, 'a').write(' '.join(os.environ[k] for k in ('CERTDOCTOR_ACTION', 'CERTDOCTOR_DOMAIN', "
        "'CERTDOCTOR_TXT_NAME', 'CERTDOCTOR_TXT_VALUE')) + '\\n')")


def test_dns_hook_gets_the_record_in_its_environment(tmp_path):
    log = tmp_path / "hook.log"
    hook = DnsHook([sys.executable, "-c", HOOK, str(log)], timeout=30)
    hook.prepare("*.example.test", "dns-01", "tok", "tok.k", "VALUE123")
    hook.cleanup("*.example.test", "dns-01", "tok", "tok.k", "VALUE123")
    assert log.read_text().splitlines() == [
        "set example.test _acme-challenge.example.test VALUE123",
        "clear example.test _acme-challenge.example.test VALUE123"]


def test_dns_hook_failing_says_why_with_its_stderr_tail():
    hook = DnsHook([sys.executable, "-c", "import sys; sys.stderr.write('zone \\x1b[31mlocked\\n'); sys.exit(3)"])
    with pytest.raises(ChallengeError) as err:
        hook.prepare("a.test", "dns-01", "tok", "tok.k", "v")
    msg = str(err.value)
    assert "exited with 3" in msg and "zone \\x1b[31mlocked" in msg and "\x1b" not in msg and "\n" not in msg
    assert err.value.hint


def test_dns_hook_that_hangs_is_killed_at_its_timeout():
    hook = DnsHook([sys.executable, "-c", "import time; time.sleep(60)"], timeout=0.5)
    with pytest.raises(ChallengeError, match="did not finish within 0.5 s"):
        hook.prepare("a.test", "dns-01", "tok", "tok.k", "v")


def test_dns_hook_that_cannot_run(tmp_path):
    with pytest.raises(ChallengeError, match="cannot run it"):
        DnsHook([str(tmp_path / "nope")]).prepare("a.test", "dns-01", "tok", "tok.k", "v")
    with pytest.raises(UsageError, match="empty"):
        DnsHook("")
