"""renew/config: the TOML reference (defaults and overrides, every table), each bad value one
UsageError naming file:line and the key path, and (hypothesis) any document is a config or a
UsageError, never a traceback."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from certdoctor.errors import UsageError
from certdoctor.renew.config import CERT_KEYS, DEFAULT_KEYS, load_config, parse_config

GOOD = """\
state = "state/renew.sqlite"

[defaults]
directory = "https://acme.example/directory"
ca_file = "acme-ca.pem"
account = { key = "account.key", contact = ["ops@example.org"] }
key = { type = "ec384" }
timeouts = { order = 120 }

[[certificate]]
name = "web"
domains = ["Example.ORG", "www.example.org", "example.org"]
challenge = { type = "http-01", listen = "127.0.0.1:8080" }
install = { lineage = "/srv/certs" }
deploy_hook = "nginx -s reload"
verify = ["127.0.0.1:8443", { endpoint = "[::1]:443", servername = "www.example.org" }, "shop.example.org"]
timeouts = { verify = 5 }

[[certificate]]
name = "api"
domains = ["api.example.org"]
ips = ["192.0.2.1"]
directory = "https://other.example/dir"
challenge = { type = "dns-01", hook = ["/usr/local/bin/txt", "--zone", "example.org"] }
key = { reuse = true }
profile = "shortlived"
install = { fullchain = "/etc/ssl/api.pem", key = "/etc/ssl/api.key" }
"""


def test_a_full_config_reads_with_defaults_merged(tmp_path):
    cfg = parse_config(GOOD, "renew.toml", base=tmp_path)
    web, api = cfg.certificates
    assert cfg.state == tmp_path / "state" / "renew.sqlite"
    assert web.name == "web" and web.domains == ("example.org", "www.example.org")  # lowercased, deduplicated
    assert web.directory == "https://acme.example/directory" and web.ca_file == str(tmp_path / "acme-ca.pem")
    assert web.account.key == tmp_path / "account.key" and web.account.contact == ("mailto:ops@example.org",)
    assert web.key.type == "ec384" and web.key.reuse is False
    assert (web.challenge.type, web.challenge.listen) == ("http-01", "127.0.0.1:8080")
    assert web.deploy_hook == ("nginx", "-s", "reload")  # a string is split, never given to a shell
    assert [(str(e), e.servername) for e in web.verify] == [
        ("127.0.0.1:8443", "example.org"), ("[::1]:443", "www.example.org"), ("shop.example.org:443", "shop.example.org")]
    assert web.timeouts.order == 120 and web.timeouts.verify == 5
    assert web.origin == "renew.toml:10"
    assert api.directory == "https://other.example/dir" and api.ips == ("192.0.2.1",)
    assert api.challenge.hook == ("/usr/local/bin/txt", "--zone", "example.org")
    assert api.key.type == "ec384" and api.key.reuse is True  # the table merged key by key
    assert api.profile == "shortlived" and api.install.fullchain.name == "api.pem"
    assert cfg.select(["api"]) == (api,)
    with pytest.raises(UsageError, match="no certificate named 'nope'"):
        cfg.select(["nope"])


def test_load_config_reads_paths_from_the_files_directory(tmp_path):
    p = tmp_path / "conf" / "renew.toml"
    p.parent.mkdir()
    p.write_text(GOOD)
    cfg = load_config(p)
    assert cfg.certificates[0].account.key == p.parent / "account.key"
    with pytest.raises(UsageError, match="cannot read the config"):
        load_config(tmp_path / "missing.toml")
    (tmp_path / "bin.toml").write_bytes(b"\xff\xfe")
    with pytest.raises(UsageError, match="not UTF-8"):
        load_config(tmp_path / "bin.toml")


def _entry(**over) -> str:
    base = {"name": '"web"', "domains": '["example.org"]', "directory": '"https://acme.example/d"',
            "install": '{ lineage = "/srv/certs" }'}
    base.update(over)
    return "[[certificate]]\n" + "".join(f"{k} = {v}\n" for k, v in base.items() if v is not None)


@pytest.mark.parametrize("over, where, words", [
    ({"servrname": '"x"'}, "renew.toml:6: [[certificate]] #1 (web): servrname: unknown key", "takes"),
    ({"directory": '"http://acme.example/d"'}, "renew.toml:4: [[certificate]] #1 (web): directory:", "https://"),
    ({"domains": '["exa mple.org"]'}, "renew.toml:3: [[certificate]] #1 (web): domains[0]:", "domains"),
    ({"domains": "[]"}, "renew.toml:3: [[certificate]] #1 (web): domains:", "domains"),
    ({"ips": '["300.1.1.1"]'}, "renew.toml:6: [[certificate]] #1 (web): ips[0]:", "192.0.2.1"),
    ({"challenge": '{ type = "tls-alpn-01" }'}, "renew.toml:6: [[certificate]] #1 (web): challenge.type:", "http-01"),
    ({"challenge": '{ type = "dns-01" }'}, "challenge.hook: is missing", "hook"),
    ({"challenge": '{ listen = "127.0.0.1:80", webroot = "/var/www" }'}, "challenge.webroot:", "keep one"),
    ({"challenge": '{ listen = "127.0.0.1" }'}, "challenge.listen:", "127.0.0.1:80"),
    ({"key": '{ type = "rsa1024" }'}, "key.type:", "ec256"),
    ({"key": '{ reuse = "yes" }'}, "key.reuse: must be true or false", "reuse = true"),
    ({"install": '{ lineage = "/a", key = "/k" }'}, "install.key: cannot be given with lineage", "lineage"),
    ({"install": '{ fullchain = "/a.pem" }'}, "install.key: is missing", "key ="),
    ({"install": '{ fullchain = "/a.pem", key = "/a.pem" }'}, "install.key: is the same file", "own path"),
    ({"install": None}, "install: is missing", "lineage"),
    ({"deploy_hook": "[]"}, None, None),
    ({"deploy_hook": "[1, 2]"}, "deploy_hook: must be a command", "reload"),
    ({"deploy_hook": '"unclosed \'quote"'}, "deploy_hook: cannot be split", "list"),
    ({"verify": '["127.0.0.1:99999"]'}, "verify[0]:", "1 to 65535"),
    ({"verify": '[{ servername = "x" }]'}, "verify[0].endpoint: is missing", "endpoint"),
    ({"timeouts": "{ order = 0 }"}, "timeouts.order: must be seconds", "order = 60"),
    ({"timeouts": "{ order = nan }"}, "timeouts.order: must be seconds", "order = 60"),
    ({"account": '{ eab_kid = "kid" }'}, "External Account Binding needs both", "both"),
    ({"account": '{ contact = ["not an address"] }'}, "account.contact[0]:", "mailto:"),
    ({"name": '"a/b"'}, "name:", "example.org"),
])
def test_each_bad_value_is_one_error_with_line_and_key_path(over, where, words):
    text = _entry(**over)
    if where is None:
        assert parse_config(text).certificates[0].deploy_hook == ()
        return
    with pytest.raises(UsageError) as info:
        parse_config(text, "renew.toml")
    assert where in info.value.message, info.value.message
    assert info.value.message.startswith("renew.toml:"), info.value.message
    assert words.lower() in (info.value.hint or "").lower(), info.value.hint


def test_file_level_errors():
    with pytest.raises(UsageError, match=r"renew.toml:2:8: not valid TOML"):
        parse_config("[[certificate]]\nname = = 1\n")
    with pytest.raises(UsageError, match=r"renew.toml:1: unknown top-level key or table 'certificates'"):
        parse_config("[[certificates]]\nname = 'x'\n")
    with pytest.raises(UsageError, match=r"no \[\[certificate\]\] entry"):
        parse_config("[defaults]\n")
    with pytest.raises(UsageError, match=r"must be an array of tables") as info:
        parse_config("[certificate]\nname = 'x'\n")
    assert "two brackets" in info.value.hint
    with pytest.raises(UsageError, match=r"renew.toml:2: \[defaults\]: domains: cannot be a default"):
        parse_config("[defaults]\ndomains = ['a.example']\n" + _entry())
    with pytest.raises(UsageError, match=r"renew.toml:2: \[defaults\] \(for \[\[certificate\]\] #1 \(web\)\): key.type"):
        parse_config("[defaults]\nkey = { type = 'dsa' }\n" + _entry())
    with pytest.raises(UsageError, match=r"renew.toml:6: \[\[certificate\]\] #2 \(web\): name 'web' is used by renew.toml:1"):
        parse_config(_entry() + _entry())


def test_the_eab_hmac_key_is_never_in_a_repr(tmp_path):
    (tmp_path / "hmac").write_text("c2VjcmV0LWhtYWMta2V5\n")
    cfg = parse_config(_entry(account='{ eab_kid = "kid-1", eab_hmac_key_file = "hmac" }'), base=tmp_path)
    acct = cfg.certificates[0].account
    assert acct.eab_hmac_key == "c2VjcmV0LWhtYWMta2V5" and acct.eab_kid == "kid-1"
    assert "c2VjcmV0" not in repr(cfg)


# --------------------------------------------------------------------------- hypothesis

KEYS = st.sampled_from(sorted({*CERT_KEYS, *DEFAULT_KEYS, "type", "listen", "webroot", "hook", "reuse", "lineage",
                               "fullchain", "key", "cert", "chain", "endpoint", "servername", "order", "verify",
                               "contact", "eab_kid", "eab_hmac_key", "eab_hmac_key_file", "x", "state"}))
scalars = (st.text(max_size=30) | st.integers(-2**63, 2**63 - 1) | st.booleans()
           | st.floats(allow_nan=True, allow_infinity=True)
           | st.sampled_from(["https://acme.example/d", "example.org", "127.0.0.1:8080", "http-01", "dns-01",
                              "ec256", "/tmp/x", "*.example.org", "[::1]:443"]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5),
                      max_leaves=12)


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return "{ " + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + " }"


documents = st.fixed_dictionaries({}, optional={
    "defaults": st.dictionaries(KEYS, values, max_size=6),
    "certificate": st.lists(st.dictionaries(KEYS, values, max_size=10), max_size=3),
    "state": scalars,
})


@given(documents)
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_toml_document_is_a_config_or_one_usage_error(doc):
    lines = []
    if "state" in doc:
        lines.append(f"state = {_toml(doc['state'])}")
    if "defaults" in doc:
        lines.append("[defaults]")
        lines += [f"{json.dumps(k)} = {_toml(v)}" for k, v in doc["defaults"].items()]
    for entry in doc.get("certificate", []):
        lines.append("[[certificate]]")
        lines += [f"{json.dumps(k)} = {_toml(v)}" for k, v in entry.items()]
    text = "\n".join(lines) + "\n"
    try:
        cfg = parse_config(text, "fuzz.toml")
    except UsageError as exc:
        assert exc.message.startswith("fuzz.toml") and exc.hint, exc.message
        assert "\n" not in exc.message
        return
    assert cfg.certificates and all(c.identifiers and c.directory.startswith("https://") for c in cfg.certificates)


@given(st.text(max_size=300))
@settings(max_examples=300, deadline=None)
def test_any_text_is_a_config_or_one_usage_error(text):
    try:
        parse_config(text, "fuzz.toml")
    except UsageError as exc:
        assert exc.message.startswith("fuzz.toml")
