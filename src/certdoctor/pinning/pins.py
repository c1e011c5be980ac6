"""SPKI pins: compute them, recommend a pin set, and make the backup key that set needs.

A pin is ``sha256/`` + base64(SHA-256(SubjectPublicKeyInfo DER)), the value of HPKP's
``pin-sha256`` (RFC 7469) and of curl's ``--pinnedpubkey sha256//…``. It names a *key*, not a
certificate: a renewal that keeps the key keeps the pin. Enforcement lives in
:mod:`certdoctor.pinning.adapters`.

    >>> from certdoctor.pinning.pins import pin_report, new_backup_key
    >>> report = pin_report(chain, source="example.org:443")          # doctest: +SKIP
    >>> report.recommended                                            # doctest: +SKIP
    ('sha256/…leaf…', )
    >>> new_backup_key("backup.key").pin                              # doctest: +SKIP
    'sha256/…'
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import errno
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from certdoctor.errors import InputError, UsageError
from certdoctor.fsutil import remove_quietly, write_fd, write_temp_beside

if TYPE_CHECKING:  # pragma: no cover
    from cryptography import x509

PIN_PREFIX = "sha256/"
RSA_SIZES = (2048, 3072, 4096)

# --------------------------------------------------------------------------- pin values


def parse_pin(text: str) -> str:
    """Validate one pin and return its canonical form ``sha256/BASE64``.

    Accepts ``sha256/BASE64``, curl's ``sha256//BASE64``, HPKP's ``pin-sha256="BASE64"`` and
    bare ``BASE64``. The base64 must decode to exactly 32 bytes (a SHA-256 digest); anything
    else raises :class:`UsageError` naming the pin.

        >>> parse_pin("sha256/" + "A" * 43 + "=")
        'sha256/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='
    """
    if not isinstance(text, str):
        raise UsageError(f"pin {text!r} is not a string",
                         "Give pins as 'sha256/BASE64' strings (certdoctor pin HOST prints them).")
    raw = text.strip()
    low = raw.lower()
    if low.startswith("pin-sha256="):
        raw = raw[len("pin-sha256="):].strip().strip('"').strip("'")
    elif low.startswith("sha256/"):
        raw = raw[len("sha256/"):]
        # curl writes sha256//BASE64, but base64 itself may start with "/": a 44-character
        # remainder is the digest as is, a "/" + 44 characters is curl's form
        if raw.startswith("/") and len(raw.strip()) != 44:
            raw = raw[1:]
    raw = raw.strip()
    try:
        digest = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        digest = b""
        ok = False
    else:
        ok = True
    if not ok or len(digest) != 32:
        what = "is not base64" if not ok else f"decodes to {len(digest)} bytes, not 32"
        raise UsageError(
            f"pin {text!r} {what}: a pin is the base64 SHA-256 (32 bytes) of a public key",
            "Copy the pin from `certdoctor pin HOST` (form 'sha256/' + 44 base64 characters); "
            "a certificate fingerprint (hex) is not an SPKI pin.",
        )
    return PIN_PREFIX + base64.b64encode(digest).decode("ascii")


def parse_pins(pins: Iterable[str] | str) -> tuple[str, ...]:
    """:func:`parse_pin` on every pin, duplicates dropped, order kept; at least one pin."""
    if isinstance(pins, str):
        pins = [pins]
    out: list[str] = []
    for p in pins:
        c = parse_pin(p)
        if c not in out:
            out.append(c)
    if not out:
        raise UsageError("no pin given: a pin set needs at least one pin (better two: primary + backup)",
                         "Run `certdoctor pin HOST` to see the server's pins.")
    return tuple(out)


def pin_of_spki(spki_der: bytes) -> str:
    """``sha256/`` + base64(SHA-256(``spki_der``))."""
    return PIN_PREFIX + base64.b64encode(hashlib.sha256(spki_der).digest()).decode("ascii")


def pin_of_key(key: Any) -> str:
    """The pin of a public or private key (``cryptography`` key object)."""
    from cryptography.hazmat.primitives import serialization

    public = key.public_key() if hasattr(key, "private_bytes") else key
    return pin_of_spki(public.public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo))


def pin_of_certificate(cert: "x509.Certificate") -> str:
    """The pin of a certificate's public key (same value as ``model.spki_pin`` with prefix)."""
    from certdoctor.model import spki_pin

    return PIN_PREFIX + spki_pin(cert)


def pin_of_der(cert_der: bytes) -> str:
    """The pin of a DER certificate (as ``getpeercert(binary_form=True)`` returns)."""
    from cryptography import x509

    return pin_of_certificate(x509.load_der_x509_certificate(cert_der))


def load_key_pin(path: str | os.PathLike[str], password: bytes | str | None = None) -> str:
    """The pin of the key in ``path``: a private key, public key, CSR or certificate (PEM/DER).

    ``password`` opens an encrypted private key. Raises :class:`InputError` naming the file when
    it holds none of those.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    if isinstance(password, str):
        password = password.encode("utf-8")
    source = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"{source}: cannot read: {exc.strerror or exc}", "Check the path.") from None
    attempts = (
        lambda d: serialization.load_pem_private_key(d, password),
        lambda d: serialization.load_der_private_key(d, password),
        serialization.load_pem_public_key,
        serialization.load_der_public_key,
        lambda d: x509.load_pem_x509_csr(d).public_key(),
        lambda d: x509.load_der_x509_csr(d).public_key(),
        lambda d: x509.load_pem_x509_certificate(d).public_key(),
        lambda d: x509.load_der_x509_certificate(d).public_key(),
    )
    encrypted = False
    for attempt in attempts:
        try:
            return pin_of_key(attempt(data))
        except TypeError:  # an encrypted private key without (the right) password
            encrypted = True
        except Exception:
            continue
    if encrypted:
        raise InputError(f"{source}: the private key is encrypted",
                         "Give the public key instead: openssl pkey -in KEY -pubout -out key.pub")
    raise InputError(f"{source}: holds no private key, public key, CSR or certificate",
                     "Give the backup key file written by `certdoctor pin --new-backup-key`.")


# --------------------------------------------------------------------------- report


@dataclass(frozen=True, slots=True)
class PinnedCert:
    """One certificate of the chain with its pin.

    ``role``: ``leaf``, ``issuing intermediate``, ``intermediate``, ``root`` (self-signed, on
    the path) or ``extra`` (sent but not on the leaf's issuing path).
    """

    index: int
    role: str
    subject: str
    issuer: str
    name: str
    pin: str
    fingerprint_sha256: str
    key_type: str
    key_size: int | None
    not_after: _dt.datetime
    days_left: int


@dataclass(frozen=True, slots=True)
class PinReport:
    """Pins of a chain and a recommended pin set, explained.

    ``primary`` is the index of the certificate whose key is the recommended primary pin
    (``None`` for an empty chain). ``recommended`` is the pin set to deploy: the primary pin
    then the backup pins. ``missing_backup`` is true when no backup pin was given: such a set
    must not be deployed as is.
    """

    source: str
    host: str | None
    certs: tuple[PinnedCert, ...]
    level: str
    primary: int | None
    recommended: tuple[str, ...]
    backup_pins: tuple[str, ...]
    missing_backup: bool
    explanation: tuple[str, ...]
    usage: tuple[str, ...]
    warnings: tuple[str, ...]


def _role(index: int, info: Any, chain: Any) -> str:
    if index == 0:
        return "leaf"
    if index in chain.off_path:
        return "extra"
    if info.self_signed:
        return "root"
    if len(chain.path) > 1 and chain.path[1] == index:
        return "issuing intermediate"
    return "intermediate"


def pin_report(
    certs: Sequence["x509.Certificate"],
    *,
    source: str = "",
    host: str | None = None,
    backup_pins: Iterable[str] = (),
    level: str = "leaf",
    now: _dt.datetime | None = None,
) -> PinReport:
    """Pins of ``certs`` (leaf first, as presented) and the recommended pin set.

    ``level`` picks the primary pin: ``"leaf"`` (default: the server's own key, the only pin
    that refuses another valid certificate from the same CA) or ``"intermediate"`` (the key
    that issued the leaf: survives leaf renewals, accepts anything that intermediate signs).
    ``backup_pins`` (validated with :func:`parse_pin`) complete the set.
    """
    from certdoctor.model import ChainInfo

    if level not in ("leaf", "intermediate"):
        raise UsageError(f"level {level!r}: choose 'leaf' or 'intermediate'", None)
    certs = tuple(certs)
    if not certs:
        raise InputError(f"{source or 'input'}: no certificate to pin", None)
    chain = ChainInfo.analyse(certs, now)
    rows: list[PinnedCert] = []
    for i, info in enumerate(chain.certs):
        name = info.common_name or (info.san_dns[0] if info.san_dns else "") or info.subject or "(no name)"
        rows.append(PinnedCert(
            index=i, role=_role(i, info, chain), subject=info.subject, issuer=info.issuer,
            name=name, pin=PIN_PREFIX + info.spki_pin, fingerprint_sha256=info.fingerprint_sha256,
            key_type=info.key_type, key_size=info.key_size, not_after=info.not_after,
            days_left=info.days_left,
        ))
    backups = parse_pins(list(backup_pins)) if list(backup_pins) else ()
    warnings: list[str] = []

    primary = 0
    if level == "intermediate":
        issuing = [r.index for r in rows if r.role in ("issuing intermediate",)]
        if issuing:
            primary = issuing[0]
        elif len(chain.path) > 1:
            primary = chain.path[1]
            warnings.append(f"The leaf is issued directly by #{primary} ({rows[primary].name}); "
                            "its key is pinned as the issuing key.")
        else:
            warnings.append("The server sent no issuing certificate, so there is no intermediate "
                            "key to pin here: the leaf key is the primary pin.")
    if rows[0].role == "leaf" and chain.certs[0].self_signed:
        warnings.append("The leaf is self-signed: pinning it does not make it trusted. Normal "
                        "verification stays on, so trust it first (certdoctor fix).")
    primary_pin = rows[primary].pin
    for b in backups:
        if b == primary_pin or any(b == r.pin for r in rows):
            warnings.append(f"The backup pin {b} is a key the server already uses: a backup "
                            "must be a key kept offline, never yet deployed.")
    recommended = (primary_pin,) + tuple(b for b in backups if b != primary_pin)
    missing_backup = not any(b != primary_pin for b in backups)
    if missing_backup:
        warnings.append("No backup pin: a set with a single pin turns the next key change into an "
                        "outage. Make one: certdoctor pin --new-backup-key backup.key")
    return PinReport(
        source=source, host=host, certs=tuple(rows), level=level, primary=primary,
        recommended=recommended, backup_pins=backups, missing_backup=missing_backup,
        explanation=explain(rows[primary].role if primary else "leaf", bool(backups)),
        usage=usage_lines(recommended, host, missing_backup),
        warnings=tuple(warnings),
    )


def explain(primary_role: str = "leaf", have_backup: bool = False) -> tuple[str, ...]:
    """The recommendation in plain words (why a backup pin, renewal, HPKP-style caveats)."""
    lines: list[str] = []
    if primary_role == "leaf":
        lines.append(
            "Primary pin: the server's own key (the leaf). It is the only pin that refuses a "
            "different certificate for your name, even one validly issued by the same CA: a "
            "mis-issued certificate or an intercepting proxy whose root you trust.")
        lines.append(
            "What breaks at renewal: a leaf pin breaks as soon as the server uses a new key. Many "
            "ACME clients make a new key at every renewal unless told to reuse it; plan renewals "
            "onto the backup key (a CSR made from it), then ship a new backup pin.")
    else:
        lines.append(
            "Primary pin: the key of the intermediate that issued the leaf. It survives leaf "
            "renewals and key changes, but it accepts any certificate that intermediate signs, "
            "for anyone: it only narrows trust to one CA, it does not stop a second certificate "
            "for your name from that CA.")
        lines.append(
            "What breaks at renewal: CAs rotate their intermediates; when your next certificate "
            "comes from another one, the pin no longer matches. Keep the leaf key or a backup "
            "pin in the set for that day. Chain pins are checked against the *verified* chain: "
            "Python 3.13+ exposes it; certdoctor reads it on 3.10-3.12 through the ssl "
            "module's private accessor and otherwise matches the leaf only.")
    lines.append(
        "Why a backup pin: a second key, generated now and kept offline, that the server has "
        "never used. If the primary key must change (renewal, compromise, loss), the server "
        "switches to a certificate for the backup key and pinned clients keep working. Without "
        "it every deployed client fails hard until it is updated."
        + ("" if have_backup else " You have none yet: certdoctor pin --new-backup-key FILE."))
    lines.append(
        "HPKP-style caveats: browsers removed HPKP because a wrong or lost pin locks users out "
        "with no way back. The same holds for clients you ship: keep pins in configuration you "
        "can update, always keep two or more, pin on top of normal verification (never instead "
        "of it), and expect pinned clients to fail behind TLS-inspecting proxies (that is the "
        "point). Pinning does not help if the server's private key itself is stolen.")
    return tuple(lines)


def usage_lines(pins: Sequence[str], host: str | None = None, missing_backup: bool = False) -> tuple[str, ...]:
    """Python lines that enforce ``pins`` with requests and httpx (and the curl equivalent)."""
    host = host or "example.org"
    shown = list(pins) + (["sha256/<BACKUP-PIN>"] if missing_backup else [])
    pin_list = "[" + ", ".join(repr(p) for p in shown) + "]"
    return (
        "from certdoctor.pinning import pinned_session, httpx_client",
        f"PINS = {{{host!r}: {pin_list}}}   # host[:port] -> pins; other hosts: normal verification",
        "session = pinned_session(PINS)   # one PinnedAdapter(PINS) on https:// and http://; verification stays on",
        f"session.get('https://{host}/')   # PinMismatch (a requests SSLError) before any byte if no pin matches",
        "",
        "with httpx_client(PINS) as client:   # any httpx.Client keyword (verify=, proxy=...)",
        f"    client.get('https://{host}/')",
        "",
        f"# curl: --pinnedpubkey '{';'.join('sha256//' + p[len(PIN_PREFIX):] for p in pins)}'",
    )


# --------------------------------------------------------------------------- backup key


@dataclass(frozen=True, slots=True)
class BackupKey:
    """A freshly written backup key: where (as given), which kind, and its pin."""

    path: str
    key_type: str
    key_size: int
    pin: str


def new_backup_key(path: str | os.PathLike[str], *, rsa_bits: int | None = None) -> BackupKey:
    """Write a new private key (EC P-256, or RSA ``rsa_bits``) to ``path``, mode 0600.

    The key (PKCS#8 PEM, unencrypted: keep the file offline) is written to a temp file beside
    ``path`` created 0600, then hard-linked into place, so ``path`` appears complete or not at
    all and an existing file is never overwritten (:class:`UsageError`), even in a race.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    target = Path(path)
    if rsa_bits is not None and rsa_bits not in RSA_SIZES:
        raise UsageError(f"--rsa {rsa_bits}: choose one of {', '.join(map(str, RSA_SIZES))}", None)
    if os.path.lexists(target):
        raise UsageError(f"{target} already exists: refusing to overwrite a key",
                         "Choose a new file name; an existing backup key may already be pinned.")
    if not target.parent.is_dir():
        raise UsageError(f"{target.parent} is not a directory", None)
    if rsa_bits:
        key: Any = rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
        key_type, key_size = "RSA", rsa_bits
    else:
        key = ec.generate_private_key(ec.SECP256R1())
        key_type, key_size = "EC secp256r1", 256
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    _write_new_file(target, data, 0o600)
    return BackupKey(path=str(target), key_type=key_type, key_size=key_size, pin=pin_of_key(key))


def _write_new_file(target: Path, data: bytes, mode: int) -> None:
    """Atomic and exclusive: temp file (``mode`` before any byte), fsync, ``link`` into place."""
    tmp = write_temp_beside(target, data, mode)
    try:
        try:
            os.link(tmp, target)  # fails if target exists: never overwrites
        except FileExistsError:
            raise UsageError(f"{target} already exists: refusing to overwrite a key", None) from None
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
                raise
            # a file system without hard links: exclusive create, then the bytes
            try:
                out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            except FileExistsError:
                raise UsageError(f"{target} already exists: refusing to overwrite a key", None) from None
            write_fd(out, data)
    finally:
        remove_quietly(tmp)
    try:
        dfd = os.open(target.parent, os.O_RDONLY)
    except OSError:  # pragma: no cover
        return
    try:
        os.fsync(dfd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(dfd)


__all__ = [
    "PIN_PREFIX",
    "parse_pin",
    "parse_pins",
    "pin_of_spki",
    "pin_of_key",
    "pin_of_certificate",
    "pin_of_der",
    "load_key_pin",
    "PinnedCert",
    "PinReport",
    "pin_report",
    "explain",
    "usage_lines",
    "BackupKey",
    "new_backup_key",
]
