"""Certificates certdoctor did not make (issue 9, item 4): the `openssl` command line writes
extensions cryptography refuses or that hold unusual SAN forms, `openssl s_server` serves them on
127.0.0.1, and for each one certdoctor's findings are checked and its verdict must equal the
real requests outcome (run here directly, besides certdoctor's own run).

    empty EKU (DER:30:00)        OpenSSL: 'unsuitable certificate purpose'   WRONG_EKU eku_empty
    malformed AIA                OpenSSL ignores it: connects                no finding at all
    CA:FALSE written out         OpenSSL reads it: connects                  no finding at all
    DirName-only SAN             'Hostname mismatch' (requests)              NO_SAN san_without_dns
    IP network (8-byte) SAN      'IP address mismatch'                       HOSTNAME_MISMATCH ip_not_in_san
    malformed SAN                refused                                     NO_SAN san_unparsed
    otherName, RID, email, URI   beside the DNS name: connects               no finding at all

None of them may get "no subjectAltName" or "Missing Authority Key Identifier", and none may
crash certdoctor. An intermediate with a malformed AIA must not get Python 3.13's strict rules
("Missing Subject Key Identifier", "CA cert does not include key usage extension", …) either.
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

from certdoctor.diagnose import diagnose
from certdoctor.model import Code
from certdoctor.net.resolve import override

from support.pki import OPENSSL, needs_openssl

pytestmark = needs_openssl

NAME = "leaf.i9.test"

CA_CNF = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = I9 OpenSSL Root
O = certdoctor openssl tests
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
"""

LEAF_CNF = f"""\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = {NAME}
[base]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[empty_eku]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:{NAME},IP:127.0.0.1
extendedKeyUsage = DER:30:00
[bad_aia]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
extendedKeyUsage = serverAuth
subjectAltName = DNS:{NAME},IP:127.0.0.1
authorityInfoAccess = DER:30:03:02:01:05
[dirname]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
extendedKeyUsage = serverAuth
subjectAltName = dirName:dir_sect
[dir_sect]
CN = {NAME}
O = Directory Org
[ip_network]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
extendedKeyUsage = serverAuth
# iPAddress 127.0.0.0 / 255.0.0.0 (8 bytes: a network, not an address), then DNS:ab
subjectAltName = DER:30:0e:87:08:7f:00:00:00:ff:00:00:00:82:02:61:62
[bad_san]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
extendedKeyUsage = serverAuth
subjectAltName = DER:30:03:02:01:05
[bc_explicit_false]
# CA:FALSE written out although it is the DEFAULT (not DER): cryptography refuses, OpenSSL reads it
basicConstraints = DER:30:03:01:01:00
keyUsage = critical,digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
extendedKeyUsage = serverAuth
subjectAltName = DNS:{NAME},IP:127.0.0.1
[other_forms]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
extendedKeyUsage = serverAuth
subjectAltName = DNS:{NAME},IP:127.0.0.1,otherName:1.2.3.4;UTF8:hello,RID:1.2.3.4,email:ops@i9.test,URI:https://i9.test/
"""

#: section -> (host to connect to, expected (code, rule) pairs; [] = no finding of these codes)
CASES = {
    "empty_eku": (NAME, [(Code.WRONG_EKU, "eku_empty")]),
    "bad_aia": (NAME, []),
    "dirname": (NAME, [(Code.NO_SAN, "san_without_dns")]),
    "ip_network": ("127.0.0.1", [(Code.HOSTNAME_MISMATCH, "ip_not_in_san")]),
    "bad_san": (NAME, [(Code.NO_SAN, "san_unparsed")]),
    "bc_explicit_false": (NAME, []),
    "other_forms": (NAME, []),
}
JUDGED = (Code.NO_SAN, Code.HOSTNAME_MISMATCH, Code.WRONG_EKU, Code.STRICT_X509)


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run([OPENSSL, *args], cwd=cwd, capture_output=True, check=True, timeout=60)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A root and one leaf per section of LEAF_CNF, all made by the openssl command line."""
    d = tmp_path_factory.mktemp("openssl-ext")
    (d / "ca.cnf").write_text(CA_CNF)
    (d / "leaf.cnf").write_text(LEAF_CNF)
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "root.key",
             "-out", "root.pem", "-config", "ca.cnf", "-extensions", "v3_ca", "-days", "3650", cwd=d)
    _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "leaf.key",
             "-out", "leaf.csr", "-config", "leaf.cnf", cwd=d)
    for i, section in enumerate(CASES, start=1):
        _openssl("x509", "-req", "-in", "leaf.csr", "-CA", "root.pem", "-CAkey", "root.key", "-set_serial", str(i),
                 "-days", "200", "-extfile", "leaf.cnf", "-extensions", section, "-out", f"{section}.pem", cwd=d)
    return d


INTER_CNF = """\
[v3_inter]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
authorityInfoAccess = DER:30:03:02:01:05
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(pki: Path, section: str, *, key: str = "leaf.key", chain: str | None = None) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    extra = ["-cert_chain", str(pki / chain)] if chain else []
    proc = subprocess.Popen([OPENSSL, "s_server", "-accept", f"127.0.0.1:{port}", "-cert", str(pki / f"{section}.pem"),
                             "-key", str(pki / key), *extra, "-www", "-quiet"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc, port
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.05)
    proc.kill()
    proc.wait()
    raise AssertionError(f"openssl s_server did not start for {section}")


def _requests_outcome(url: str, ca: Path) -> tuple[bool, str]:
    try:
        requests.get(url, verify=str(ca), timeout=10)
    except requests.exceptions.SSLError as exc:
        return False, str(exc)
    return True, ""


@pytest.mark.parametrize("section", list(CASES))
def test_openssl_made_extensions(pki, section):
    host, expected = CASES[section]
    proc, port = _serve(pki, section)
    try:
        url = f"https://{host}:{port}/"
        with override({NAME: "127.0.0.1"}):
            ok, error = _requests_outcome(url, pki / "root.pem")
            d = diagnose(url, ca_file=str(pki / "root.pem"), aia=False, revocation=False, timeout=10)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    judged = [(f.code, f.rule) for f in d.findings if f.code in JUDGED and f.severity.value == "error"]
    assert judged == expected, [(f.code, f.rule, f.summary) for f in d.findings]
    for f in d.findings:  # the false statements of the issue, whatever else is said
        assert f.rule != "missing_aki", f.summary
        assert "no subjectAltName" not in f.summary, f.summary
        assert not any(e == "subjectAltName: absent" for e in f.evidence)
    # certdoctor's verdict is the real client's, and it explains a refusal with a finding of its own
    assert d.verifies is ok, (d.outcome, error)
    explained = [f for f in d.errors if f.code is not Code.VERDICT_UNCONFIRMED]
    assert bool(explained) is not ok, [(f.code, f.summary) for f in d.findings]
    if not ok:
        assert d.primary is not None and d.primary.code is expected[0][0], [(f.code, f.summary) for f in d.findings]


def test_dirname_san_is_only_a_warning_where_the_cn_still_counts(pki):
    """httpx (the stdlib's default context) falls back to the CN when the SAN has no DNS entry:
    OpenSSL agrees, the real httpx connects, and certdoctor says so."""
    pytest.importorskip("httpx")
    proc, port = _serve(pki, "dirname")
    try:
        with override({NAME: "127.0.0.1"}):
            d = diagnose(f"https://{NAME}:{port}/", client="httpx", ca_file=str(pki / "root.pem"), aia=False,
                         revocation=False, timeout=10)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    (f,) = [f for f in d.findings if f.code is Code.NO_SAN]
    assert f.rule == "san_without_dns" and f.severity.value == "warning"
    assert "DirName:O=Directory Org,CN=leaf.i9.test" in f.summary
    assert d.verifies is True and not d.errors


def test_an_intermediate_with_a_malformed_aia_breaks_no_strict_rule(pki):
    """root -> intermediate (RFC 5280 extensions, plus an AIA cryptography cannot parse) -> leaf,
    judged as Python 3.13 (VERIFY_X509_STRICT): the real client connects, certdoctor agrees."""
    (pki / "inter.cnf").write_text(CA_CNF.replace("I9 OpenSSL Root", "I9 OpenSSL Intermediate") + INTER_CNF)
    _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "inter.key",
             "-out", "inter.csr", "-config", "inter.cnf", cwd=pki)
    _openssl("x509", "-req", "-in", "inter.csr", "-CA", "root.pem", "-CAkey", "root.key", "-set_serial", "100",
             "-days", "1000", "-extfile", "inter.cnf", "-extensions", "v3_inter", "-out", "inter.pem", cwd=pki)
    _openssl("x509", "-req", "-in", "leaf.csr", "-CA", "inter.pem", "-CAkey", "inter.key", "-set_serial", "101",
             "-days", "200", "-extfile", "leaf.cnf", "-extensions", "other_forms", "-out", "via_inter.pem", cwd=pki)
    proc, port = _serve(pki, "via_inter", chain="inter.pem")
    try:
        url = f"https://{NAME}:{port}/"
        with override({NAME: "127.0.0.1"}):
            ok, error = _requests_outcome(url, pki / "root.pem")
            d = diagnose(url, ca_file=str(pki / "root.pem"), python="3.13", aia=False, revocation=False, timeout=10)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert ok, error
    assert d.chain is not None and d.chain.certs[1].unparsed_extensions == ("authorityInfoAccess",)
    assert d.chain.certs[1].ski and d.chain.certs[1].key_usage == ("key_cert_sign", "crl_sign")
    assert [f for f in d.findings if f.code is Code.STRICT_X509] == []
    assert d.verifies is True and not d.errors, [(f.code, f.summary) for f in d.findings]
