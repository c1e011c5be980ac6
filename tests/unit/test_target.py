"""The one endpoint parser (``certdoctor.net.target``) and the callers that wrap it."""

from __future__ import annotations

import dataclasses
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certdoctor.errors import InputError, UsageError
from certdoctor.net.target import Target, parse_target

# --------------------------------------------------------------------------- accepted forms


@pytest.mark.parametrize("text,host,port,url", [
    ("example.org", "example.org", 443, "https://example.org/"),
    ("example.org:8443", "example.org", 8443, "https://example.org:8443/"),
    ("example.org:443", "example.org", 443, "https://example.org/"),         # default port omitted
    ("example.org:", "example.org", 443, "https://example.org/"),            # empty port = default, as in URLs
    ("example.org:08443", "example.org", 8443, "https://example.org:8443/"),
    ("example.org:8443/health?full=1", "example.org", 8443, "https://example.org:8443/health?full=1"),
    ("example.org?q=1", "example.org", 443, "https://example.org/?q=1"),
    ("example.org.", "example.org.", 443, "https://example.org./"),
    ("_srv.internal", "_srv.internal", 443, "https://_srv.internal/"),
    ("xn--bcher-kva.de", "xn--bcher-kva.de", 443, "https://xn--bcher-kva.de/"),
    ("  example.org\n", "example.org", 443, "https://example.org/"),
    ("https://example.org", "example.org", 443, "https://example.org/"),
    ("https://example.org/p/a%20b?x=1&y=2#frag", "example.org", 443, "https://example.org/p/a%20b?x=1&y=2"),
    ("https://example.org:4443", "example.org", 4443, "https://example.org:4443/"),
    ("HTTPS://Example.ORG/Path", "example.org", 443, "https://example.org/Path"),  # the path keeps its case
    ("https://h/go?to=https://x", "h", 443, "https://h/go?to=https://x"),
    ("127.0.0.1", "127.0.0.1", 443, "https://127.0.0.1/"),
    ("127.0.0.1:8443", "127.0.0.1", 8443, "https://127.0.0.1:8443/"),
    ("[2001:db8::1]:8443", "2001:db8::1", 8443, "https://[2001:db8::1]:8443/"),
    ("[2001:DB8::1]", "2001:db8::1", 443, "https://[2001:db8::1]/"),
    ("https://[::1]:8443/x", "::1", 8443, "https://[::1]:8443/x"),
    ("2001:db8::1", "2001:db8::1", 443, "https://[2001:db8::1]/"),            # bare IPv6: port 443
    ("::ffff:192.0.2.1", "::ffff:192.0.2.1", 443, "https://[::ffff:192.0.2.1]/"),
    ("h:1", "h", 1, "https://h:1/"),
    ("h:65535", "h", 65535, "https://h:65535/"),
])
def test_accepted_forms(text, host, port, url):
    t = parse_target(text)
    assert (t.host, t.port, t.url, t.servername) == (host, port, url, host)
    assert parse_target(t.url) == t  # the url names the same endpoint


def test_servername_and_path():
    t = parse_target("https://192.0.2.10:8443/a?b", servername="www.example.org")
    assert t.servername == "www.example.org" and t.host == "192.0.2.10"
    assert t.path == "/a?b" and parse_target("[::1]").path == "/"


def test_target_is_frozen_and_the_same_in_diagnose():
    import certdoctor.diagnose as diagnose

    assert diagnose.Target is Target and diagnose.parse_target is parse_target
    with pytest.raises(dataclasses.FrozenInstanceError):
        parse_target("example.org").port = 1  # type: ignore[misc]
    assert not hasattr(parse_target("example.org"), "__dict__")  # slots


# --------------------------------------------------------------------------- rejected forms

REJECTED = [
    ("", "empty target"),
    (" \t ", "empty target"),
    ("http://example.org", "an http:// URL has no certificate"),
    ("HTTP://example.org", "an http:// URL has no certificate"),
    ("ftp://example.org", "unsupported URL scheme 'ftp'; give https://host[:port]/path or host[:port]"),
    ("://example.org", "unsupported URL scheme ''"),
    ("h/go?to=https://x", "unsupported URL scheme 'h/go?to=https'"),
    ("https://", "no host"),
    ("https:///path", "no host"),
    (":8443", "no host"),
    ("/path", "no host"),
    ("example.org:0", "port '0' is not a number from 1 to 65535"),
    ("example.org:65536", "port '65536' is not a number from 1 to 65535"),
    ("example.org:99999999999999999999", "port '99999999999999999999' is not a number from 1 to 65535"),
    ("example.org:https", "port 'https' is not a number from 1 to 65535"),
    ("example.org:-1", "port '-1' is not a number from 1 to 65535"),
    ("example.org:\u00b2", "port '\u00b2' is not a number from 1 to 65535"),  # str.isdigit() says yes
    ("https://example.org:x/", "port 'x' is not a number from 1 to 65535"),
    ("[2001:db8::1]:0", "port '0' is not a number from 1 to 65535"),
    ("[2001:db8::1]:abc", "port 'abc' is not a number from 1 to 65535"),
    ("[2001:db8::1", "missing ']' after the IPv6 address"),
    ("[2001:db8::1]8443", "unexpected '8443' after ']'"),
    ("[]", "no host (empty brackets)"),
    ("[192.0.2.1]", "'192.0.2.1' in brackets is not an IPv6 address"),
    ("[example.org]:443", "'example.org' in brackets is not an IPv6 address"),
    ("[fe80::1%eth0]", "IPv6 zone IDs"),
    ("https://2001:db8::1/", "an IPv6 address in a URL needs brackets, https://[2001:db8::1]/"),
    ("a:b:c", "neither host[:port] nor an IPv6 address"),
    ("example.org:8443:1", "neither host[:port] nor an IPv6 address"),
    ("user@example.org", "user names and passwords (user@host) are not supported"),
    ("https://user:pw@example.org/", "user names and passwords (user@host) are not supported"),
    ("exa mple.org", "' ' cannot be part of a host name (letters, digits, '-', '_', '.')"),
    ("exa*mple.org", "'*' cannot be part of a host name"),
    ("exa\\mple.org", "'\\\\' cannot be part of a host name"),
    ("-example.org", "a host name must start with a letter, a digit or '_'"),
    (".example.org", "a host name must start with a letter, a digit or '_'"),
    ("a..b", "the host name has an empty label ('..')"),
    ("a" * 64 + ".org", "a label of the host name is longer than 63 characters"),
    (".".join(["a" * 60] * 5), "the host name is 304 characters long, more than 253"),
    ("bücher.de", "not an ASCII host name; use its IDNA form 'xn--bcher-kva.de'"),
    ("https://bücher.de:8443/", "not an ASCII host name; use its IDNA form 'xn--bcher-kva.de'"),
    ("ex\u00a0ample.org", "not an ASCII host name; use its IDNA (xn--) form"),   # NBSP: no usable form
    ("exa\nmple.org", "contains a control character"),
    ("https://example.org/a\rb", "contains a control character"),
]


@pytest.mark.parametrize("text,words", REJECTED)
def test_rejected_forms(text, words):
    with pytest.raises(UsageError, match=re.escape(words)) as info:
        parse_target(text)
    err = info.value
    assert "\n" not in err.message and err.hint
    if text.strip():
        assert err.message.startswith(repr(text)[:80])  # names the input, quoted


def test_a_long_input_is_cut_in_the_message():
    with pytest.raises(UsageError) as info:
        parse_target("x" * 5000 + ":0")
    assert len(info.value.message) < 200 and "…" in info.value.message


def test_not_text():
    with pytest.raises(UsageError, match="is not text"):
        parse_target(None)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the callers keep their shapes

def test_callers_return_their_shapes():
    from certdoctor.expiry import parse_endpoint
    from certdoctor.net.probe import _target_kwargs as probe_target
    from certdoctor.net.target import classify

    assert parse_endpoint("https://[::1]:8443/health?x=1#f") == ("::1", 8443, "/health?x=1")
    assert parse_endpoint("example.org") == ("example.org", 443, "/")
    s = classify("Example.org:8443")  # what revocation, pin, expiry and inspect all call
    assert (s.kind, s.target.host, s.target.port, s.label) == ("endpoint", "example.org", 8443, "example.org:8443")
    assert probe_target("https://127.0.0.1:8443/path") == {"host": "127.0.0.1", "port": 8443}
    assert probe_target("2001:db8::1") == {"host": "2001:db8::1", "port": 443}
    assert probe_target(("example.org", 8443)) == {"host": "example.org", "port": 8443}
    s = classify("[2001:db8::1]:8443")
    assert (s.kind, s.target.host, s.target.port) == ("endpoint", "2001:db8::1", 8443)


@pytest.mark.parametrize("text,words", [
    ("example.org:notaport", "port 'notaport' is not a number from 1 to 65535"),
    ("[2001:db8::1]:x", "port 'x' is not a number from 1 to 65535"),  # once silently port 443
    ("http://example.org", "an http:// URL has no certificate"),       # once probed on 443
    ("exa mple.org", "cannot be part of a host name"),
])
def test_every_caller_refuses_with_the_same_message(text, words):
    from certdoctor.expiry import parse_endpoint
    from certdoctor.net.probe import _target_kwargs as probe_target
    from certdoctor.net.target import classify

    for parse in (parse_endpoint, probe_target, classify):
        with pytest.raises(UsageError, match=re.escape(words)) as info:
            parse(text)
        assert info.value.hint, parse


def test_callers_that_take_files_say_so_in_the_hint():
    from certdoctor.expiry import parse_endpoint
    from certdoctor.net.target import classify

    for parse in (parse_endpoint, classify):
        with pytest.raises(UsageError) as info:
            parse("example.org:0")
        assert "file" in info.value.hint
        with pytest.raises(UsageError) as info:
            parse("http://example.org")
        assert info.value.hint.startswith("Use https://")  # a specific hint is kept
    with pytest.raises(UsageError) as info:  # a command that takes only endpoints does not name files
        classify("example.org:0", kinds=("endpoint",))
    assert "file" not in info.value.hint


def test_no_command_decides_file_or_endpoint_itself():
    """The one classifier: no command module keeps a suffix list or its own file test."""
    from pathlib import Path

    import certdoctor

    root = Path(certdoctor.__file__).parent
    for path in [*root.joinpath("cli").glob("*.py"), root / "expiry.py"]:
        text = path.read_text(encoding="utf-8")
        for needle in ("_CERT_SUFFIXES", ".endswith((", "os.path.exists(", "os.path.lexists(", ".is_file()",
                       "Path(target).exists()"):
            assert needle not in text, (path.name, needle)


# --------------------------------------------------------------------------- any text: a Target or our error

_pieces = st.one_of(
    st.sampled_from(["", "https://", "HTTPS://", "http://", "ftp://", "://", "//"]),
    st.text(max_size=8),
)
_hosts = st.one_of(
    st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True),
    st.ip_addresses().map(str),
    st.ip_addresses(v=6).map(lambda a: f"[{a}]"),
    st.text(max_size=12),
)
_ports = st.one_of(st.just(""), st.integers(-5, 70000).map(lambda p: f":{p}"), st.text(max_size=6).map(":".__add__))
_paths = st.one_of(st.just(""), st.text(max_size=12).map("/".__add__), st.text(max_size=12))
_targets = st.one_of(st.text(max_size=60), st.tuples(_pieces, _hosts, _ports, _paths).map("".join))


@settings(max_examples=600, deadline=None)
@given(_targets)
def test_any_text_parses_or_raises_usage_error(text):
    try:
        t = parse_target(text)
    except UsageError as exc:
        assert exc.message and "\n" not in exc.message and len(exc.message) < 400 and exc.hint
        return
    assert t.host and t.host == t.host.lower() and t.host.isascii() and 1 <= t.port <= 65535
    assert t.url.startswith("https://") and t.servername == t.host
    assert parse_target(t.url) == t


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=_targets)
def test_any_text_through_the_callers_raises_only_our_errors(tmp_path, monkeypatch, text):
    from certdoctor.expiry import parse_endpoint
    from certdoctor.net.probe import _target_kwargs as probe_target
    from certdoctor.net.target import classify

    monkeypatch.chdir(tmp_path)  # classify looks for a file of that name first
    for parse in (parse_endpoint, probe_target):
        try:
            parse(text)
        except UsageError as exc:
            assert "\n" not in exc.message
    try:
        classify(text)
    except (InputError, UsageError) as exc:  # every command: bad input, exit 2
        assert "\n" not in exc.message and exc.exit_code == 2
