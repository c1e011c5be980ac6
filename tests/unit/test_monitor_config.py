"""monitor/config: the --targets line parser (hypothesis), the TOML reader's errors with line
numbers, defaults and their overrides, source expansion."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from certdoctor.errors import UsageError
from certdoctor.monitor.config import (
    Defaults, ENDPOINT, FILE, endpoint, expand, load_config, parse_line, source, stream_targets,
)

hosts = st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z][a-z0-9-]{0,20}){0,3}", fullmatch=True)
ports = st.integers(1, 65535)
days = st.integers(0, 400)


@given(host=hosts, port=ports, warn=days, extra=days, sni=st.none() | hosts,
       comment=st.sampled_from(["", "  # a comment", "\t#x"]))
@settings(max_examples=150, deadline=None)
def test_a_formatted_line_parses_back(host, port, warn, extra, sni, comment):
    crit = warn
    warn = warn + extra
    line = f"{host}:{port} warn_days={warn} crit_days={crit}" + (f" servername={sni}" if sni else "") + comment
    spec = parse_line(line, "t.txt:1")
    assert (spec.kind, spec.input, spec.warn_days, spec.crit_days, spec.servername) == \
        (ENDPOINT, f"{host}:{port}", warn, crit, sni)
    assert spec.origin == "t.txt:1"


@given(st.text(max_size=200))
@settings(max_examples=300, deadline=None)
def test_any_line_is_a_spec_none_or_a_usage_error_naming_it(text):
    try:
        spec = parse_line(text, "inv.txt:7")
    except UsageError as exc:
        assert exc.message.startswith("inv.txt:7")
        return
    assert spec is None or spec.input.strip() == spec.input and spec.input


@pytest.mark.parametrize("line", ["", "   ", "# only a comment", "\t# indented comment"])
def test_blank_and_comment_lines(line):
    assert parse_line(line, "x:1") is None


def test_a_url_fragment_is_not_a_comment():
    assert parse_line("https://example.org/#top", "x:1").input == "https://example.org/#top"


@pytest.mark.parametrize("line, words", [
    ("example.org:99999", "port"),
    ("example.org bogus=1", "bogus=1"),
    ("example.org warn_days=3 crit_days=5", "warn_days (3) must not be below crit_days (5)"),
    ("example.org address=not-an-ip", "not an IP address"),
    ("example.org warn_days=3 warn_days=4", "given twice"),
])
def test_bad_lines(line, words):
    with pytest.raises(UsageError) as info:
        parse_line(line, "inv.txt:4")
    assert info.value.message.startswith("inv.txt:4: ") and words in info.value.message


def test_stream_reads_line_by_line_and_turns_bad_lines_into_error_specs(tmp_path):
    p = tmp_path / "t.txt"
    p.write_text("a.example\n# c\n\nb.example:0\n" + "x" * 5000 + "\nc.example warn_days=40\n")
    specs = list(stream_targets(p, Defaults(warn_days=50)))
    assert [(s.input, s.error is None) for s in specs][0] == ("a.example", True)
    assert specs[0].warn_days == 50 and specs[-1].warn_days == 40
    assert [s.origin for s in specs if s.error] == [f"{p}:4", f"{p}:5"]


def _cfg(tmp_path, text):
    p = tmp_path / "m.toml"
    p.write_text(text)
    return p


def test_toml_defaults_override_the_command_line_and_entries_override_defaults(tmp_path):
    p = _cfg(tmp_path, '[defaults]\nwarn_days = 20\nlabels = { team = "web" }\n\n'
                       '[[endpoint]]\ntarget = "https://a.example/"\naddress = "192.0.2.1"\n'
                       'labels = { env = "prod" }\ncrit_days = 3\n\n'
                       '[[file]]\npath = "/etc/ssl/*.pem"\n')
    defaults, specs = load_config(p, Defaults(warn_days=30, timeout=4.0))
    assert defaults.warn_days == 20 and defaults.timeout == 4.0
    a, f = specs
    assert (a.kind, a.address, a.warn_days, a.crit_days, a.timeout) == (ENDPOINT, "192.0.2.1", 20, 3, 4.0)
    assert dict(a.labels) == {"team": "web", "env": "prod"} and a.origin == f"{p}:5"
    assert f.kind == FILE and f.origin == f"{p}:11"


@pytest.mark.parametrize("text, where, words", [
    ('[[endpoint]]\ntarget = "a.example"\n\n[[endpoint]]\ntarget = "b.example"\nclient = "curl"\n', 6,
     "unknown client 'curl'"),
    ('[[endpoint]]\nservername = "x"\n', 1, "has no 'target'"),
    ('[defaults]\ntimeout = 0\n', 2, "timeout must be seconds"),
    ('[[file]]\npath = "x.pem"\nwarn_days = "soon"\n', 3, "whole number"),
    ('[[endpoint]]\ntarget = "a.example"\npins = ["md5/abc"]\n', 1, "pin"),
    ('[[endpoint]]\ntarget = "http://a.example"\n', 1, "http://"),
    ('[endpoints]\n', None, "unknown top-level"),
    ('[[endpoint]\n', 1, "not valid TOML"),
])
def test_toml_errors_name_file_and_line(tmp_path, text, where, words):
    p = _cfg(tmp_path, text)
    with pytest.raises(UsageError) as info:
        load_config(p)
    msg = info.value.message
    assert msg.startswith(f"{p}:{where}" if where else f"{p}:"), msg
    assert words in msg and info.value.hint


def test_expand_directory_and_glob(tmp_path):
    (tmp_path / "a.pem").write_text("x")
    (tmp_path / "b.crt").write_text("x")
    (tmp_path / "server.key").write_text("x")
    (tmp_path / "notes.txt").write_text("x")
    got = sorted(s.input for s in expand(source(str(tmp_path))))
    assert got == [str(tmp_path / "a.pem"), str(tmp_path / "b.crt")]
    assert [s.input for s in expand(source(str(tmp_path / "*.crt")))] == [str(tmp_path / "b.crt")]
    [missing] = expand(source(str(tmp_path / "nope.pem")))
    assert missing.error and "does not exist" in missing.error
    assert list(expand(endpoint("example.org"))) == [endpoint("example.org")]
