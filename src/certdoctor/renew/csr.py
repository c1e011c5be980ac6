"""Certificate signing requests a CA accepts and every client then trusts: every name in
subjectAltName (DNS names as lowercase A-labels, IP addresses as iPAddress), the commonName
optional.

The guide's ``generate_csr()`` put one name in the CN and none in subjectAltName: clients have
ignored the CN since RFC 6125 (Python's ``ssl`` since 3.7), so the certificate it asks for is
accepted by no one. :func:`make_csr` puts every identifier in subjectAltName; the CN, when there
is one, repeats the first DNS name (it must fit RFC 5280's 64 characters; when it does not, the
CN is left out and :attr:`CsrResult.notes` says so). Without a CN the subject is empty and
subjectAltName is marked critical (RFC 5280 §4.2.1.6).

:func:`normalise_name` is the one rule for a DNS name given by a person: IDNA (UTS #46 mapping,
IDNA 2008 labels) to lowercase A-labels, one trailing dot dropped, a wildcard only as the whole
left-most label; an IP address, an empty label, a label over 63 characters, characters outside
letters/digits/hyphen, a hyphen at a label's edge or an all-numeric last label are refused with a
hint. Duplicates (after normalising) are folded silently, first one kept.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

from certdoctor import policy
from certdoctor.errors import UsageError
from certdoctor.renew.keys import DEFAULT_KEY_TYPE, check_key, generate_key, key_pem, key_type_of

_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_NAME_HINT = "Give a DNS name such as example.com or *.example.com (IP addresses go to --ip)."


@dataclass(frozen=True)
class CsrResult:
    """A CSR and the key it is signed with."""

    csr: Any  # x509.CertificateSigningRequest
    csr_pem: bytes
    key: Any
    key_pem: bytes
    names: tuple[str, ...]
    ips: tuple[str, ...]
    new_key: bool
    key_type: str = ""
    common_name: str | None = None
    notes: tuple[str, ...] = field(default=())


def _bad(name: str, why: str) -> UsageError:
    from certdoctor._text import safe

    return UsageError(f"--name {safe(repr(name))}: {why}", _NAME_HINT)


def _as_ip(text: str) -> str | None:
    t = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    try:
        return str(ipaddress.ip_address(t))
    except ValueError:
        return None


def normalise_name(name: str) -> str:
    """``name`` as the DNS name a CSR carries: lowercase A-labels, no trailing dot, ``*.`` only
    as a whole left-most label. UsageError (error + hint) otherwise."""
    import idna

    if not isinstance(name, str):
        raise UsageError(f"--name {name!r}: not text", _NAME_HINT)
    if not name:
        raise UsageError("--name '': an empty name", _NAME_HINT)
    if name != name.strip() or any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7f for c in name):
        raise _bad(name, "holds spaces or control characters")
    if _as_ip(name) is not None:
        raise UsageError(f"--name {name}: an IP address, not a DNS name",
                         f"Give IP addresses with --ip {name.strip('[]')} (they go into subjectAltName as iPAddress).")
    text = name[:-1] if name.endswith(".") and not name.endswith("..") else name
    wildcard = text.startswith("*.")
    body = text[2:] if wildcard else text
    if "*" in body:
        raise _bad(name, "a wildcard is allowed only as the whole left-most label (*.example.com)")
    if not body:
        raise _bad(name, "no name after the wildcard" if wildcard else "an empty name")
    labels = body.split(".")
    if any(not label for label in labels):
        raise _bad(name, "an empty label (two dots in a row, or a dot at the start)")
    out = []
    for label in labels:
        if label.isascii():
            a = label.lower()
            if a.startswith("xn--"):
                try:
                    idna.decode(a)  # a Punycode label must decode to a valid U-label
                except (idna.IDNAError, UnicodeError, ValueError):
                    raise _bad(name, f"the label {a!r} is not valid Punycode (IDNA)") from None
        else:
            try:
                a = idna.encode(label, uts46=True).decode("ascii")
            except (idna.IDNAError, UnicodeError, ValueError) as exc:
                raise _bad(name, f"the label {label!r} is not a valid internationalised label ({exc})") from None
        if len(a) > 63:
            raise _bad(name, f"a label longer than 63 characters ({len(a)})")
        if not _LABEL.match(a):
            raise _bad(name, f"the label {a!r} may hold only letters, digits and inner hyphens")
        out.append(a)
    if out[-1].isdigit():
        raise _bad(name, "the last label is all digits (not a DNS name; an IP address goes to --ip)")
    result = ".".join(out)
    if len(result) > 253:
        raise _bad(name, f"longer than 253 characters ({len(result)})")
    return ("*." + result) if wildcard else result


def normalise_ip(text: str) -> str:
    """An IP address as its canonical text (``[::1]`` and ``::0001`` are ``::1``); UsageError otherwise."""
    from certdoctor._text import safe

    ip = _as_ip(text) if isinstance(text, str) and text == text.strip() else None
    if ip is None:
        raise UsageError(f"--ip {safe(repr(text))}: not an IP address",
                         "Give an IPv4 or IPv6 address (192.0.2.1, 2001:db8::1); DNS names go to --name.")
    return ip


def _fold(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def make_csr(names: Iterable[str], *, ips: Iterable[str] = (), key: Any = None, key_type: str = DEFAULT_KEY_TYPE,
             common_name: "str | bool | None" = None) -> CsrResult:
    """A CSR for ``names`` (DNS) and ``ips``, signed with ``key`` (an existing private key, checked
    by :func:`~certdoctor.renew.keys.check_key`) or a new key of ``key_type``.

    ``common_name``: ``None`` (the default) repeats the first DNS name if it fits 64 characters;
    ``False`` (or ``""``) leaves the CN out; a name puts that name (it must be one of ``names``).
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    if isinstance(names, str) or isinstance(ips, str):
        raise TypeError("names and ips are sequences of strings, not one string")
    dns = _fold(normalise_name(n) for n in names)
    addrs = _fold(normalise_ip(i) for i in ips)
    if not dns and not addrs:
        raise UsageError("no names: a CSR needs at least one --name (or --ip)",
                         "certdoctor csr --name example.com --name www.example.com --out-key k.pem --out-csr c.pem")
    if len(dns) + len(addrs) > policy.RENEW_MAX_IDENTIFIERS:
        raise UsageError(f"{len(dns) + len(addrs)} names: more than {policy.RENEW_MAX_IDENTIFIERS} in one CSR",
                         f"CAs take at most {policy.RENEW_MAX_IDENTIFIERS} names per certificate: split them.")
    notes: list[str] = []
    cn: str | None
    if common_name is None:
        cn = dns[0] if dns else None
        if cn is not None and len(cn) > policy.RENEW_CN_MAX:
            notes.append(f"no commonName: the first name is {len(cn)} characters, more than the "
                         f"{policy.RENEW_CN_MAX} a CN may hold (every name is in subjectAltName, which is what clients check)")
            cn = None
        elif cn is None:
            notes.append("no commonName: only IP addresses were given (they are in subjectAltName)")
    elif common_name is False or common_name == "":
        cn = None
    elif isinstance(common_name, str):
        cn = normalise_name(common_name)
        if cn not in dns:
            raise UsageError(f"--common-name {cn}: not one of the --name values",
                             "The commonName must repeat one of the names (CAs refuse others); add it as --name too.")
        if len(cn) > policy.RENEW_CN_MAX:
            raise UsageError(f"--common-name {cn}: {len(cn)} characters, more than the {policy.RENEW_CN_MAX} a CN may hold",
                             "Pick a shorter name, or --no-common-name (subjectAltName holds every name).")
    else:
        raise TypeError("common_name is a name, None or False")

    if key is None:
        key, new_key = generate_key(key_type), True
    else:
        check_key(key, "--key")
        new_key = False
    kind = key_type_of(key)
    algorithm = hashes.SHA384() if isinstance(key, ec.EllipticCurvePrivateKey) and kind == "ec384" else hashes.SHA256()

    san = [x509.DNSName(n) for n in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in addrs]
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)] if cn else [])
    builder = (x509.CertificateSigningRequestBuilder()
               .subject_name(subject)
               .add_extension(x509.SubjectAlternativeName(san), critical=cn is None))
    csr = builder.sign(key, algorithm)
    return CsrResult(csr=csr, csr_pem=csr.public_bytes(serialization.Encoding.PEM), key=key, key_pem=key_pem(key),
                     names=dns, ips=addrs, new_key=new_key, key_type=kind, common_name=cn, notes=tuple(notes))


def same_file(a: str, b: str) -> bool:
    """``a`` and ``b`` name the same file (through links, ``./`` and ``..``); ``-`` is only itself."""
    import os

    if a == b:
        return True
    if "-" in (a, b):
        return False
    return os.path.realpath(a) == os.path.realpath(b)


def save(result: CsrResult, *, key_path: "str | None", csr_path: str) -> "Path":
    """Write a new key (when ``result.new_key``: 0600, never over a file) to ``key_path`` and the
    CSR atomically to ``csr_path`` (``-``: standard output); the CSR's path written. If the CSR
    cannot be written, the key just made goes too, and the directories made for it: nothing
    half-done."""
    import os
    from pathlib import Path

    from certdoctor.fsutil import remove_quietly, write_atomic
    from certdoctor.renew.keys import write_new_key

    made: list[Path] = []
    if result.new_key:
        if key_path is None:
            raise UsageError("a new key needs a file to go to (--out-key)", "Add --out-key FILE.")
        d = Path(key_path).parent
        while d != d.parent and not os.path.lexists(d):  # what write_new_key will make
            made.append(d)
            d = d.parent

    def undo() -> None:
        for directory in made:  # deepest first; only while empty
            try:
                os.rmdir(directory)
            except OSError:
                break

    if result.new_key:
        try:
            write_new_key(key_path, result.key)
        except BaseException:
            undo()
            raise
    try:
        return write_atomic(csr_path, result.csr_pem, 0o644, what="--out-csr")
    except BaseException:
        if result.new_key:
            remove_quietly(str(key_path))
            undo()
        raise


__all__ = ["CsrResult", "make_csr", "normalise_name", "normalise_ip", "same_file", "save"]
