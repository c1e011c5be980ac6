"""CA bundles done right: build one (a base store plus your CAs) and audit one.

A bundle passed as ``verify=`` or ``REQUESTS_CA_BUNDLE`` *replaces* certifi, so it must hold the
public roots too, not only your private CA. :func:`build_bundle` starts from a base (certifi's
``cacert.pem``, the OS bundle, nothing, or a file), adds your certificates, keeps one copy of
each (SHA-256 of the DER), keeps only CA certificates (unless ``allow_leaf``), drops expired ones
with a warning and writes a comment above each certificate saying what it is and where it came
from::

    >>> from certdoctor.remedies.bundle import build_bundle, write_bundle, check_bundle
    >>> result = write_bundle("corp-bundle.pem", ["corp-root.pem"])         # doctest: +SKIP
    >>> len(result.entries), result.warnings                                 # doctest: +SKIP
    (118, ())
    >>> audit = check_bundle("corp-bundle.pem")                              # doctest: +SKIP
    >>> [f.code.value for f in audit.findings]                               # doctest: +SKIP
    ['BUNDLE_NOT_IN_CERTIFI']

:func:`check_bundle` reads a bundle block by block (so it can say *which* block is broken,
and on which line) and returns :class:`~certdoctor.model.Finding` values with stable :class:`BundleCode`
codes. It never raises on the content of a bundle, only when the file cannot be read.

Whether a root "was removed from certifi" can only be judged against the certifi installed here:
a root missing from it is reported as "not in certifi <version>", which is also true of every
private CA (hence ``info``, not ``warning``).
"""

from __future__ import annotations


import base64
import binascii
import contextlib
import datetime as _dt
import enum
import hashlib
import os
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Union

from certdoctor import policy
from certdoctor.errors import InputError, UsageError
from certdoctor.model import Actor, Finding, Location, Severity
from certdoctor.x509.pem import CERT_LABELS, LINES, PemBlock, der_prefix, pem_blocks
from certdoctor.x509.path import ca_status  # the one "may it issue?" rule (also the path builder's)

if TYPE_CHECKING:  # pragma: no cover
    from cryptography import x509

#: The largest bundle read (certifi is ~300 KB, OS bundles < 1 MB); the same bound as certdoctor.x509.load.
MAX_BYTES = policy.MAX_INPUT_BYTES

#: Where the OS keeps its PEM bundle (Debian/Ubuntu/Alpine/Arch, RHEL/Fedora, openSUSE, BSD/macOS).
SYSTEM_BUNDLE_PATHS: tuple[str, ...] = (
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
    "/usr/local/share/certs/ca-root-nss.crt",
    "/usr/local/etc/openssl/cert.pem",
)


AddItem = Union[str, "os.PathLike[str]", bytes, "x509.Certificate"]


# --------------------------------------------------------------------------- results

class BundleWarning(UserWarning):
    """A certificate you asked to add was left out (expired or not yet valid)."""


class BundleCode(str, enum.Enum):
    """Stable codes of :func:`check_bundle` findings. Never renamed or reused."""

    BUNDLE_UNPARSEABLE = "BUNDLE_UNPARSEABLE"
    BUNDLE_DUPLICATE = "BUNDLE_DUPLICATE"
    BUNDLE_EXPIRED = "BUNDLE_EXPIRED"
    BUNDLE_NOT_YET_VALID = "BUNDLE_NOT_YET_VALID"
    BUNDLE_NOT_CA = "BUNDLE_NOT_CA"
    BUNDLE_NOT_IN_CERTIFI = "BUNDLE_NOT_IN_CERTIFI"
    BUNDLE_EMPTY = "BUNDLE_EMPTY"


#: A :func:`check_bundle` finding is a :class:`certdoctor.model.Finding` (the one finding shape),
#: with a :class:`BundleCode`, ``who`` the bundle's owner (``client-user``) and a
#: :class:`~certdoctor.model.Location`: ``path`` (``None`` for bytes), ``block`` (the 1-based
#: number of the PEM block) and ``line`` (the 1-based line of its ``-----BEGIN``), both ``None``
#: for the file as a whole. The certificate's subject and SHA-256 are its ``evidence`` (none when
#: the block could not be parsed). The old name stays importable; the class is the same.
BundleFinding = Finding


def _finding(code: BundleCode, severity: Severity, summary: str, explanation: str = "", fix: str = "", *,
             path: str | None, block: int | None = None, line: int | None = None,
             subject: str | None = None, fingerprint: str | None = None) -> Finding:
    evidence = tuple(e for e in (subject and f"subject {subject}", fingerprint and f"SHA-256 {fingerprint}") if e)
    return Finding(code, severity, summary, explanation, evidence, fix, Actor.CLIENT_USER,
                   location=Location(path=path, line=line, block=block))


@dataclass(frozen=True, slots=True)
class BundleEntry:
    """One certificate kept in a built bundle. ``source`` is what the ``# Source:`` line says."""

    subject: str
    issuer: str
    fingerprint_sha256: str
    not_before: _dt.datetime
    not_after: _dt.datetime
    is_ca: bool
    self_issued: bool
    source: str
    der: bytes = b""

    def certificate(self) -> "x509.Certificate":
        from cryptography import x509

        return x509.load_der_x509_certificate(self.der)


@dataclass(frozen=True, slots=True)
class DroppedCert:
    """A certificate left out of a built bundle. ``reason`` is ``duplicate``, ``expired``,
    ``not-yet-valid`` or ``not-ca``; ``detail`` says it in words."""

    subject: str
    fingerprint_sha256: str
    source: str
    reason: str
    detail: str
    added: bool


@dataclass(frozen=True, slots=True)
class BundleResult:
    """What :func:`build_bundle` made. ``pem`` is the whole file; ``path`` is set by
    :func:`write_bundle` (``None`` when not written)."""

    pem: bytes
    entries: tuple[BundleEntry, ...]
    dropped: tuple[DroppedCert, ...]
    warnings: tuple[str, ...]
    base: str
    base_path: str | None = None
    path: str | None = None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.pem).hexdigest()

    def fingerprints(self) -> frozenset[str]:
        return frozenset(e.fingerprint_sha256 for e in self.entries)

    def refused(self) -> tuple[DroppedCert, ...]:
        """The *added* certificates that were left out for a reason other than being a duplicate."""
        return tuple(d for d in self.dropped if d.added and d.reason != "duplicate")


@dataclass(frozen=True, slots=True)
class BundleAudit:
    """What :func:`check_bundle` found. ``certificates`` counts the parsed certificate blocks."""

    source: str
    blocks: int
    certificates: int
    certifi_version: str | None
    findings: tuple[Finding, ...]

    @property
    def worst(self) -> Severity | None:
        if not self.findings:
            return None
        return max((f.severity for f in self.findings), key=lambda s: s.rank)

    @property
    def exit_code(self) -> int:
        """0 clean (notes only), 1 something at warning or error level."""
        worst = self.worst
        return 1 if worst is not None and worst.rank >= Severity.WARNING.rank else 0


# --------------------------------------------------------------------------- small helpers

def _now(now: _dt.datetime | None) -> _dt.datetime:
    if now is None:
        return _dt.datetime.now(_dt.timezone.utc)
    return now if now.tzinfo else now.replace(tzinfo=_dt.timezone.utc)


def _clean(text: str) -> str:
    """One printable line: a subject can hold newlines, and a comment must never end early
    (the one sanitiser, :func:`certdoctor._text.safe`: visible escapes, as every output shows them)."""
    from certdoctor._text import safe

    return safe(text)


def _name(name) -> str:
    try:
        return name.rfc4514_string()
    except Exception:  # malformed names
        return repr(name)


def _display(cert: "x509.Certificate") -> str:
    return _clean(_name(cert.subject)) or "(empty subject)"


def _der(cert: "x509.Certificate") -> bytes:
    from cryptography.hazmat.primitives import serialization

    return cert.public_bytes(serialization.Encoding.DER)


def _fp(der: bytes) -> str:
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def _read(path: str | os.PathLike[str], what: str) -> bytes:
    """The bytes of a file, at most :data:`MAX_BYTES` (bounded for pipes and devices too)."""
    p = Path(path)
    try:
        if p.is_dir():
            raise InputError(f"{what} {p}: is a directory", "Give the path of a PEM file.")
        with open(p, "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except FileNotFoundError as exc:
        raise InputError(f"{what} {p}: no such file", "Check the path.") from exc
    except PermissionError as exc:
        raise InputError(f"{what} {p}: permission denied", "Check the file's permissions.") from exc
    except OSError as exc:
        raise InputError(f"{what} {p}: cannot be read ({exc.strerror or exc})", None) from exc
    if len(data) > MAX_BYTES:
        raise InputError(f"{what} {p}: larger than {MAX_BYTES >> 20} MiB, too large for a certificate bundle",
                         "Check that this is the right file.")
    return data


@contextlib.contextmanager
def _quiet():
    """Ignore cryptography's deprecation warnings (negative serials in OS bundles) while parsing."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _ext(cert: "x509.Certificate", cls):
    from cryptography import x509

    try:
        return cert.extensions.get_extension_for_class(cls).value
    except x509.ExtensionNotFound:
        return None
    except Exception:  # duplicate or malformed extensions: treated as absent
        return None


# --------------------------------------------------------------------------- PEM blocks

def _blocks(data: bytes) -> list[PemBlock]:
    """The PEM blocks of a bundle, found as OpenSSL finds them: markers alone on their line."""
    return list(pem_blocks(data, markers=LINES))


def _structure_error(block: PemBlock) -> str | None:
    """Why a block is structurally broken (no END, or an END with another label), or None."""
    if block.end is None:
        if block.cut_line is None:
            return f"no -----END {block.label}----- (the file ends first)"
        return f"no -----END {block.label}----- before line {block.cut_line}"
    if block.end.strip() != block.label:
        return f"ends with -----END {block.end.strip()}-----"
    return None


def _parse_block(block: PemBlock) -> "tuple[x509.Certificate | None, str | None]":
    """(certificate, None) or (None, why it is unparseable)."""
    from cryptography import x509

    error = _structure_error(block)
    if error:
        return None, error
    # each line stripped, then strict base64: a space or a stray character inside a line is an error
    body = "".join(line.strip() for line in block.body.decode("latin-1").split("\n"))
    try:
        der = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        return None, "its body is not valid base64"
    if not der:
        return None, "its body is empty"
    if block.label == "TRUSTED CERTIFICATE":
        der = der_prefix(der)
    try:
        cert = x509.load_der_x509_certificate(der)
        # cryptography parses lazily: touch what every check needs, so a broken field shows here
        cert.subject, cert.issuer, cert.not_valid_before_utc, cert.not_valid_after_utc  # noqa: B018
        cert.version  # noqa: B018
    except Exception as exc:
        return None, f"it is not a valid X.509 certificate ({type(exc).__name__}: {str(exc)[:200]})"
    return cert, None


def parse_pem_bundle(data: bytes) -> tuple["list[x509.Certificate]", list[str]]:
    """Every parseable certificate of a PEM bundle, in order, and one message per broken block."""
    certs: list = []
    problems: list[str] = []
    with _quiet():
        for b in _blocks(data):
            if b.label not in CERT_LABELS:
                continue
            cert, why = _parse_block(b)
            if cert is None:
                problems.append(f"block {b.number} (line {b.line}): {why}")
            else:
                certs.append(cert)
    return certs, problems


# --------------------------------------------------------------------------- bases

def certifi_path() -> str:
    """``certifi.where()``: a *path* (str), not the bundle's bytes (SEED_CERTIFI_WHERE_IS_PATH)."""
    import certifi

    return certifi.where()


def certifi_version() -> str | None:
    try:
        import certifi

        return str(certifi.__version__)
    except Exception:  # pragma: no cover
        return None


def system_bundle_path() -> str | None:
    """The OS's PEM bundle, ignoring ``SSL_CERT_FILE`` (that is an override, not the OS store)."""
    import ssl

    paths = ssl.get_default_verify_paths()
    for candidate in (paths.openssl_cafile, *SYSTEM_BUNDLE_PATHS):
        if candidate and os.path.isfile(candidate):
            return candidate
    return None


def _system_certs() -> tuple[list, str, str | None, list[str]]:
    """(certificates, label, path, problems) of the OS store."""
    import ssl

    path = system_bundle_path()
    if path is not None:
        certs, problems = parse_pem_bundle(_read(path, "system bundle"))
        return certs, f"system ({path})", path, problems
    paths = ssl.get_default_verify_paths()
    capath = paths.openssl_capath
    if capath and os.path.isdir(capath):
        certs, problems = [], []
        seen: set[str] = set()
        for name in sorted(os.listdir(capath)):
            full = os.path.join(capath, name)
            if not os.path.isfile(full) or os.path.getsize(full) > (1 << 20):
                continue
            try:
                data = Path(full).read_bytes()
            except OSError:
                continue
            found, _ = parse_pem_bundle(data)
            for c in found:
                fp = _fp(_der(c))
                if fp not in seen:
                    seen.add(fp)
                    certs.append(c)
        if certs:
            return certs, f"system ({capath}/)", capath, problems
    # Windows (and some macOS builds): the store is not a file, but load_default_certs reads it
    from cryptography import x509

    ctx = ssl.create_default_context()
    ders = ctx.get_ca_certs(binary_form=True)
    certs = []
    with _quiet():
        for der in ders:
            try:
                certs.append(x509.load_der_x509_certificate(der))
            except Exception:
                continue
    if certs:
        return certs, "system (OS certificate store)", None, []
    raise InputError(
        "no system CA bundle found",
        "Install the OS package (Debian/Ubuntu/Alpine: ca-certificates; RHEL: ca-certificates) "
        "or use --base certifi.",
    )


def _base_certs(base: "str | os.PathLike[str] | bytes") -> tuple[list, str, str | None, list[str]]:
    """(certificates, source label, path, problems) of a base.

    Only ``"none"`` gives no certificate: any other base (certifi, the OS store, a file, the bytes
    read from stdin) must hold at least one CA certificate, or the bundle written from it would
    trust no public site while looking like one that does (:func:`_require_roots`)."""
    if isinstance(base, (bytes, bytearray, memoryview)):
        certs, problems = parse_pem_bundle(bytes(base))
        return _require_roots(certs, problems, "--base (standard input)", "base (standard input)", None)
    if isinstance(base, str) and base in ("certifi", "system", "none"):
        if base == "none":
            return [], "none", None, []
        if base == "system":
            certs, label, path, problems = _system_certs()
            return _require_roots(certs, problems, f"the {label} store", label, path)
        path = certifi_path()
        certs, problems = parse_pem_bundle(_read(path, "certifi bundle"))
        return _require_roots(certs, problems, f"certifi's bundle {path}", f"certifi {certifi_version()}", path)
    p = Path(base)
    if not os.fspath(base) or not p.exists():
        raise UsageError(f"--base {base}: not certifi, system, none or an existing file",
                         "Give --base certifi (the default), system, none, or the path of a PEM bundle.")
    certs, problems = parse_pem_bundle(_read(p, "base bundle"))
    return _require_roots(certs, problems, f"--base {p}", f"base file {p.name}", str(p))


def _require_roots(certs: list, problems: list[str], what: str, label: str,
                   path: str | None) -> tuple[list, str, str | None, list[str]]:
    """The base as read, or an InputError when it holds no CA certificate (empty, garbage, DER,
    leaves only): a bundle replaces the client's store, so an empty base silently drops every root."""
    with _quiet():
        cas = sum(1 for c in certs if ca_status(c)[0])
    if not cas:
        found = (f"{len(certs)} certificate(s), none of them a CA" if certs else
                 "no PEM certificate" + (f" ({problems[0]})" if problems else ""))
        raise InputError(
            f"{what} holds {found}: a bundle built on it would trust no public site",
            "Give a PEM bundle of CA certificates (certdoctor convert turns DER/PKCS#7 into PEM), "
            "--base certifi (the default) or system; or --base none if the bundle must hold only what you add.")
    return certs, label, path, problems


def _load_added(item: AddItem, password: str | None = None) -> tuple[list, str]:
    """(certificates, source label) of one ``add`` item: a path, PEM/DER/P7 bytes or a certificate."""
    from cryptography import x509

    if isinstance(item, x509.Certificate):
        return [item], "added (certificate object)"
    if isinstance(item, (bytes, bytearray, memoryview)):
        data = bytes(item)
        certs = _load_bytes(data, "the added bytes", password)
        return certs, "added (PEM bytes)" if b"-----BEGIN" in data else "added (DER bytes)"
    if isinstance(item, (str, os.PathLike)):
        p = Path(item)
        certs = _load_path(p, password)
        return certs, f"added from {_clean(p.name)}"
    raise UsageError(f"cannot add {type(item).__name__!r} to a bundle",
                     "Give a path, PEM/DER bytes or a cryptography x509.Certificate.")


def _load_bytes(data: bytes, source: str, password: str | None = None) -> list:
    from certdoctor.x509.load import load_certificates

    return list(load_certificates(data, source=source, password=password))


def _load_path(p: Path, password: str | None = None) -> list:
    from certdoctor.x509.load import load_file

    return list(load_file(p, password=password))


# --------------------------------------------------------------------------- build

def comment_text(text: str) -> str:
    """``text`` made safe for a ``#`` line of a PEM bundle: a subject is attacker-chosen text, so
    one printable line, and no PEM armour even mid-line for naive splitters."""
    return _clean(text).replace("-----", "-- --")


def _comment(cert: "x509.Certificate", fp: str, source: str) -> bytes:
    subject = comment_text(_display(cert))
    lines = (
        f"# Subject: {subject}",
        f"# SHA-256: {fp}",
        f"# Not after: {cert.not_valid_after_utc:%Y-%m-%d %H:%M:%S} UTC",
        f"# Source: {_clean(source)}",
    )
    return ("\n".join(lines) + "\n").encode("utf-8")


def _pem(der: bytes) -> bytes:
    b64 = base64.b64encode(der).decode("ascii")
    body = "\n".join(b64[i : i + 64] for i in range(0, len(b64), 64))
    return f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n".encode("ascii")


def _refusal(cert, fp: str, seen: dict[str, str], now: _dt.datetime, allow_leaf: bool) -> tuple[str | None, str]:
    """Why ``cert`` stays out of the bundle: (reason, detail), or (None, "") when it goes in."""
    if fp in seen:
        return "duplicate", f"is already in the bundle (from {seen[fp]})"
    na, nb = cert.not_valid_after_utc, cert.not_valid_before_utc
    if now > na:
        return "expired", f"expired on {na:%Y-%m-%d}: dropped"
    if now < nb:
        return "not-yet-valid", f"is not valid before {nb:%Y-%m-%d}: dropped"
    is_ca, why = ca_status(cert)
    if not is_ca and not allow_leaf:
        return "not-ca", f"is not a CA certificate ({why}): refused without allow_leaf"
    return None, ""


def build_bundle(
    add: Iterable[AddItem] = (),
    base: "str | os.PathLike[str] | bytes" = "certifi",
    allow_leaf: bool = False,
    now: _dt.datetime | None = None,
    *,
    password: str | None = None,
) -> BundleResult:
    """A bundle: ``base``'s certificates then the ``add`` ones, one copy each, CAs only.

    ``base`` is ``"certifi"`` (the file at ``certifi.where()``), ``"system"`` (the OS bundle),
    ``"none"``, a path, or the bytes of a PEM bundle. Every base but ``"none"`` must hold at least
    one CA certificate (an empty, unparseable or DER base is an InputError, never a bundle
    without public roots). ``add`` items are paths, PEM/DER bytes or ``x509.Certificate``.
    Expired, not-yet-valid and (without ``allow_leaf``) non-CA certificates are dropped, each with
    a warning; duplicates (by SHA-256) are dropped silently (see ``dropped``). Raises
    :class:`~certdoctor.errors.InputError` when an input cannot be read. ``password`` opens
    password-protected PKCS#12 items.

        >>> r = build_bundle([Path("corp-root.pem").read_bytes()])           # doctest: +SKIP
        >>> r.entries[-1].source                                              # doctest: +SKIP
        'added (PEM bytes)'
    """
    from cryptography import x509

    now = _now(now)
    if isinstance(add, (str, bytes, bytearray, os.PathLike, x509.Certificate)):
        add = [add]  # one item given bare: never iterate a path's characters
    inputs: list[tuple[list, str, bool]] = []
    base_certs, base_label, base_path, problems = _base_certs(base)
    warns = [f"{base_label}: {p} (skipped)" for p in problems]
    inputs.append((base_certs, base_label, False))
    for item in add:
        certs, label = _load_added(item, password)
        inputs.append((certs, label, True))

    entries: list[BundleEntry] = []
    dropped: list[DroppedCert] = []
    seen: dict[str, str] = {}
    parts: list[bytes] = []
    with _quiet():
        for certs, source, added in inputs:
            for cert in certs:
                der = _der(cert)
                fp = _fp(der)
                subject = _display(cert)
                reason, detail = _refusal(cert, fp, seen, now, allow_leaf)
                if reason is not None:
                    dropped.append(DroppedCert(subject, fp, source, reason, detail, added))
                    if reason != "duplicate":
                        warns.append(f"{source}: {subject} ({fp[:23]}…) {detail}")
                    continue
                seen[fp] = source
                is_ca, _why = ca_status(cert)
                entries.append(BundleEntry(subject, _clean(_name(cert.issuer)), fp, cert.not_valid_before_utc,
                                           cert.not_valid_after_utc, is_ca, cert.issuer == cert.subject, source, der))
                parts.append(_comment(cert, fp, source) + _pem(der))

    from certdoctor import __version__

    n_added = sum(1 for e in entries if e.source.startswith("added"))
    header = (
        f"# CA bundle written by certdoctor {__version__}: {len(entries)} certificates "
        f"({len(entries) - n_added} from {base_label}, {n_added} added).\n"
        "# Use it as verify=/REQUESTS_CA_BUNDLE/SSL_CERT_FILE/PIP_CERT: it replaces the default store.\n"
        "# Rebuild it (certdoctor bundle) after upgrading certifi; do not edit certifi's cacert.pem.\n\n"
    ).encode("utf-8")
    pem = header + b"\n".join(parts)
    return BundleResult(pem, tuple(entries), tuple(dropped), tuple(warns), _clean(base_label), base_path)


def _same_file(a: Path, b: str) -> bool:
    try:
        return a.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def write_bundle(
    out: str | os.PathLike[str],
    add: Iterable[AddItem] = (),
    base: str | os.PathLike[str] = "certifi",
    allow_leaf: bool = False,
    now: _dt.datetime | None = None,
) -> BundleResult:
    """:func:`build_bundle`, then write it to ``out`` atomically (mode 0644); ``path`` is set.

    Refuses (``UsageError``) to overwrite certifi's own ``cacert.pem`` (it is replaced on every
    upgrade and shared by every program in the environment), and (``InputError``) to write a
    bundle with no certificate in it.
    """
    target = Path(out)
    if target.is_dir():
        raise UsageError(f"{target}: is a directory", "Give a file name, e.g. --out ca-bundle.pem.")
    result = build_bundle(add, base=base, allow_leaf=allow_leaf, now=now)
    return save_bundle(result, target)


def save_bundle(result: BundleResult, out: str | os.PathLike[str]) -> BundleResult:
    """Write a built bundle to ``out`` atomically (mode 0644); the same refusals as :func:`write_bundle`."""
    from certdoctor.fsutil import atomic_write

    target = Path(out)
    if _same_file(target, certifi_path()):
        raise UsageError(f"refusing to overwrite certifi's own bundle {target}",
                         "Write a new file (e.g. --out ~/ca-bundle.pem) and point verify= at it.")
    if target.is_dir():
        raise UsageError(f"{target}: is a directory", "Give a file name, e.g. --out ca-bundle.pem.")
    if not result.entries:
        raise InputError(f"the bundle for {target} would hold no certificate",
                         "Add a CA certificate, or use --base certifi / system.")
    try:
        written = atomic_write(target, result.pem, mode=0o644)
    except OSError as exc:
        raise InputError(f"cannot write {target}: {exc.strerror or exc}", "Check the directory and permissions.") from exc
    return replace(result, path=str(written))


# --------------------------------------------------------------------------- audit

_CERTIFI_INDEX: dict[tuple, tuple[frozenset[str], dict[bytes, str]]] = {}


def _certifi_index() -> tuple[frozenset[str], dict[bytes, str], str | None]:
    """(fingerprints, subject DER -> fingerprint) of the installed certifi, and its version.

    Memoised per (path, mtime, size): an upgraded certifi file is read again.
    """
    try:
        path = certifi_path()
        st = os.stat(path)
        key = (path, st.st_mtime_ns, st.st_size)
    except Exception:
        return frozenset(), {}, None
    cached = _CERTIFI_INDEX.get(key)
    if cached is None:
        try:
            data = _read(path, "certifi bundle")
        except Exception:
            return frozenset(), {}, None
        certs, _ = parse_pem_bundle(data)
        subjects: dict[bytes, str] = {}
        fps: set[str] = set()
        for c in certs:
            fp = _fp(_der(c))
            fps.add(fp)
            try:
                subjects.setdefault(c.subject.public_bytes(), fp)
            except Exception:  # pragma: no cover
                pass
        cached = (frozenset(fps), subjects)
        _CERTIFI_INDEX.clear()
        _CERTIFI_INDEX[key] = cached
    return cached[0], cached[1], certifi_version()


def check_bundle(source: str | os.PathLike[str] | bytes, *, now: _dt.datetime | None = None) -> BundleAudit:
    """Audit a bundle (a path, or its bytes): every defect as a :class:`~certdoctor.model.Finding`.

    Raises :class:`~certdoctor.errors.InputError` only when the file cannot be read; any
    content, however broken, gives findings.

        >>> audit = check_bundle("ca-bundle.pem")                              # doctest: +SKIP
        >>> audit.exit_code, [f.code.value for f in audit.findings]            # doctest: +SKIP
        (1, ['BUNDLE_DUPLICATE'])
    """
    now = _now(now)
    if isinstance(source, (bytes, bytearray, memoryview)):
        data, label = bytes(source), "(bytes)"
        if len(data) > MAX_BYTES:
            raise InputError(f"{len(data)} bytes is too large for a certificate bundle", None)
    else:
        data, label = _read(source, "bundle"), str(source)
    where_file = None if isinstance(source, (bytes, bytearray, memoryview)) else label
    findings: list[Finding] = []
    F = BundleCode

    if not data.strip():
        findings.append(_finding(
            F.BUNDLE_EMPTY, Severity.ERROR, f"{label} is empty",
            "Python refuses an empty CA file ([X509: NO_CERTIFICATE_OR_CRL_FOUND]); requests then fails every HTTPS call.",
            "Rebuild it: certdoctor bundle --add your-ca.pem --out ca-bundle.pem", path=where_file))
        return BundleAudit(label, 0, 0, certifi_version(), tuple(findings))

    blocks = _blocks(data)
    certifi_fps, certifi_subjects, cver = _certifi_index()
    cname = f"certifi {cver}" if cver else "certifi"
    first_seen: dict[str, int] = {}
    parsed = 0
    with _quiet():
        for b in blocks:
            where = f"block {b.number} (line {b.line})"
            if b.label not in CERT_LABELS:
                if "PRIVATE KEY" in b.label:
                    findings.append(_finding(
                        F.BUNDLE_UNPARSEABLE, Severity.ERROR, f"{where} is a {b.label}, not a certificate",
                        "A private key does not belong in a CA bundle: Python fails to load the file "
                        "([X509] PEM lib), and everyone who can read the bundle has the key.",
                        "Remove the block; if the bundle was shared, treat the key as leaked and replace it.",
                        path=where_file, block=b.number, line=b.line))
                elif b.label == "X509 CRL":
                    findings.append(_finding(
                        F.BUNDLE_UNPARSEABLE, Severity.INFO, f"{where} is a CRL, not a certificate",
                        "OpenSSL loads it, but Python only consults CRLs when VERIFY_CRL_CHECK_* is set.",
                        "Keep CRLs in their own file.", path=where_file, block=b.number, line=b.line))
                else:
                    findings.append(_finding(
                        F.BUNDLE_UNPARSEABLE, Severity.WARNING,
                        f"{where} is a '{_clean(b.label)[:60]}' block, not a certificate",
                        "OpenSSL skips blocks it does not know; other tools may not.",
                        "Remove the block.", path=where_file, block=b.number, line=b.line))
                continue
            cert, why = _parse_block(b)
            if cert is None:
                findings.append(_finding(
                    F.BUNDLE_UNPARSEABLE, Severity.ERROR, f"{where} cannot be parsed: {why}",
                    "One broken certificate block makes Python refuse the whole file "
                    "(ssl.SSLError: [X509] PEM lib), so every HTTPS call with this bundle fails.",
                    f"Delete that block (from line {b.line}) or replace it with the certificate re-exported in PEM.",
                    path=where_file, block=b.number, line=b.line))
                continue
            try:
                findings.extend(_check_cert(cert, b, where, now, first_seen, certifi_fps, certifi_subjects, cname,
                                            where_file))
                parsed += 1
            except Exception as exc:  # a field cryptography cannot read: report it, never crash
                findings.append(_finding(
                    F.BUNDLE_UNPARSEABLE, Severity.ERROR,
                    f"{where} cannot be read: {type(exc).__name__}: {str(exc)[:200]}",
                    "cryptography could not read the certificate; OpenSSL may reject it too.",
                    "Delete or replace that block.", path=where_file, block=b.number, line=b.line))

    if parsed == 0:
        extra = " (it looks like DER: a CA file must be PEM)" if data[:1] == b"\x30" else ""
        findings.append(_finding(
            F.BUNDLE_EMPTY, Severity.ERROR, f"{label} holds no usable certificate{extra}",
            "With no certificate the client trusts nothing, and Python refuses the file outright.",
            "Rebuild it: certdoctor bundle --add your-ca.pem --out ca-bundle.pem (certdoctor convert for DER).",
            path=where_file))
    return BundleAudit(label, len(blocks), parsed, cver, tuple(findings))


def _check_cert(cert, b: PemBlock, where: str, now, first_seen: dict[str, int],
                certifi_fps: frozenset[str], certifi_subjects: dict[bytes, str], cname: str,
                path: str | None = None) -> list[Finding]:
    F = BundleCode
    out: list[Finding] = []
    fp = _fp(_der(cert))
    subject = _display(cert)

    def add(code, severity, summary, explanation="", fix=""):
        out.append(_finding(code, severity, summary, explanation, fix, path=path, block=b.number, line=b.line,
                            subject=subject, fingerprint=fp))

    if fp in first_seen:
        add(F.BUNDLE_DUPLICATE, Severity.WARNING,
            f"{where} duplicates block {first_seen[fp]}: {subject}",
            "Harmless to OpenSSL, but a sign the bundle was concatenated more than once (e.g. appended on every deploy).",
            "Rebuild it with certdoctor bundle, which keeps one copy of each certificate.")
        return out
    first_seen[fp] = b.number
    na, nb = cert.not_valid_after_utc, cert.not_valid_before_utc
    if now > na:
        add(F.BUNDLE_EXPIRED, Severity.WARNING, f"{where} expired on {na:%Y-%m-%d}: {subject}",
            "An expired anchor verifies nothing, and with an old OpenSSL it can make chain building pick an "
            "expired path (the DST Root CA X3 failure).",
            "Remove it, and add its successor if you still need that CA.")
    elif now < nb:
        add(F.BUNDLE_NOT_YET_VALID, Severity.WARNING, f"{where} is not valid before {nb:%Y-%m-%d}: {subject}",
            "It cannot anchor anything yet; or this machine's clock is wrong.",
            "Check the clock; otherwise remove it until it becomes valid.")
    is_ca, why = ca_status(cert)
    if not is_ca:
        add(F.BUNDLE_NOT_CA, Severity.WARNING, f"{where} is not a CA certificate ({why}): {subject}",
            "A server certificate in a bundle trusts exactly that certificate; it breaks at its next renewal, "
            "and on Python 3.13 (VERIFY_X509_PARTIAL_CHAIN) it is accepted as an anchor on its own.",
            "Put the CA that issued it in the bundle instead.")
    if certifi_fps and fp not in certifi_fps:
        try:
            same_subject = certifi_subjects.get(cert.subject.public_bytes())
        except Exception:  # pragma: no cover
            same_subject = None
        if same_subject:
            summary = (f"{where} is not in {cname}, which holds a different certificate with the same subject: "
                       f"{subject}")
            explanation = ("The CA re-issued this root (or certifi replaced it); the copy in this bundle is "
                           "not the one certifi trusts today.")
        elif cert.issuer == cert.subject:
            summary = f"{where} is a root not in {cname}: {subject}"
            explanation = ("Either a private CA you added on purpose, or a public root that Mozilla removed "
                           "(certifi drops distrusted roots): servers chaining only to it fail for every client "
                           "using plain certifi.")
        else:
            summary = f"{where} is not in {cname} (certifi holds only roots): {subject}"
            explanation = "An intermediate or other non-root certificate; fine if you added it on purpose."
        add(F.BUNDLE_NOT_IN_CERTIFI, Severity.INFO, summary, explanation,
            "If it is a public root certifi removed, ask the server operator to move to a current root.")
    return out


__all__ = [
    "BundleCode",
    "BundleWarning",
    "BundleFinding",
    "BundleEntry",
    "DroppedCert",
    "BundleResult",
    "BundleAudit",
    "build_bundle",
    "write_bundle",
    "save_bundle",
    "check_bundle",
    "parse_pem_bundle",
    "ca_status",
    "certifi_path",
    "certifi_version",
    "system_bundle_path",
    "SYSTEM_BUNDLE_PATHS",
    "MAX_BYTES",
]
