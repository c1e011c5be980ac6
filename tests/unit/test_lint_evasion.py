"""Issue 10: the lint cannot be evaded (each missed pattern is found) or misled (each false
positive is quiet); the scanner never raises on arbitrary text or bytes."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certdoctor.errors import InputError
from certdoctor.lint.scan import decode_source, lint_bytes, lint_file, lint_source


def codes(src: str) -> list[tuple[int, str]]:
    return [(f.location.line, f.code.value) for f in lint_source(src)]


# --------------------------------------------------------------------------- missed before

@pytest.mark.parametrize("src, want", [
    ("import requests\nrequests.get(u, verify='')\n", [(2, "VERIFY_FALSE")]),
    ("import requests\ns = requests.Session()\ns.verify = None\n", [(3, "VERIFY_FALSE_ATTR")]),
    ("session.verify = None\n", [(1, "VERIFY_FALSE_ATTR")]),
    ("import requests\ns = requests.Session()\ns.__dict__['verify'] = False\n",
     [(3, "VERIFY_FALSE_ATTR")]),
    ("import requests\ns = requests.Session()\nvars(s)['verify'] = 0\n", [(3, "VERIFY_FALSE_ATTR")]),
    ("import ssl\nctx = ssl.create_default_context()\nctx.verify_mode = ssl.VerifyMode(0)\n",
     [(3, "CERT_NONE")]),
    ("import ssl\nssl._create_default_https_context = ssl._create_stdlib_context\n",
     [(2, "UNVERIFIED_CONTEXT")]),
    ("from ssl import _create_stdlib_context\n"
     "import ssl\nssl._create_default_https_context = _create_stdlib_context\n",
     [(1, "UNVERIFIED_CONTEXT"), (3, "UNVERIFIED_CONTEXT")]),
], ids=["verify-empty-string", "session-verify-none", "session-verify-none-no-import",
        "dunder-dict", "vars", "verifymode-0", "create-stdlib-context", "stdlib-context-import"])
def test_missed_patterns_are_found(src, want):
    assert codes(src) == want


def test_none_per_request_is_the_default_not_a_finding():
    # requests.get(verify=None) means "the session's setting": no finding
    assert codes("import requests\nrequests.get(u, verify=None)\n") == []


def test_bare_sslcontext_used_as_client():
    src = ("import ssl, socket, urllib.request\n"
           "ctx = ssl.SSLContext(ssl.PROTOCOL_TLS)\n"
           "s = ctx.wrap_socket(socket.socket(), server_hostname='example.com')\n")
    assert codes(src) == [(2, "UNVERIFIED_CONTEXT")]
    passed = ("import ssl, urllib.request\n"
              "def fetch(u):\n"
              "    ctx = ssl.SSLContext()\n"
              "    return urllib.request.urlopen(u, context=ctx)\n")
    assert codes(passed) == [(3, "UNVERIFIED_CONTEXT")]
    inline = "import ssl, http.client\nc = http.client.HTTPSConnection('h', context=ssl.SSLContext(ssl.PROTOCOL_TLS))\n"
    assert codes(inline) == [(2, "UNVERIFIED_CONTEXT")]
    # configured afterwards, or a client protocol, or never used by a client: quiet
    configured = src.replace("s = ", "ctx.verify_mode = ssl.CERT_REQUIRED\ns = ")
    assert codes(configured) == []
    assert codes(src.replace("PROTOCOL_TLS)", "PROTOCOL_TLS_CLIENT)")) == []
    assert codes("import ssl\nctx = ssl.SSLContext(ssl.PROTOCOL_TLS)\n") == []


def test_class_attribute_read_through_self():
    src = ("import requests\n"
           "class Api:\n"
           "    verify = False\n"
           "    def get(self, u):\n"
           "        return requests.get(u, verify=self.verify)\n"
           "    def session(self):\n"
           "        s = requests.Session()\n"
           "        s.verify = self.verify\n"
           "        return s\n")
    assert codes(src) == [(5, "VERIFY_FALSE_FLOW"), (8, "VERIFY_FALSE_FLOW")]
    (f, _) = lint_source(src)
    assert "class attribute" in f.summary and "line 3" in f.summary
    assert codes(src.replace("verify = False", "verify = True")) == []


def test_class_attribute_of_a_session_subclass():
    src = "import requests\nclass Insecure(requests.Session):\n    verify = False\n"
    assert codes(src) == [(3, "VERIFY_FALSE_ATTR")]
    assert codes("class Options:\n    verify = False\n") == []


def test_utf7_cookie_is_decoded_before_the_prefilter(tmp_path):
    # '=' spelled '+AD0-' and 'F' '+AEY-' on disk: a byte filter sees neither verify= nor False
    data = b"# coding: utf-7\nimport requests\nrequests.get('https://x', verify+AD0-+AEY-alse)\n"
    assert b"=" not in data and b"False" not in data
    f = tmp_path / "sneaky.py"
    f.write_bytes(data)
    findings, note, _ = lint_file(f)
    assert note is None
    assert [(x.location.line, x.code.value) for x in findings] == [(3, "VERIFY_FALSE")]
    assert findings[0].location.snippet == "requests.get('https://x', verify=False)"


@pytest.mark.parametrize("data, why", [
    (b"x = '\xff\xfe'\nrequests.get(u, verify=False)\n", "utf-8"),
    (b"# coding: no-such-codec\nrequests.get(u, verify=False)\n", "unknown"),
    (b"\xef\xbb\xbf# coding: latin-1\nx = 1\n", "bom-and-cookie"),
], ids=["invalid-utf8", "unknown-cookie", "bom-disagrees"])
def test_undecodable_is_a_note_not_silence(tmp_path, data, why):
    f = tmp_path / "bad.py"
    f.write_bytes(data)
    findings, note, _ = lint_file(f)
    assert findings == ()
    assert note is not None and "not decodable as Python source" in note.message, why
    with pytest.raises(InputError, match="not decodable"):
        decode_source(data)


# --------------------------------------------------------------------------- quiet now

@pytest.mark.parametrize("src", [
    # server-side contexts: CERT_NONE there means "ask no client certificate"
    "import ssl\nctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\nctx.verify_mode = ssl.CERT_NONE\n",
    "import ssl\nctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)\n"
    "ctx.check_hostname = False\nctx.verify_mode = ssl.CERT_NONE\n",
    "import ssl\ndef srv(sock):\n    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS)\n"
    "    ctx.verify_mode = ssl.CERT_OPTIONAL\n    return ctx.wrap_socket(sock, server_side=True)\n",
    "import ssl, asyncio\nasync def main(h):\n    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS)\n"
    "    await asyncio.start_server(h, '127.0.0.1', 0, ssl=ctx)\n",
    # a mapping of option names to CERT_* constants, and protocol-name tables
    "import ssl\nMODES = {'none': ssl.CERT_NONE, 'optional': ssl.CERT_OPTIONAL, "
    "'required': ssl.CERT_REQUIRED}\n",
    "import ssl\nNAMES = {'TLSv1': ssl.PROTOCOL_TLSv1, 'TLSv1.1': ssl.PROTOCOL_TLSv1_1}\n",
    "import ssl, OpenSSL\n_versions = {}\n_versions[ssl.PROTOCOL_TLSv1] = OpenSSL.SSL.TLSv1_METHOD\n",
    # JWT and SSH verify= are signatures, not TLS
    "import jwt\npayload = jwt.decode(token, verify=False)\n",
    "from google.auth import jwt\nimport requests\npayload = jwt.decode(token, verify=False)\n",
    "import paramiko\nkey = paramiko.PKey.load_cert(data, verify=False)\n",
    "cert = load_cert(blob, verify=False)\n",
    # urllib3 and botocore build contexts for urllib3, which matches names itself
    "import ssl\ndef create_urllib3_context(cert_reqs=None):\n    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)\n"
    "    def disable_check_hostname():\n        context.check_hostname = False\n"
    "    return context\n",
    "import ssl\nfrom .util.ssl_match_hostname import match_hostname\n"
    "def wrap(context, sock, host):\n    context.check_hostname = False\n"
    "    s = context.wrap_socket(sock, server_hostname=host)\n    match_hostname(s.getpeercert(), host)\n",
    "from urllib3.util.ssl_ import create_urllib3_context\nctx = create_urllib3_context()\n"
    "ctx.check_hostname = False\n",
    # a test comparing against CERT_NONE configures nothing
    "import ssl, unittest\nclass T(unittest.TestCase):\n    def test_mode(self):\n"
    "        self.assertEqual(ctx.verify_mode, ssl.CERT_NONE)\n",
    "import ssl\nmock_wrap.assert_called_once_with(sock, cert_reqs=ssl.CERT_NONE)\n",
    # ssl= here is a parameter holding a context, not the module
    "def connect(sock, ssl=None):\n    return ssl.wrap_socket(sock, server_hostname='h')\n",
    # a fingerprint replaces the chain check (urllib3's assert_fingerprint)
    "import requests\ns = requests.Session()\nif cfg.ssl_assert_fingerprint:\n    s.verify = False\n",
], ids=["protocol-tls-server", "purpose-client-auth", "server-side-wrap", "start-server",
        "cert-mapping", "protocol-table", "protocol-item-table", "jwt", "google-auth-jwt",
        "paramiko", "ssh-load-cert", "create-urllib3-context", "own-match-hostname",
        "urllib3-context", "assert-equal", "mock-assert", "ssl-parameter", "fingerprint-branch"])
def test_false_positives_are_quiet(src):
    assert codes(src) == []


def test_verify_ssl_named_aiohttp_only_where_aiohttp_is_imported():
    (plain,) = lint_source("import requests\nclient.configure(verify_ssl=False)\n")
    assert "aiohttp" not in plain.summary
    (aio,) = lint_source("import aiohttp\naiohttp.TCPConnector(verify_ssl=False)\n")
    assert aio.summary.endswith("(aiohttp)")
    assert codes("settings.configure(verify_ssl=False)\n") == []  # no HTTP client in sight


def test_a_test_that_really_disables_verification_is_still_found():
    src = ("import ssl, unittest\nclass T(unittest.TestCase):\n    def test_x(self):\n"
           "        ctx = ssl.create_default_context()\n        ctx.verify_mode = ssl.CERT_NONE\n"
           "        self.assertRaises(ValueError, run, sslopt={'cert_reqs': ssl.CERT_NONE})\n")
    assert codes(src) == [(5, "CERT_NONE"), (6, "CERT_NONE")]


def test_client_context_still_found_next_to_a_server_one():
    src = ("import ssl\nsrv = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\nsrv.verify_mode = ssl.CERT_NONE\n"
           "cli = ssl.create_default_context()\ncli.verify_mode = ssl.CERT_NONE\n"
           "cli.check_hostname = False\n")
    assert codes(src) == [(5, "CERT_NONE"), (6, "CHECK_HOSTNAME_OFF")]


def test_same_name_in_another_function_is_another_context():
    src = ("import ssl\ndef server():\n    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n"
           "    ctx.verify_mode = ssl.CERT_NONE\n"
           "def client():\n    ctx = ssl.create_default_context()\n    ctx.verify_mode = ssl.CERT_NONE\n")
    assert codes(src) == [(7, "CERT_NONE")]


# --------------------------------------------------------------------------- never raises

@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.binary(max_size=400))
def test_any_bytes_are_findings_or_a_note(data):
    findings, note, suppressed = lint_bytes(data, "fuzz.py")
    assert isinstance(findings, tuple) and suppressed >= 0
    assert note is None or note.message


_PIECES = st.sampled_from([
    "import requests\n", "import ssl\n", "class C(requests.Session):\n", "    verify = False\n",
    "def f(self, verify=False):\n", "    return requests.get(u, verify=self.verify)\n",
    "ctx = ssl.SSLContext(ssl.PROTOCOL_TLS)\n", "ctx.wrap_socket(s, server_hostname=h)\n",
    "s.__dict__['verify'] = None\n", "ctx.verify_mode = ssl.VerifyMode(0)\n", "if fingerprint:\n",
    "    pass\n", "x = {'a': ssl.CERT_NONE, 'b': ssl.CERT_REQUIRED}\n", "# coding: utf-7\n",
    "self.assertEqual(a, ssl.CERT_NONE)\n", "ssl = None\n", "global verify\n", "lambda: 0\n",
    "\t", " ", "(", ")", "[", "]", ":", "\n", "+AD0-", "\xff", "é",
])


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(_PIECES, max_size=12), st.sampled_from(["utf-8", "latin-1", "utf-7"]))
def test_any_text_in_any_encoding_is_findings_or_a_note(pieces, encoding):
    data = "".join(pieces).encode(encoding, "replace")
    findings, note, _ = lint_bytes(data, "fuzz.py")
    assert isinstance(findings, tuple)
    try:
        lint_source("".join(pieces))
    except InputError:
        pass
