"""Missing intermediates in a PKI certdoctor did not make: root, intermediate and leaves made
with the ``openssl`` command line (``openssl req``/``x509`` and hand-written extension files),
the leaf served alone by ``openssl s_server`` on 127.0.0.1. For a leaf without AIA, with an AIA
URL that answers 404 and with one whose port refuses the connection, certdoctor's verdict is
the real requests outcome and the code is CHAIN_INCOMPLETE; ``fix --intermediate`` with the
openssl-made intermediate is proven by the real clients."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import pytest

from certdoctor.diagnose import diagnose
from certdoctor.model import Code
from support.clients import real_requests as _real_requests
from support.pki import OPENSSL, needs_openssl
from support.servers import closed_port, http_server

pytestmark = needs_openssl

REQ_CNF = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = placeholder
[v3_root]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
"""

INTER_EXT = """\
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
"""

LEAF_EXT = """\
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
"""


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run([OPENSSL, *args], cwd=cwd, check=True, capture_output=True, timeout=30)


def _key_and_csr(d: Path, name: str, subject: str) -> None:
    _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject, "-config", "req.cnf", cwd=d)


def _sign(d: Path, name: str, ca: str, ext: str, serial: int) -> None:
    (d / f"{name}.ext").write_text(ext)
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key", "-set_serial",
             str(serial), "-days", "30", "-sha256", "-extfile", f"{name}.ext", "-out", f"{name}.pem", cwd=d)


@pytest.fixture(scope="module")
def openssl_pki(tmp_path_factory):
    """root.pem/.key, inter.pem/.key: an openssl-made root and intermediate."""
    d = tmp_path_factory.mktemp("openssl-pki")
    (d / "req.cnf").write_text(REQ_CNF)
    _openssl("req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", "root.key", "-out", "root.pem", "-subj", "/O=openssl made/CN=OpenSSL Made Root",
             "-days", "30", "-config", "req.cnf", "-extensions", "v3_root", cwd=d)
    _key_and_csr(d, "inter", "/O=openssl made/CN=OpenSSL Made Intermediate")
    _sign(d, "inter", "root", INTER_EXT, 2)
    return d


def _leaf(d: Path, name: str, aia_url: str | None, serial: int) -> None:
    ext = LEAF_EXT + (f"authorityInfoAccess = caIssuers;URI:{aia_url}\n" if aia_url else "")
    _key_and_csr(d, name, f"/O=openssl made/CN={name}.localhost")
    _sign(d, name, "inter", ext, serial)


def _free_port() -> int:
    # s_server cannot listen on port 0: take a free port from the OS, then hand it over
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _s_server(d: Path, name: str, *, chain: bool = False) -> tuple[subprocess.Popen, int]:
    """``openssl s_server`` sending ``name.pem`` (and, with ``chain``, the certificates of
    ``name.chain.pem`` after it) on a free port of 127.0.0.1; stop it with :func:`_stop`."""
    extra = ["-cert_chain", f"{name}.chain.pem"] if chain else []
    for _ in range(5):  # the port may be taken between the bind above and s_server's own
        port = _free_port()
        proc = subprocess.Popen([OPENSSL, "s_server", "-accept", f"127.0.0.1:{port}", "-cert", f"{name}.pem",
                                 "-key", f"{name}.key", *extra, "-www", "-quiet", "-naccept", "100"],
                                cwd=d, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return proc, port
            except OSError:
                time.sleep(0.05)
        _stop(proc)
    raise RuntimeError("openssl s_server did not start")


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


@pytest.mark.parametrize("case", ["no_aia", "aia_404", "aia_refused"])
def test_openssl_made_leaf_served_alone_is_chain_incomplete(openssl_pki, case, tmp_path):
    d = openssl_pki
    with http_server({}) as web:  # answers 404 for every path
        url = {"no_aia": None, "aia_404": web.url_for("/inter.der"),
               "aia_refused": f"http://127.0.0.1:{closed_port()}/inter.der"}[case]
        _leaf(d, case, url, {"no_aia": 10, "aia_404": 11, "aia_refused": 12}[case])
        proc, port = _s_server(d, case)
        try:
            target = f"https://127.0.0.1:{port}/"
            real_ok, real_err = _real_requests(target, str(d / "root.pem"))
            diag = diagnose(target, ca_file=str(d / "root.pem"), timeout=5, revocation=False)
            # the real client's verdict and certdoctor's agree, with the specific code
            assert diag.verifies is real_ok is False
            assert "unable to get local issuer certificate" in real_err
            assert diag.primary.code is Code.CHAIN_INCOMPLETE
            assert [f.code for f in diag.errors] == [Code.CHAIN_INCOMPLETE]
            f = diag.primary
            assert any(e.startswith("missing issuer: CN=OpenSSL Made Intermediate,O=openssl made (authority key "
                                    "identifier ") for e in f.evidence), f.evidence
            words = {"no_aia": "names no 'CA Issuers' URL", "aia_404": "HTTP 404", "aia_refused": "failed"}[case]
            assert any(e.startswith("AIA") and words in e for e in f.evidence), f.evidence
            if case == "aia_404":
                from certdoctor.remedies.fix import fix

                r = fix(target, tmp_path / "out", ca_file=str(d / "root.pem"), timeout=5,
                        intermediates=[str(d / "inter.pem")])
                assert r.proven is True and all(p.ok for p in r.proofs), r.proofs
                assert _real_requests(target, r.bundle) == (True, None)
        finally:
            _stop(proc)


NOT_CA_EXT = """\
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyCertSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
"""


def test_openssl_made_issuer_with_ca_false_is_refused_and_never_bundled(openssl_pki, tmp_path):
    """An 'intermediate' made with basicConstraints CA:FALSE (keyCertSign set) signs the leaf; the
    server sends both. OpenSSL refuses it (invalid CA certificate); so does certdoctor's path, and
    fix writes no bundle with it."""
    from certdoctor.remedies.fix import fix
    from certdoctor.x509.load import load_file

    d = openssl_pki
    _key_and_csr(d, "notca", "/O=openssl made/CN=OpenSSL Made Not A CA")
    _sign(d, "notca", "root", NOT_CA_EXT, 20)
    _key_and_csr(d, "under_notca", "/O=openssl made/CN=under-notca.localhost")
    _sign(d, "under_notca", "notca", LEAF_EXT, 21)
    (d / "under_notca.chain.pem").write_bytes((d / "under_notca.pem").read_bytes() + (d / "notca.pem").read_bytes())
    proc, port = _s_server(d, "under_notca", chain=True)
    try:
        target = f"https://127.0.0.1:{port}/"
        real_ok, real_err = _real_requests(target, str(d / "root.pem"))
        diag = diagnose(target, ca_file=str(d / "root.pem"), timeout=5, revocation=False)
        assert diag.verifies is real_ok is False and "invalid CA certificate" in real_err
        assert diag.primary.code is Code.CHAIN_INCOMPLETE and "not a CA" in diag.primary.summary
        assert any(e.startswith("refused as issuer: CN=OpenSSL Made Not A CA") and "CA:FALSE" in e
                   for e in diag.primary.evidence), diag.primary.evidence
        r = fix(target, tmp_path / "out", ca_file=str(d / "root.pem"), timeout=5,
                intermediates=[str(d / "notca.pem")])
        assert r.bundle is None and r.exit_code == 1
        notca = load_file(d / "notca.pem")[0]
        assert all(notca not in load_file(p) for p in (tmp_path / "out").glob("*.pem"))
    finally:
        _stop(proc)

