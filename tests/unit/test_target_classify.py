"""``certdoctor.net.target.classify``: the one "file, directory, stdin or endpoint?" rule set of
every command, by example and by property (hypothesis). Unit tests open no socket: a
classification that tried a DNS lookup would fail here."""

from __future__ import annotations

import os
import re

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from certdoctor.errors import InputError, UsageError
from certdoctor.net.target import (
    CERT_SUFFIXES,
    DIRECTORY,
    ENDPOINT,
    FILE,
    FILE_HINT,
    KINDS,
    STDIN,
    Source,
    classify,
    looks_like_path,
    parse_target,
)

def fixture_ok(examples: int) -> settings:
    """hypothesis settings for a test that also takes a function-scoped fixture (the cwd)."""
    return settings(max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
def cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


# --------------------------------------------------------------------------- by example

@pytest.mark.parametrize("text,kind", [
    ("-", STDIN),
    ("example.org", ENDPOINT),
    ("example.org:8443", ENDPOINT),
    ("example.org:8443/health?x=1", ENDPOINT),      # host:port/path: the port says endpoint
    ("[2001:db8::1]:8443/x", ENDPOINT),
    ("https://example.org/chain.pem", ENDPOINT),    # a URL, whatever its path ends with
    ("127.0.0.1", ENDPOINT),
])
def test_kinds_by_example(cwd, text, kind):
    assert classify(text).kind == kind


@pytest.mark.parametrize("text", ["missing.pem", "site.CRT", "ca-bundle.bundle", "./certs/site", "certs/site.crt",
                                  "/etc/nonexistent/x", "example.org/health", "C:\\certs\\x.pem", "~/x.pem",
                                  "id.p12", "key.key"])
def test_a_missing_file_is_never_an_endpoint(cwd, text):
    with pytest.raises(InputError, match="no such file") as info:
        classify(text)
    assert info.value.message.startswith(repr(text)) and info.value.hint


def test_existing_paths_win_over_everything(cwd):
    (cwd / "example.org").write_text("x")           # a file named like a host
    (cwd / "example.org:8443").mkdir()                # a directory named like host:port
    assert classify("example.org") == Source("example.org", FILE, path="example.org")
    assert classify("example.org:8443").kind == DIRECTORY
    with pytest.raises(InputError, match="is a directory, not a file"):
        classify("example.org:8443", kinds=(FILE, ENDPOINT))


def test_kinds_say_what_a_command_takes(cwd):
    (cwd / "code").mkdir()
    with pytest.raises(UsageError, match="does not read standard input"):
        classify("-", kinds=(FILE, ENDPOINT))
    with pytest.raises(InputError, match="'nope': no such file or directory"):  # lint: paths only
        classify("nope", kinds=(FILE, DIRECTORY))
    with pytest.raises(InputError, match="'example.org': no such file$"):   # convert: never a host
        classify("example.org", kinds=(FILE, STDIN))
    with pytest.raises(InputError, match="is a directory, which this command does not take"):
        classify("code", kinds=(ENDPOINT,))
    with pytest.raises(ValueError):
        classify("x", kinds=("socket",))


def test_endpoint_errors_name_files_in_the_hint(cwd):
    with pytest.raises(UsageError) as info:
        classify("example.org:0")
    assert info.value.hint == FILE_HINT
    with pytest.raises(UsageError) as info:
        classify("http://example.org")
    assert info.value.hint.startswith("Use https://")


def test_servername_and_label():
    s = classify("https://192.0.2.1:8443/x", servername="www.example.org")
    assert s.target.servername == "www.example.org" and s.label == "192.0.2.1:8443" and s.is_endpoint
    assert classify("-").label == "<stdin>"


def test_path_like_objects(cwd):
    (cwd / "a.pem").write_text("x")
    assert classify(cwd / "a.pem").kind == FILE


# --------------------------------------------------------------------------- by property

_suffix = st.sampled_from(CERT_SUFFIXES).flatmap(
    lambda s: st.sampled_from([s, s.upper(), s.capitalize()]))
_stem = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True)
_texts = st.one_of(
    st.text(max_size=40),
    st.tuples(st.sampled_from(["", "https://", "http://", "./", "/", "../", "~/", "C:\\"]), _stem,
              st.sampled_from(["", ":443", ":8443", ":0", ":x", "/p", "/a.pem"]), st.just("") | _suffix)
    .map("".join),
)
_kinds = st.sets(st.sampled_from(KINDS), min_size=1)


@fixture_ok(400)
@given(text=_texts, kinds=_kinds)
def test_any_text_is_a_source_of_an_allowed_kind_or_one_of_our_errors(cwd, text, kinds):
    try:
        s = classify(text, kinds=kinds)
    except (InputError, UsageError) as exc:
        assert exc.message and "\n" not in exc.message and len(exc.message) < 400 and exc.hint
        assert exc.exit_code == 2
        return
    assert s.kind in kinds and s.input == text
    assert (s.target is not None) == (s.kind == ENDPOINT)
    assert (s.path is not None) == (s.kind in (FILE, DIRECTORY))
    assert classify(text, kinds=kinds) == s  # the same answer every time


@fixture_ok(200)
@given(stem=_stem, suffix=_suffix, prefix=st.sampled_from(["", "./", "certs/", "/nonexistent/"]))
def test_a_missing_certificate_file_is_a_missing_file_error(cwd, stem, suffix, prefix):
    text = prefix + stem + suffix
    assume(not os.path.lexists(text))
    with pytest.raises(InputError, match=re.escape(f"{text!r}"[:40])):
        classify(text)
    assert looks_like_path(text)


@fixture_ok(150)
@given(name=st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="/\x00"), min_size=1,
                    max_size=30))
def test_an_existing_file_or_directory_is_one_whatever_its_name(cwd, name):
    assume(name not in (".", "..", "-"))
    path = cwd / name
    try:
        path.write_bytes(b"x")
    except (OSError, ValueError):
        assume(False)
    try:
        s = classify(name)
        assert (s.kind, s.path, s.target) == (FILE, name, None)
    finally:
        path.unlink()
    path.mkdir()
    try:
        assert classify(name).kind == DIRECTORY
        assert classify(name, kinds=(FILE, DIRECTORY)).path == name
    finally:
        path.rmdir()


@settings(max_examples=300, deadline=None)
@given(text=_texts)
def test_an_endpoint_is_what_parse_target_says(text):
    try:
        s = classify(text, kinds=(ENDPOINT,))
    except (InputError, UsageError):
        return
    assert s.target == parse_target(text)
    again = classify(s.target.url, kinds=(ENDPOINT,))  # its URL names the same endpoint
    assert again.target == s.target


@settings(max_examples=200, deadline=None)
@given(host=st.from_regex(r"[a-z0-9][a-z0-9-]{0,10}(\.[a-z0-9-]{1,10}){0,3}", fullmatch=True),
       port=st.integers(1, 65535), path=st.from_regex(r"(/[A-Za-z0-9._-]{0,8}){0,3}", fullmatch=True))
def test_host_port_and_urls_are_endpoints_not_files(host, port, path):
    assume(not os.path.lexists(f"{host}:{port}{path}"))
    s = classify(f"{host}:{port}{path}")
    assert s.kind == ENDPOINT and (s.target.host, s.target.port) == (host, port)
    url = f"https://{host}:{port}{path}/chain.pem"  # a URL, though it ends like a certificate file
    u = classify(url)
    assert u.kind == ENDPOINT and u.target.port == port and u.target.url.endswith("/chain.pem")
    assert not looks_like_path(url)
