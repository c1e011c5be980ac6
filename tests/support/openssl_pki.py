"""A small driver of the ``openssl`` command line: PKIs certdoctor did not make (issue 9, item 13).

Every certificate is one ``openssl`` process (``x509 -new`` with ``-force_pubkey``, or ``ca``
when its dates are given exactly), with a hand-written extension file; every key is
``genpkey`` (+ ``pkey -pubout``). Nothing here goes through cryptography, so what the tests
judge is what the openssl CLI wrote. :func:`serve` runs ``openssl s_server`` on 127.0.0.1.

    pki = OpenSSLPKI(tmp)
    pki.key("root"); pki.cert("root", "/CN=Root", key="root", ext=CA)
    pki.key("leaf"); pki.cert("leaf", "/CN=leaf", key="leaf", issuer="root", ext=LEAF)
    with serve(pki, ["leaf"], key="leaf") as port: ...
"""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import subprocess
import time
from pathlib import Path

from certdoctor._der import element, tlv
from certdoctor._der import encode as der_enc  # one DER element: tag, definite length, body

from support.pki import OPENSSL


# ---------------------------------------------------------------------- editing a certificate's DER

def _elements(buf: bytes) -> list[bytes]:
    """The whole encodings (header included) of the elements in a constructed value's content."""
    out, pos = [], 0
    while pos < len(buf):
        _t, hl, length = tlv(buf, pos)
        out.append(buf[pos:pos + hl + length])
        pos += hl + length
    return out


def _content(der: bytes) -> bytes:
    return element(der)[1]


def resign(cert_der: bytes, key: Path, cwd: Path, *, validity: bytes | None = None,
           drop_key_params: bool = False) -> bytes:
    """``cert_der`` with its validity replaced, or its SPKI's algorithm parameters dropped (a DSA
    key inheriting its issuer's parameters, RFC 3279 2.3.2), signed again by ``key`` with
    ``openssl dgst -sha256 -sign`` (the signature algorithm is kept). ``cwd`` holds the scratch
    files."""
    tbs, sig_alg, _sig = _elements(_content(cert_der))
    fields = _elements(_content(tbs))
    i = 1 if fields[0][0] == 0xA0 else 0
    if validity is not None:
        fields[i + 3] = validity
    if drop_key_params:
        alg, bits = _elements(_content(fields[i + 5]))
        fields[i + 5] = der_enc(0x30, der_enc(0x30, _elements(_content(alg))[0]) + bits)
    new_tbs = der_enc(0x30, b"".join(fields))
    (cwd / "tbs.der").write_bytes(new_tbs)
    subprocess.run([OPENSSL, "dgst", "-sha256", "-sign", str(key), "-out", "tbs.sig", "tbs.der"], cwd=cwd,
                   capture_output=True, check=True, timeout=60)
    return der_enc(0x30, new_tbs + sig_alg + der_enc(0x03, b"\x00" + (cwd / "tbs.sig").read_bytes()))

CA_CNF = """\
[ca]
default_ca = corpus
[corpus]
database = index.txt
new_certs_dir = issued
serial = serial.txt
policy = anything
unique_subject = no
email_in_dn = no
copy_extensions = none
default_md = sha256
[anything]
countryName = optional
organizationName = optional
organizationalUnitName = optional
commonName = optional
[req]
distinguished_name = dn
prompt = no
[dn]
CN = corpus request
"""

#: genpkey arguments per key algorithm
KEY_ALGS = {
    "ec": ["-algorithm", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
    "rsa1024": ["-algorithm", "rsa", "-pkeyopt", "rsa_keygen_bits:1024"],
    "rsa2048": ["-algorithm", "rsa", "-pkeyopt", "rsa_keygen_bits:2048"],
    "ed25519": ["-algorithm", "ed25519"],
}


def asn1_time(when: dt.datetime) -> str:
    """``when`` as the YYMMDDHHMMSSZ that ``openssl ca -startdate/-enddate`` takes."""
    return when.astimezone(dt.timezone.utc).strftime("%y%m%d%H%M%SZ")


class OpenSSLPKI:
    """Keys and certificates under one directory, each made by one ``openssl`` process."""

    def __init__(self, root: Path):
        self.dir = Path(root)
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "issued").mkdir(exist_ok=True)
        (self.dir / "index.txt").write_text("")
        (self.dir / "serial.txt").write_text("1000\n")
        (self.dir / "ca.cnf").write_text(CA_CNF)
        self.processes = 0
        self.seconds = 0.0
        self.cert_key: dict[str, str] = {}  # certificate name -> the name of its key
        self._serial = 1

    # ------------------------------------------------------------------ running openssl
    def run(self, *args: str) -> bytes:
        start = time.monotonic()
        try:
            out = subprocess.run([OPENSSL, *args], cwd=self.dir, capture_output=True, timeout=60)
        finally:
            self.processes += 1
            self.seconds += time.monotonic() - start
        if out.returncode:
            raise RuntimeError(f"openssl {' '.join(args)} failed: {out.stderr.decode(errors='replace')}")
        return out.stdout

    def path(self, name: str, suffix: str = "pem") -> Path:
        return self.dir / f"{name}.{suffix}"

    # ------------------------------------------------------------------ keys
    def key(self, name: str, alg: str = "ec") -> Path:
        """A private key ``name.key`` and its public key ``name.pub``. ``alg``: a :data:`KEY_ALGS`
        name, or ``dsa`` (parameters in ``dsa.param``, made once)."""
        if alg == "dsa":
            if not (self.dir / "dsa.param").exists():
                self.run("genpkey", "-genparam", "-algorithm", "DSA", "-pkeyopt", "dsa_paramgen_bits:2048",
                         "-out", "dsa.param")
            args = ["-paramfile", "dsa.param"]
        else:
            args = KEY_ALGS[alg]
        self.run("genpkey", *args, "-out", f"{name}.key")
        self.run("pkey", "-in", f"{name}.key", "-pubout", "-out", f"{name}.pub")
        return self.dir / f"{name}.key"

    def _csr(self, key: str) -> str:
        csr = f"{key}.csr"
        if not (self.dir / csr).exists():
            self.run("req", "-new", "-config", "ca.cnf", "-key", f"{key}.key", "-out", csr)
        return csr

    # ------------------------------------------------------------------ certificates
    def cert(self, name: str, subject: str, *, key: str, issuer: str | None = None, ext: str | None = None,
             days: int = 30, serial: str | None = None, md: str = "sha256", signing_key: str | None = None,
             not_before: dt.datetime | None = None, not_after: dt.datetime | None = None) -> Path:
        """``name.pem``: ``subject`` (``/CN=…/O=…``) with ``key``'s public key, issued by the
        certificate ``issuer`` (self-signed when None) and signed with its key (or with
        ``signing_key``: a forgery), extensions from ``ext`` (the text of an extension file: its
        unnamed section is used; sections it names follow it). No ``ext``: an X.509 v1
        certificate. ``not_before``/``not_after`` exactly: ``openssl ca``; else ``x509 -new``."""
        out = f"{name}.pem"
        extargs: list[str] = []
        if ext is not None:
            (self.dir / f"{name}.ext").write_text(ext)
            extargs = ["-extfile", f"{name}.ext"]
        if serial is None:
            self._serial += 1
            serial = str(self._serial)
        if not_before is not None or not_after is not None:
            assert issuer is not None, "exact dates: only for issued certificates"
            start = asn1_time(not_before or dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1))
            end = asn1_time(not_after or dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=days))
            self.run("ca", "-config", "ca.cnf", "-batch", "-notext", "-preserveDN", "-in", self._csr(key),
                     "-subj", subject, "-cert", f"{issuer}.pem", "-keyfile", f"{signing_key or self.cert_key[issuer]}.key",
                     "-startdate", start, "-enddate", end, "-md", md, *extargs, "-out", out)
        elif issuer is None:
            self.run("x509", "-new", "-subj", subject, "-key", f"{key}.key", "-days", str(days), "-set_serial", serial,
                     f"-{md}", *extargs, "-out", out)
        else:
            self.run("x509", "-new", "-subj", subject, "-force_pubkey", f"{key}.pub", "-CA", f"{issuer}.pem",
                     "-CAkey", f"{signing_key or self.cert_key[issuer]}.key", "-days", str(days), "-set_serial", serial,
                     f"-{md}", *extargs, "-out", out)
        self.cert_key[name] = key
        return self.dir / out

    def drop_key_params(self, name: str, *, signer: str) -> Path:
        """``name.pem`` again with its key's algorithm parameters left out (a DSA key inheriting
        its issuer's parameters, RFC 3279 2.3.2), signed anew with ``signer``'s key by
        ``openssl dgst -sha256 -sign`` (the signature algorithm is kept)."""
        der = self.run("x509", "-in", f"{name}.pem", "-outform", "DER")
        new = resign(der, self.dir / f"{self.cert_key[signer]}.key", self.dir, drop_key_params=True)
        (self.dir / f"{name}.der").write_bytes(new)
        self.run("x509", "-inform", "DER", "-in", f"{name}.der", "-out", f"{name}.pem")
        return self.dir / f"{name}.pem"

    def bundle(self, name: str, certs: list[str]) -> Path:
        """``name.pem``: the PEM certificates ``certs`` concatenated in that order."""
        path = self.dir / f"{name}.pem"
        path.write_bytes(b"".join(self.path(c).read_bytes() for c in certs))
        return path


# ---------------------------------------------------------------------- serving

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(pki: OpenSSLPKI, certs: list[str], *, key: str, seclevel: int = 0):
    """``openssl s_server`` on 127.0.0.1 (a free port, yielded) presenting ``certs`` (the leaf
    first, then ``-cert_chain`` in that order) with the private key ``key``; ``-www`` answers a
    GET. ``seclevel`` 0 so that weak certificates can be served to a client that refuses them.
    Stopped in ``finally``."""
    chain = ["-cert_chain", str(pki.bundle(f"served-{'-'.join(certs)}", certs[1:]))] if certs[1:] else []
    port = free_port()
    proc = subprocess.Popen([OPENSSL, "s_server", "-accept", f"127.0.0.1:{port}", "-cert", str(pki.path(certs[0])),
                             "-key", str(pki.dir / f"{key}.key"), *chain, "-cipher", f"DEFAULT@SECLEVEL={seclevel}",
                             "-www", "-quiet", "-no_dhe"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    err = proc.stderr.read().decode(errors="replace") if proc.poll() is not None else ""
                    raise RuntimeError(f"openssl s_server did not start for {certs}: {err}") from None
                time.sleep(0.03)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()
