"""Bytes and files to certificates: PEM, DER, PKCS#7 and PKCS#12, told apart by content.

The file name is never used to decide the format: a ``.crt`` is PEM as often as DER, and a
``.cer`` exported from Windows can be either. What does not hold a certificate is named in
the error (a private key, a CSR, a CRL, an HTML page, a truncated DER file…) so that the user
knows what they actually have. A certificate OpenSSL reads is never called damaged: where
cryptography cannot load one (a DSA key with parameters inherited from the issuer, a validity
time not in RFC 5280's DER form), :func:`unsupported_part` names that part and what still works.

    >>> from certdoctor.x509.load import load_file, load_bundle
    >>> certs = load_file("chain.pem")                               # doctest: +SKIP
    >>> loaded = load_bundle(open("id.p12", "rb").read(), password="s3cret")  # doctest: +SKIP
    >>> loaded.format, len(loaded.certificates), loaded.private_key is not None  # doctest: +SKIP
    ('pkcs12', 3, True)

Every failure is an :class:`~certdoctor.errors.InputError` (a
:class:`~certdoctor.errors.PasswordError` for PKCS#12 passwords) whose message starts with the
file's name; no other exception escapes :func:`load_bundle`.

Bounds: input larger than :data:`MAX_INPUT_BYTES` is refused before it is read, at most
:data:`MAX_PEM_BLOCKS` PEM blocks are read, and a PKCS#12 file whose key derivation asks for
more than :data:`MAX_PKCS12_ITERATIONS` rounds is refused before any derivation starts.
"""

from __future__ import annotations


import base64
import binascii
import os
import re
import stat
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from certdoctor import policy
from certdoctor._der import DerError as _DerError  # the one DER reader; private names kept here
from certdoctor._der import children as _children
from certdoctor._der import tlv as _tlv
from certdoctor.errors import InputError, PasswordError
from certdoctor.x509.pem import CERT_LABELS, pem_blocks

if TYPE_CHECKING:  # pragma: no cover
    from certdoctor.net.target import Source
    from cryptography import x509

#: Largest input accepted (20 MiB). The biggest real CA bundles are well under 1 MiB.
MAX_INPUT_BYTES = policy.MAX_INPUT_BYTES
#: Most PEM blocks read from one input. certifi's bundle has about 150.
MAX_PEM_BLOCKS = policy.MAX_PEM_BLOCKS
#: Most PBKDF/MAC rounds accepted in a PKCS#12 file (OpenSSL uses 2,048; OWASP suggests 600,000).
MAX_PKCS12_ITERATIONS = 5_000_000

#: ``LoadedFile.format`` values.
FORMATS = ("pem", "der", "pkcs7-pem", "pkcs7-der", "pkcs12")

# public key algorithms cryptography reads: a failure with one of these is damage, not novelty
_KNOWN_KEY_OIDS = {
    "1.2.840.113549.1.1.1",  # rsaEncryption
    "1.2.840.113549.1.1.10",  # RSASSA-PSS
    "1.2.840.10045.2.1",  # id-ecPublicKey
    "1.2.840.10040.4.1",  # DSA
    "1.3.101.112",  # Ed25519
    "1.3.101.113",  # Ed448
    "1.3.101.110",  # X25519
    "1.3.101.111",  # X448
}
_CERT_LABELS = {*CERT_LABELS, "X.509 CERTIFICATE"}
_PKCS7_LABELS = {"PKCS7", "PKCS #7 SIGNED DATA", "CMS"}
# PEM labels that hold something other than a certificate, and what to call it
_OTHER_LABELS = {
    "PRIVATE KEY": "a private key (PKCS#8)",
    "ENCRYPTED PRIVATE KEY": "an encrypted private key (PKCS#8)",
    "RSA PRIVATE KEY": "an RSA private key",
    "EC PRIVATE KEY": "an EC private key",
    "DSA PRIVATE KEY": "a DSA private key",
    "OPENSSH PRIVATE KEY": "an OpenSSH private key",
    "PUBLIC KEY": "a public key",
    "RSA PUBLIC KEY": "an RSA public key",
    "CERTIFICATE REQUEST": "a certificate signing request (CSR)",
    "NEW CERTIFICATE REQUEST": "a certificate signing request (CSR)",
    "X509 CRL": "a certificate revocation list (CRL)",
    "EC PARAMETERS": "EC parameters",
    "DH PARAMETERS": "DH parameters",
    "PGP PUBLIC KEY BLOCK": "a PGP public key",
    "PGP SIGNATURE": "a PGP signature",
}
_HINT_CERT = "Give a certificate: PEM, DER, PKCS#7 (.p7b) or PKCS#12 (.p12/.pfx)."

_WS = re.compile(rb"[ \t\r\n\v\f]+")
_OID_PKCS7_SIGNED = bytes.fromhex("2a864886f70d010702")  # 1.2.840.113549.1.7.2
_OID_PKCS7_DATA = bytes.fromhex("2a864886f70d010701")  # 1.2.840.113549.1.7.1


@dataclass(frozen=True, slots=True)
class LoadedFile:
    """What one input held.

    ``private_key`` is set only for PKCS#12 input that holds a key (PEM key blocks are skipped
    and named in ``notes``). ``format`` is one of :data:`FORMATS`. ``notes`` are things the
    user may want to know, such as skipped PEM blocks or ignored trailing bytes.
    """

    certificates: tuple["x509.Certificate", ...]
    private_key: Any
    format: str
    source: str
    notes: tuple[str, ...] = ()


# --------------------------------------------------------------------------- public API

def load_certificates(
    data: bytes, *, password: bytes | str | None = None, source: str = "<bytes>"
) -> tuple["x509.Certificate", ...]:
    """Every certificate in ``data`` (PEM, DER, PKCS#7 or PKCS#12), in the order stored.

    Raises :class:`InputError` (naming ``source``) when there is none, saying what the input
    is instead, and :class:`PasswordError` for a missing or wrong PKCS#12 password.
    """
    return load_bundle(data, password=password, source=source).certificates


def load_file(path: str | os.PathLike[str], *, password: bytes | str | None = None) -> tuple["x509.Certificate", ...]:
    """:func:`load_certificates` on a file; too-large files are refused before reading."""
    return load_bundle_file(path, password=password).certificates


def load_bundle_file(path: str | os.PathLike[str], *, password: bytes | str | None = None) -> LoadedFile:
    """:func:`load_bundle` on a file (certificates, and the private key of a PKCS#12 file)."""
    return load_bundle(read_input(path), password=password, source=str(path))


def read_input(path: str | os.PathLike[str]) -> bytes:
    """The bytes of ``path``, refusing more than :data:`MAX_INPUT_BYTES` before reading them."""
    source = str(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise InputError(f"{source}: no such file", "Check the path.") from None
    except OSError as exc:
        raise InputError(f"{source}: cannot read: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"{source}: is a directory, not a file", "Give the path of a certificate file.")
    if stat.S_ISREG(st.st_mode) and st.st_size > MAX_INPUT_BYTES:
        raise _too_large(source, st.st_size)
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_INPUT_BYTES + 1)  # bounded for pipes and devices too
    except OSError as exc:
        raise InputError(f"{source}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_INPUT_BYTES:
        raise _too_large(source, None)
    return data


def load_bundle(data: bytes, *, password: bytes | str | None = None, source: str = "<bytes>") -> LoadedFile:
    """Certificates (and a PKCS#12 private key) from ``data``; see :class:`LoadedFile`."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"load_bundle() needs bytes, not {type(data).__name__}")
    data = bytes(data)
    if len(data) > MAX_INPUT_BYTES:
        raise _too_large(source, len(data))
    pw = password.encode("utf-8") if isinstance(password, str) else password
    try:
        return _vet(_load(data, pw, source))
    except InputError:
        raise
    except Exception as exc:  # a parser bug must never reach the user as a traceback
        raise InputError(
            f"{source}: cannot be read as a certificate ({type(exc).__name__}: {_friendly(exc)})",
            _HINT_CERT,
        ) from exc


# --------------------------------------------------------------------------- detection

def _load(data: bytes, pw: bytes | None, source: str) -> LoadedFile:
    if data.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte order mark, as Notepad writes
        data = data[3:]
    if not data.strip(b" \t\r\n\v\f\x00"):
        what = "empty file" if not data else "only whitespace"
        raise InputError(f"{source}: {what}: no certificate in it", _HINT_CERT)
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        # PEM saved as UTF-16 by Windows editors / PowerShell's `>` redirection
        try:
            text = data.decode("utf-16").encode("ascii")
        except (UnicodeError, ValueError):
            text = None
        if text is not None and b"-----BEGIN " in text:
            loaded = _load_pem(text, pw, source)
            return _with_note(loaded, "the file is UTF-16 text; it was read as ASCII")
    if data.lstrip()[:1] in (b"{", b"["):
        _refuse_json(data, source)
    if b"-----BEGIN " in data:
        return _load_pem(data, pw, source)
    if data[0] == 0x30:
        return _load_der(data, pw, source)
    raise InputError(f"{source}: {_describe_other(data)}", _hint_other(data))


def _refuse_json(data: bytes, source: str) -> None:
    """JSON (an API response, a secret store's export) is named, with the key holding a PEM if any."""
    import json

    try:
        doc = json.loads(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return
    found: list[str] = []

    def walk(node: Any, where: str, depth: int) -> None:
        if depth > 32 or len(found) >= 3:
            return
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{where}.{k}", depth + 1)
        elif isinstance(node, list):
            for i, v in enumerate(node[:1000]):
                walk(v, f"{where}[{i}]", depth + 1)
        elif isinstance(node, str) and "-----BEGIN " in node:
            found.append(where or ".")

    walk(doc, "", 0)
    if found:
        raise InputError(f"{source}: JSON, not a certificate; it holds PEM text at {', '.join(found)}",
                         f"Extract it first, e.g. `jq -r '{found[0]}' {source} > cert.pem`.")
    raise InputError(f"{source}: JSON, not a certificate",
                     "Was this an API response? Save the certificate itself (PEM or DER) to a file.")


def _vet(loaded: LoadedFile) -> LoadedFile:
    """Parse what cryptography parses lazily, so that damage is found here and not in a renderer.

    A damaged name or key is an error. A key algorithm cryptography does not know (GOST, a
    post-quantum one) is skipped with a note when other certificates remain.
    """
    from cryptography.exceptions import UnsupportedAlgorithm

    keep = []
    notes = list(loaded.notes)
    n = len(loaded.certificates)
    for i, cert in enumerate(loaded.certificates, 1):
        where = f"{loaded.source}: certificate {i}" + (f" of {n}" if n > 1 else "")
        try:
            cert.subject.rfc4514_string()
            cert.issuer.rfc4514_string()
        except Exception as exc:
            raise InputError(f"{where} is damaged: its subject or issuer name does not parse ({_friendly(exc)})",
                             "The certificate was corrupted; get it again.") from None
        try:
            cert.public_key()
        except Exception as exc:
            try:
                oid = cert.public_key_algorithm_oid.dotted_string
            except Exception:
                oid = "unknown"
            # cryptography 46 raises ValueError("Unknown key type"), 48 UnsupportedAlgorithm
            if isinstance(exc, UnsupportedAlgorithm) or oid not in _KNOWN_KEY_OIDS:
                notes.append(f"certificate {i} skipped: its public key algorithm ({oid}) is not supported")
                continue
            raise InputError(f"{where} is damaged: its public key does not parse ({_friendly(exc)})",
                             "The certificate was corrupted; get it again.") from None
        keep.append(cert)
    if not keep:
        what = "the certificate's" if n == 1 else f"every one of the {n} certificates'"
        raise InputError(f"{loaded.source}: {what} public key algorithm is not supported ({oid})",
                         "certdoctor reads RSA, EC, Ed25519, Ed448 and DSA keys.")
    if len(keep) == n:
        return loaded
    return LoadedFile(tuple(keep), loaded.private_key, loaded.format, loaded.source, tuple(notes))


def _with_note(loaded: LoadedFile, note: str) -> LoadedFile:
    return LoadedFile(loaded.certificates, loaded.private_key, loaded.format, loaded.source, (note, *loaded.notes))


def _too_large(source: str, size: int | None) -> InputError:
    limit = MAX_INPUT_BYTES // (1024 * 1024)
    got = f"{size / (1024 * 1024):.1f} MiB" if size is not None else f"more than {limit} MiB"
    return InputError(
        f"{source}: {got} is too large; certdoctor reads at most {limit} MiB",
        "Certificate files are a few KiB and CA bundles under 1 MiB: is this the right file?",
    )


# --------------------------------------------------------------------------- PEM

def _load_pem(data: bytes, pw: bytes | None, source: str) -> LoadedFile:
    certs: list[Any] = []
    notes: list[str] = []
    others: list[tuple[int, str]] = []  # (block number, label) of non-certificate blocks
    kinds: set[str] = set()
    number = 0
    for block in pem_blocks(data):
        number = block.number
        if number > MAX_PEM_BLOCKS:
            raise InputError(
                f"{source}: more than {MAX_PEM_BLOCKS:,} PEM blocks; certdoctor reads at most {MAX_PEM_BLOCKS:,}",
                "Split the file, or check that it is really a certificate bundle.",
            )
        label = block.label
        if block.end is None:
            _unterminated(source, number, label, notes)
            continue
        if block.end.strip() != label:
            raise InputError(
                f"{source}: PEM block {number} starts with BEGIN {label} but ends with END {block.end.strip()}",
                "The file was edited or concatenated badly; fix the BEGIN/END lines.",
            )
        kind = _pem_block(source, number, label, block.body, certs, notes)
        if kind is None:
            others.append((number, label))
        else:
            kinds.add(kind)
    if not certs:
        if others:
            n, label = others[0]
            what = _OTHER_LABELS.get(label, f"a PEM block of type {label!r}")
            more = "" if len(others) == 1 else f" (and {len(others) - 1} other non-certificate PEM block(s))"
            raise InputError(
                f"{source}: holds {what}{more}, not a certificate",
                _hint_for_label(label),
            )
        if kinds:
            raise InputError(f"{source}: the PKCS#7 block holds no certificate", _HINT_CERT)
        if number:
            raise InputError(f"{source}: the PEM block(s) hold no certificate", _HINT_CERT)
        # "-----BEGIN " without a well-formed marker line
        raise InputError(f"{source}: has a '-----BEGIN ' line but no valid PEM block", _HINT_CERT)
    for n, label in others:
        notes.append(f"skipped PEM block {n} ({label}): {_OTHER_LABELS.get(label, 'not a certificate')}")
    fmt = "pkcs7-pem" if kinds == {"pkcs7"} else "pem"
    return LoadedFile(tuple(certs), None, fmt, source, tuple(notes))


def _unterminated(source: str, number: int, label: str, notes: list[str]) -> None:
    if label in _CERT_LABELS or label in _PKCS7_LABELS:
        raise InputError(
            f"{source}: PEM block {number} (BEGIN {label}) has no END {label} line",
            "The file is truncated or was cut while copying; copy the whole block.",
        )
    notes.append(f"PEM block {number} (BEGIN {label}) has no END line; skipped")


def _pem_block(source: str, number: int, label: str, body: bytes, certs: list, notes: list[str]) -> str | None:
    """Decode one PEM block into ``certs``; return "cert"/"pkcs7", or None if not a certificate."""
    if label not in _CERT_LABELS and label not in _PKCS7_LABELS:
        return None
    where = f"{source}: PEM block {number} ({label})"
    if b":" in body:  # RFC 1421 headers ("Proc-Type: …") are not used for certificates
        raise InputError(f"{where} has header lines; a certificate block holds only base64",
                         "Remove the lines with ':' inside the block.")
    compact = _WS.sub(b"", body)
    if not compact:
        raise InputError(f"{where} is empty", "The block has no base64 content; copy the whole certificate.")
    try:
        der = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        bad = re.search(rb"[^A-Za-z0-9+/=]", compact)
        why = f"invalid character {bad.group(0)!r}" if bad else "wrong length or padding (truncated?)"
        raise InputError(f"{where} does not decode: not valid base64 ({why})",
                         "The block was damaged while copying; copy it again.") from None
    if label in _PKCS7_LABELS:
        found = _pkcs7_der(der, where)
        certs.extend(found)
        return "pkcs7"
    trusted = label == "TRUSTED CERTIFICATE"
    certs.append(_cert_der(der, where, trailing_ok=trusted))
    return "cert"


# --------------------------------------------------------------------------- DER

def _truncation(der: bytes, what: str) -> str | None:
    """A 'truncated DER' sentence when the outer SEQUENCE needs more bytes than there are."""
    try:
        _tag, hl, length = _tlv(der)
    except _DerError as exc:
        if str(exc).startswith("truncated"):
            return f"truncated DER: the {what} ends inside the first element's header ({len(der)} bytes)"
        return None
    if length is None:
        return None
    total = hl + length
    if total > len(der):
        return (f"truncated DER: the SEQUENCE declares {total:,} bytes, the {what} has {len(der):,} "
                f"(it stops at byte {len(der):,})")
    return None


def _cert_der(der: bytes, where: str, *, trailing_ok: bool = False) -> Any:
    from cryptography import x509

    cut = _truncation(der, "block" if "PEM block" in where else "file")
    if cut:
        raise InputError(f"{where}: {cut}", "The certificate was cut off; copy or download it again.")
    if trailing_ok:  # TRUSTED CERTIFICATE: the certificate, then OpenSSL's trust settings
        try:
            _, hl, length = _tlv(der)
            if length is not None:
                der = der[:hl + length]
        except _DerError:
            pass
    try:
        return x509.load_der_x509_certificate(der)
    except Exception as exc:
        part = unsupported_part(der)
        if part is not None:  # OpenSSL reads it: say what certdoctor cannot handle, never "damaged"
            raise InputError(f"{where}: {part[0]}", part[1]) from None
        raise InputError(f"{where} is not a valid X.509 certificate: {_friendly(exc)}",
                         "The certificate is damaged or not a certificate.") from None


def _pkcs7_der(der: bytes, where: str) -> list:
    from cryptography.hazmat.primitives.serialization import pkcs7

    cut = _truncation(der, "block" if "PEM block" in where else "file")
    if cut:
        raise InputError(f"{where}: {cut}", "The PKCS#7 file was cut off; copy or download it again.")
    import warnings

    try:
        with warnings.catch_warnings():
            # OpenSSL writes the certificate SET unsorted (BER, not DER); cryptography warns and reads it
            warnings.simplefilter("ignore", UserWarning)
            return list(pkcs7.load_der_pkcs7_certificates(der))
    except Exception as exc:
        raise InputError(f"{where} is not a valid PKCS#7 certificate bundle: {_friendly(exc)}",
                         "Re-export it, e.g. `openssl crl2pkcs7 -nocrl -certfile chain.pem -out chain.p7b`.") from None


def _load_der(data: bytes, pw: bytes | None, source: str) -> LoadedFile:
    try:
        _tag, hl, length = _tlv(data)
    except _DerError:
        raise InputError(f"{source}: {_describe_other(data)}", _hint_other(data)) from None
    if length is None:
        # BER indefinite length: PKCS#12 and PKCS#7 from Java or Windows can look like this
        element, rest = data, b""
    else:
        total = hl + length
        if total > len(data):
            # a PFX can be cut too, but it is just as "truncated" to the user
            raise InputError(f"{source}: {_truncation(data, 'file')}",
                             "The file was cut off (interrupted download or copy); get it again.")
        element, rest = data[:total], data[total:]
    kids = _children(element[hl:], limit=3)  # indefinite length: _children stops at the end-of-contents
    first_tag = kids[0][0] if kids else None

    # PKCS#7 SignedData: SEQUENCE { OID 1.2.840.113549.1.7.2, [0] … }
    if first_tag == 0x06 and kids[0][1] == _OID_PKCS7_SIGNED:
        certs = _pkcs7_der(element, source)
        if not certs:
            raise InputError(f"{source}: the PKCS#7 file holds no certificate", _HINT_CERT)
        return LoadedFile(tuple(certs), None, "pkcs7-der", source, _trailing_note(rest))
    # PKCS#12 PFX: SEQUENCE { INTEGER 3, ContentInfo { OID data | signedData, … }, MacData? }
    if (first_tag == 0x02 and kids[0][1] == b"\x03" and len(kids) >= 2 and kids[1][0] == 0x30) or (
        length is None and data[hl:hl + 3] == b"\x02\x01\x03"
    ):
        return _load_pkcs12(data if length is None else element, pw, source, rest)

    # a certificate, or several concatenated (cat a.der b.der)
    from cryptography import x509

    try:
        cert = x509.load_der_x509_certificate(element)
    except Exception as exc:
        part = unsupported_part(element)
        if part is not None:  # OpenSSL reads it: say what certdoctor cannot handle, never "damaged"
            raise InputError(f"{source}: {part[0]}", part[1]) from None
        what = _identify_der(element)
        if what:
            raise InputError(f"{source}: holds {what} (DER), not a certificate", _hint_for_what(what)) from None
        raise InputError(f"{source}: DER data that is not a valid X.509 certificate: {_friendly(exc)}",
                         "The file is damaged, or not a certificate.") from None
    certs = [cert]
    notes: list[str] = []
    while rest:
        if rest.strip(b" \t\r\n\x00") == b"":
            break
        if rest[0] != 0x30:
            notes.append(f"ignored {len(rest):,} trailing bytes after the DER certificate(s)")
            break
        where = f"{source}: DER certificate {len(certs) + 1}"
        try:
            _, hl2, len2 = _tlv(rest)
        except _DerError:
            raise InputError(f"{where}: truncated DER header", "The file was cut off; get it again.") from None
        if len2 is None:
            raise InputError(f"{where}: indefinite-length (BER) encoding is not DER", _HINT_CERT)
        if len(certs) >= MAX_PEM_BLOCKS:
            raise InputError(f"{source}: more than {MAX_PEM_BLOCKS:,} concatenated DER certificates",
                             "Split the file.")
        certs.append(_cert_der(rest[:hl2 + len2] if hl2 + len2 <= len(rest) else rest, where))
        rest = rest[hl2 + len2:]
    return LoadedFile(tuple(certs), None, "der", source, tuple(notes))


def _trailing_note(rest: bytes) -> tuple[str, ...]:
    if rest.strip(b" \t\r\n\x00"):
        return (f"ignored {len(rest):,} trailing bytes after the DER structure",)
    return ()


def _identify_der(der: bytes) -> str | None:
    """What a DER value that is not a certificate is (key, CSR, CRL…), or None."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        x509.load_der_x509_csr(der)
        return "a certificate signing request (CSR)"
    except Exception:
        pass
    try:
        x509.load_der_x509_crl(der)
        return "a certificate revocation list (CRL)"
    except Exception:
        pass
    try:
        serialization.load_der_private_key(der, password=None, unsafe_skip_rsa_key_validation=True)
        return "a private key"
    except TypeError:  # "Password was not given but private key is encrypted"
        return "an encrypted private key"
    except Exception:
        pass
    try:
        serialization.load_der_public_key(der)
        return "a public key"
    except Exception:
        pass
    return None


# --------------------------------------------------------------------------- PKCS#12

def _load_pkcs12(data: bytes, pw: bytes | None, source: str, rest: bytes) -> LoadedFile:
    from cryptography.hazmat.primitives.serialization import pkcs12

    rounds = _max_iterations(data)
    if rounds > MAX_PKCS12_ITERATIONS:
        raise InputError(
            f"{source}: the PKCS#12 file asks for {rounds:,} key-derivation rounds; "
            f"certdoctor allows at most {MAX_PKCS12_ITERATIONS:,}",
            "Re-export it with a normal iteration count (OpenSSL uses 2,048).",
        )
    attempts = [pw] if pw is not None else [None, b""]
    last: Exception | None = None
    result = None
    for attempt in attempts:
        try:
            result = pkcs12.load_pkcs12(data, attempt)
            break
        except Exception as exc:  # ValueError for bad MAC, corrupt data or unsupported cipher
            last = exc
    if result is None:
        text = str(last or "")
        if "deserialize" in text.lower():
            raise InputError(f"{source}: a damaged PKCS#12 file: it does not parse",
                             "Export it again from where it came from.") from None
        if pw is None:
            raise PasswordError(
                f"{source}: the PKCS#12 file is protected by a password and none was given",
                "Pass --password (or set CERTDOCTOR_PASSWORD).",
            ) from None
        raise PasswordError(
            f"{source}: wrong password for the PKCS#12 file (or the file is damaged)",
            "Check the password; it is case-sensitive. Export the file again if it is right.",
        ) from None
    certs = []
    if result.cert is not None:
        certs.append(result.cert.certificate)
    certs.extend(c.certificate for c in result.additional_certs)
    if not certs:
        what = "only a private key" if result.key is not None else "nothing"
        raise InputError(f"{source}: the PKCS#12 file holds {what}: no certificate", _HINT_CERT)
    return LoadedFile(tuple(certs), result.key, "pkcs12", source, _trailing_note(rest))


def _max_iterations(data: bytes) -> int:
    """The largest iteration count in the PFX's clear-text PBE, PBKDF2 and MAC parameters.

    These are INTEGERs that follow an OCTET STRING salt inside a SEQUENCE. Encrypted bags are
    not opened; their parameters sit outside the encrypted content anyway.
    """
    best = 0
    budget = [4096]  # elements visited, so that a hostile file cannot make this slow

    def walk(buf: bytes, depth: int) -> None:
        nonlocal best
        if depth > 24 or budget[0] <= 0:
            return
        kids = _children(buf, limit=256)
        budget[0] -= len(kids)
        prev = None
        for tag, content in kids:
            if tag == 0x02 and prev == 0x04 and len(content) <= 16:
                best = max(best, int.from_bytes(content, "big", signed=True))
            if tag & 0x20:  # constructed: SEQUENCE, SET, [n]
                walk(content, depth + 1)
            elif tag == 0x04 and content[:1] == b"\x30":  # OCTET STRING that wraps DER
                walk(content, depth + 1)
            prev = tag

    try:
        _tag, hl, length = _tlv(data)
        walk(data[hl:] if length is None else data[hl:hl + length], 0)
    except _DerError:
        pass
    return best


# --------------------------------------------------------------------------- "what is it?"

def _describe_other(data: bytes) -> str:
    head = data[:4096].lstrip()
    low = head.lower()
    if data.startswith(b"PK\x03\x04"):
        return "a ZIP archive, not a certificate"
    if data.startswith(b"\x1f\x8b"):
        return "gzip-compressed data, not a certificate"
    if data.startswith(b"%PDF"):
        return "a PDF document, not a certificate"
    if low.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or b"<html" in low[:512]:
        return "an HTML page, not a certificate"
    if low.startswith(b"<?xml") or low.startswith(b"<"):
        return "XML/markup text, not a certificate"
    if head.startswith((b"ssh-rsa ", b"ssh-ed25519 ", b"ecdsa-sha2-", b"ssh-dss ")):
        return "an OpenSSH public key, not a certificate"
    if data[:1] == b"\x30":
        return "DER data that is too short to be a certificate"
    if _is_text(data):
        compact = _WS.sub(b"", data)
        if len(compact) >= 64 and re.fullmatch(rb"[A-Za-z0-9+/]+=*", compact):
            return "base64 text without PEM BEGIN/END lines"
        line = data.strip().splitlines()[0][:60].decode("utf-8", "replace")
        return f"text, not a certificate (it starts with {line!r})"
    return f"binary data that is neither PEM nor DER (it starts with bytes {data[:4].hex(' ')})"


def _hint_other(data: bytes) -> str:
    desc = _describe_other(data)
    if desc.startswith("an HTML page"):
        return ("A web page was saved instead of the certificate (a login page, a redirect or an error "
                "page?). Download the raw file, e.g. with `curl -fL`.")
    if desc.startswith("a ZIP"):
        return "Unzip it first, then give the certificate file inside."
    if desc.startswith("base64 text"):
        return "Add a '-----BEGIN CERTIFICATE-----' line before and '-----END CERTIFICATE-----' after it."
    return _HINT_CERT


def _is_text(data: bytes) -> bool:
    sample = data[:4096]
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(sample) - 4:  # a cut multi-byte sequence at the end is fine
            return False
    return not any(b < 9 or 13 < b < 32 for b in sample)


def _hint_for_label(label: str) -> str:
    if "PRIVATE KEY" in label:
        return "That is a key; give the certificate that goes with it (the .crt/.pem next to it)."
    if "PUBLIC KEY" in label:
        return "A bare public key has no issuer or validity; give the certificate that holds it."
    if "REQUEST" in label:
        return "A CSR is not signed yet: give it to your CA and use the certificate it returns."
    if "CRL" in label:
        return "A CRL lists revoked certificates; give a certificate instead."
    return _HINT_CERT


def _hint_for_what(what: str) -> str:
    for word, label in (("private key", "PRIVATE KEY"), ("public key", "PUBLIC KEY"),
                        ("request", "REQUEST"), ("revocation", "CRL")):
        if word in what:
            return _hint_for_label(label)
    return _HINT_CERT


# --------------------------------------------------------------------------- what OpenSSL reads and cryptography does not

_OID_DSA = bytes.fromhex("2a8648ce380401")  # 1.2.840.10040.4.1
#: ASN.1 tag -> (type, RFC 5280's one form as a pattern and in words, the known departures)
_TIME_FORMS = {
    0x17: ("UTCTime", re.compile(rb"\d{12}Z"), "YYMMDDHHMMSSZ", (
        (re.compile(rb"\d{10}Z"), "without seconds"),
        (re.compile(rb"\d{10}(\d\d)?[+-]\d{4}"), "with a time-zone offset instead of Z"),
    )),
    0x18: ("GeneralizedTime", re.compile(rb"\d{14}Z"), "YYYYMMDDHHMMSSZ", (
        (re.compile(rb"\d{14}[.,]\d+Z"), "with fractional seconds"),
        (re.compile(rb"\d{12}Z"), "without seconds"),
        (re.compile(rb"\d{12}(\d\d)?([.,]\d+)?[+-]\d{4}"), "with a time-zone offset instead of Z"),
    )),
}


def _time_defect(tag: int, value: bytes) -> str | None:
    """How a validity time departs from RFC 5280 §4.1.2.5's one form, or None."""
    if tag not in _TIME_FORMS:
        return f"encoded with ASN.1 tag 0x{tag:02x}, neither UTCTime nor GeneralizedTime"
    kind, right, form, departures = _TIME_FORMS[tag]
    if right.fullmatch(value):
        return None
    how = next((words for pattern, words in departures if pattern.fullmatch(value)), "not in the form")
    shown = value[:40].decode("ascii", "replace")
    return f"{kind} '{shown}', {how} (RFC 5280 requires {form})"


def unsupported_part(der: bytes) -> tuple[str, str] | None:
    """(the part, what can still be done) when a certificate that cryptography refuses is one
    OpenSSL reads: a DSA key whose parameters are inherited from the issuer, or a validity time
    not in RFC 5280's one DER form. ``None`` when the refusal is something else (damage)."""
    try:
        _tag, hl, length = _tlv(der)
        if length is None:
            return None
        outer = _children(der[hl:hl + length], limit=4)
        if len(outer) != 3 or outer[0][0] != 0x30:
            return None
        fields = _children(outer[0][1], limit=12)
        i = 1 if fields and fields[0][0] == 0xA0 else 0  # [0] version (absent in v1)
        if len(fields) < i + 6:
            return None
        validity, spki = fields[i + 3], fields[i + 5]
        times = _children(validity[1], limit=3) if validity[0] == 0x30 else []
        for name, (tag, value) in zip(("notBefore", "notAfter"), times):
            defect = _time_defect(tag, value)
            if defect:
                return (f"its {name} is {defect}; certdoctor reads certificates with cryptography, which "
                        f"refuses that encoding. OpenSSL reads the certificate but refuses it when verifying "
                        f"(\"format error in certificate's {name} field\"), so every Python client rejects it",
                        "Have the certificate reissued (any CA software writes the right form). Until then "
                        "`openssl x509 -noout -text -in FILE` (with -inform DER for a DER file) shows its fields.")
        alg = _children(spki[1], limit=2) if spki[0] == 0x30 else []
        alg_parts = _children(alg[0][1], limit=3) if alg and alg[0][0] == 0x30 else []
        if alg_parts and alg_parts[0] == (0x06, _OID_DSA) and len(alg_parts) == 1:
            return ("its public key is DSA (parameters inherited, size unknown): the certificate carries no "
                    "DSA parameters and takes them from its issuer (RFC 3279 §2.3.2). certdoctor reads "
                    "certificates with cryptography, which cannot load such a certificate; OpenSSL reads it, "
                    "but its key is usable only with the issuer's parameters, and clients at OpenSSL's "
                    "default security level refuse DSA anyway",
                    "Have it reissued with an RSA or EC key. Until then `openssl x509 -noout -text -in FILE` "
                    "(with -inform DER for a DER file) shows its subject, issuer and dates.")
    except _DerError:
        return None
    return None


_PARSE_KIND = re.compile(r"kind: (\w+)")
_PARSE_LOC = re.compile(r"location: \[([^\]]*)\]")


def _friendly(exc: BaseException) -> str:
    """cryptography's messages without the raw ``ParseError { … }`` debug text."""
    text = str(exc)
    if "ParseError" not in text:
        return text or type(exc).__name__
    kind = _PARSE_KIND.search(text)
    loc = _PARSE_LOC.search(text)
    words = re.sub(r"(?<!^)(?=[A-Z])", " ", kind.group(1)).lower() if kind else "invalid encoding"
    where = ""
    if loc and loc.group(1).strip():
        parts = [p.strip().strip('"') for p in loc.group(1).split(",") if p.strip()]
        where = " in " + " > ".join(parts)
    return f"invalid ASN.1 ({words}{where})"


def read_stdin(what: str = "standard input") -> bytes:
    """The bytes of standard input, at most :data:`MAX_INPUT_BYTES` (more is an
    :class:`InputError`, as for a file); a closed or unreadable stdin is an ``InputError`` too."""
    import sys

    stream = getattr(sys.stdin, "buffer", sys.stdin)
    try:
        data = stream.read(MAX_INPUT_BYTES + 1)
    except (OSError, ValueError, AttributeError) as exc:  # closed (<&-), detached, or not readable
        raise InputError(f"{what} (-): cannot read standard input ({exc})",
                         "Pipe the certificate in (… | certdoctor …), or give a file instead of -.") from None
    if isinstance(data, str):  # a text stream (an embedding program's stdin)
        data = data.encode("utf-8", "surrogateescape")
    if len(data) > MAX_INPUT_BYTES:
        raise _too_large(what, None)
    return bytes(data)


def read_source(source: "Source", *, password: str | None = None) -> "LoadedFile":
    """The certificates (and a PKCS#12 key) of a file or of standard input."""
    if source.kind == "stdin":
        return load_bundle(read_stdin("<stdin>"), password=password, source="<stdin>")
    return load_bundle_file(source.input, password=password)


def read_bytes(source: "Source") -> bytes:
    """The bytes of a file or of standard input (bounded like every certificate input)."""
    if source.kind == "stdin":
        return read_stdin("<stdin>")
    return read_input(source.input)



__all__ = [
    "read_stdin",
    "read_source",
    "read_bytes",
    "MAX_INPUT_BYTES",
    "MAX_PEM_BLOCKS",
    "MAX_PKCS12_ITERATIONS",
    "FORMATS",
    "LoadedFile",
    "load_certificates",
    "load_file",
    "load_bundle",
    "load_bundle_file",
    "read_input",
    "unsupported_part",
]
