"""Certificates to PEM, DER or PKCS#7; chains put in leaf → root order; one file per certificate.

    >>> from certdoctor.x509.convert import convert
    >>> result = convert("chain.p7b", "full_chain.pem", order=True)    # doctest: +SKIP
    >>> [w.path.name for w in result.written]                           # doctest: +SKIP
    ['full_chain.pem']

Everything is computed before the first byte is written, and every file is written atomically
(a temp file beside it, then ``os.replace``): a failed conversion leaves no half-written output.
A PKCS#12 private key is written only when asked (``with_key=True``), unencrypted (like
``openssl pkcs12 -nodes``) and with mode 0600.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from certdoctor.errors import InputError, UsageError
from certdoctor.fsutil import is_stdout, resolve_output, write_atomic
from certdoctor.x509.load import LoadedFile, load_bundle_file

if TYPE_CHECKING:  # pragma: no cover
    from cryptography import x509

    from certdoctor.model import ChainInfo

#: ``--to`` values. ``p7b`` is binary (DER) PKCS#7 as Windows and Java write it; ``p7b-pem`` is
#: the ``-----BEGIN PKCS7-----`` form that ``openssl crl2pkcs7`` writes by default.
OUTPUT_FORMATS = ("pem", "der", "p7b", "p7b-pem")
#: The format an output file's suffix asks for; any other suffix means PEM.
SUFFIX_FORMATS = {
    ".pem": "pem",
    ".crt": "pem",
    ".cert": "pem",
    ".cer": "der",  # Windows' "DER encoded binary X.509 (.CER)"
    ".der": "der",
    ".p7b": "p7b",
    ".p7c": "p7b",
    ".p7": "p7b",
}
EXTENSIONS = {"pem": ".pem", "der": ".der", "p7b": ".p7b", "p7b-pem": ".p7b"}
KEY_MODE = 0o600


@dataclass(frozen=True, slots=True)
class ChainOrder:
    """A leaf → root order of some certificates (indices into the input).

    ``path`` is the leaf's issuing path, leaf first; ``off_path`` the rest, in input order.
    ``order`` is ``path + off_path``.
    """

    order: tuple[int, ...]
    path: tuple[int, ...]
    off_path: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class WrittenFile:
    """One file written: what it holds, in which format, with which permission bits."""

    path: Path
    kind: str  # "certificates" | "private-key"
    format: str
    count: int
    mode: int
    names: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ConvertResult:
    """What :func:`convert` read and wrote.

    ``order`` lists input indices in the order they were written. ``off_path`` (input indices)
    is empty unless ``order=True`` found certificates outside the leaf's path.
    ``key_skipped`` is True when the input held a private key that was not written.
    """

    source: str
    input_format: str
    input_count: int
    output_format: str
    written: tuple[WrittenFile, ...]
    order: tuple[int, ...]
    ordered: bool
    off_path: tuple[int, ...]
    key_written: bool
    key_skipped: bool
    notes: tuple[str, ...]


# --------------------------------------------------------------------------- pieces

def format_for_path(path: str | os.PathLike[str] | None) -> str:
    """The output format an ``OUT`` file name asks for (PEM when the suffix says nothing)."""
    if path is None:
        return "pem"
    suffix = Path(path).suffix.lower()
    if suffix in (".p12", ".pfx"):
        raise UsageError(
            f"{path}: certdoctor does not write PKCS#12",
            "Use `openssl pkcs12 -export -in chain.pem -inkey key.pem -out out.p12`.",
        )
    return SUFFIX_FORMATS.get(suffix, "pem")


def serialize(certs: "list[x509.Certificate] | tuple[x509.Certificate, ...]", fmt: str) -> bytes:
    """``certs`` as one file in ``fmt`` (see :data:`OUTPUT_FORMATS`)."""
    from cryptography.hazmat.primitives.serialization import Encoding, pkcs7

    if fmt not in OUTPUT_FORMATS:
        raise UsageError(f"unknown output format {fmt!r}", f"Use one of: {', '.join(OUTPUT_FORMATS)}.")
    if not certs:
        raise InputError("no certificate to write")
    if fmt == "pem":
        return b"".join(c.public_bytes(Encoding.PEM) for c in certs)
    if fmt == "der":
        if len(certs) != 1:
            raise UsageError(
                f"DER holds exactly one certificate; there are {len(certs)}",
                "Use --to pem or --to p7b for the whole chain, or --split DIR for one DER file each.",
            )
        return certs[0].public_bytes(Encoding.DER)
    return pkcs7.serialize_certificates(list(certs), Encoding.DER if fmt == "p7b" else Encoding.PEM)


def order_chain(certs: "list[x509.Certificate] | tuple[x509.Certificate, ...]") -> ChainOrder:
    """Find the leaf (a certificate that signed none of the others; an end-entity one first,
    then the one with the longest path) and return leaf → … → root, then the rest."""
    from certdoctor.model import ChainInfo

    return chain_order(ChainInfo.analyse(certs))


def chain_order(chain: "ChainInfo", leaf: int | None = None) -> ChainOrder:
    """:func:`order_chain` for an analysed chain; ``leaf`` forces the leaf (a server's is index 0)."""
    n = len(chain.certs)
    if n == 0:
        return ChainOrder((), (), ())
    parent_of: dict[int, int] = {}
    for link in chain.links:  # the first issuer found, as ChainInfo.analyse does
        parent_of.setdefault(link.child, link.parent)

    def path_from(i: int) -> list[int]:
        path, seen = [i], {i}
        while path[-1] in parent_of and parent_of[path[-1]] not in seen:
            path.append(parent_of[path[-1]])
            seen.add(path[-1])
        return path

    if leaf is None:
        parents = set(parent_of.values())
        candidates = [i for i in range(n) if i not in parents] or list(range(n))

        def rank(i: int) -> tuple[bool, int, int]:
            return (chain.certs[i].is_ca is True, -len(path_from(i)), i)

        leaf = min(candidates, key=rank)
    path = tuple(path_from(leaf))
    off = tuple(i for i in range(n) if i not in path)
    return ChainOrder(path + off, path, off)


def cert_roles(chain: "ChainInfo") -> tuple[str, ...]:
    """``leaf``, ``intermediate``, ``root`` or ``self-signed`` (a self-signed end-entity) per certificate."""
    roles = []
    for c in chain.certs:
        if c.self_signed:
            roles.append("self-signed" if c.is_ca is False or (c.is_ca is None and c.san_dns) else "root")
        elif c.is_ca:
            roles.append("intermediate")
        else:
            roles.append("leaf")
    return tuple(roles)


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(text: str, limit: int = 60) -> str:
    """A file-name-safe version of a certificate name: ``*.example.com`` → ``wildcard.example.com``."""
    text = text.replace("*", "wildcard")
    text = _UNSAFE.sub("_", text).strip("._-")
    text = re.sub(r"_+", "_", text)[:limit].rstrip("._-")
    return text or "unnamed"


def split_names(chain: "ChainInfo", fmt: str) -> tuple[str, ...]:
    """One readable, unique file name per certificate: ``00-leaf-www.example.com.pem``."""
    roles = cert_roles(chain)
    ext = EXTENSIONS[fmt]
    names = []
    for i, (info, role) in enumerate(zip(chain.certs, roles)):
        label = info.common_name or (info.san_dns[0] if info.san_dns else None) or info.subject or info.serial
        names.append(f"{i:02d}-{role}-{safe_name(label)}{ext}")
    return tuple(names)


def _key_pem(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


# --------------------------------------------------------------------------- the conversion

def convert(
    src: str | os.PathLike[str],
    out: str | os.PathLike[str] | None,
    *,
    to: str | None = None,
    order: bool = False,
    split_dir: str | os.PathLike[str] | None = None,
    with_key: bool = False,
    key_out: str | os.PathLike[str] | None = None,
    password: bytes | str | None = None,
    force: bool = False,
) -> ConvertResult:
    """Read ``src`` (any format :mod:`certdoctor.x509.load` reads) and write ``out`` and/or ``split_dir``."""
    if out is None and split_dir is None:
        raise UsageError("nothing to write: give OUT, --split DIR, or both")
    if key_out is not None and not with_key:
        raise UsageError("--key-out needs --with-key", "Add --with-key to write the private key.")
    fmt = to or format_for_path(out)
    if fmt not in OUTPUT_FORMATS:
        raise UsageError(f"unknown output format {fmt!r}", f"Use one of: {', '.join(OUTPUT_FORMATS)}.")
    loaded = load_bundle_file(src, password=password)
    return convert_loaded(loaded, out, fmt=fmt, order=order, split_dir=split_dir, with_key=with_key,
                          key_out=key_out, force=force)


def convert_loaded(
    loaded: LoadedFile,
    out: str | os.PathLike[str] | None,
    *,
    fmt: str = "pem",
    order: bool = False,
    split_dir: str | os.PathLike[str] | None = None,
    with_key: bool = False,
    key_out: str | os.PathLike[str] | None = None,
    force: bool = False,
) -> ConvertResult:
    """:func:`convert` for certificates already loaded.

    ``out`` (and ``key_out``) may be ``-``: standard output. An existing key file is never
    replaced unless ``force``; every target is checked before the first byte is written."""
    from certdoctor.model import ChainInfo

    certs = list(loaded.certificates)
    notes = list(loaded.notes)
    off_path: tuple[int, ...] = ()
    if order:
        co = order_chain(certs)
        indices = co.order
        off_path = co.off_path
        for i in co.off_path:
            notes.append(f"certificate {i} of the input is not on the leaf's path; written last")
    else:
        indices = tuple(range(len(certs)))
    ordered_certs = [certs[i] for i in indices]
    if order and fmt.startswith("p7b") and out is not None and len(certs) > 1:
        notes.append("PKCS#7 keeps certificates in a SET: readers need not keep the order; "
                     "use PEM for an ordered chain")

    # everything is built before anything is written
    plan: list[tuple[Path, bytes, int, WrittenFile]] = []
    if out is not None:
        data = serialize(ordered_certs, fmt)
        target = Path(out)
        plan.append((target, data, 0o644, WrittenFile(target, "certificates", fmt, len(ordered_certs), 0o644)))
    if split_dir is not None:
        chain = ChainInfo.analyse(ordered_certs)
        names = split_names(chain, fmt)
        directory = Path(split_dir)
        if directory.exists() and not directory.is_dir():
            raise UsageError(f"--split {directory}: exists and is not a directory")
        for cert, name in zip(ordered_certs, names):
            target = directory / name
            data = serialize([cert], "der" if fmt == "der" else fmt)
            plan.append((target, data, 0o644, WrittenFile(target, "certificates", fmt, 1, 0o644, (name,))))

    key_written = False
    if with_key:
        if loaded.private_key is None:
            raise InputError(
                f"{loaded.source}: holds no private key",
                "--with-key writes the key of a PKCS#12 file; this input has none.",
            )
        if key_out is not None:
            key_path = Path(key_out)
        elif out is not None and not is_stdout(out):
            key_path = Path(out).with_suffix(".key")
        elif out is not None:
            raise UsageError("--with-key with OUT - needs --key-out PATH", "Name the key's file with --key-out.")
        else:
            raise UsageError("--with-key without OUT needs --key-out PATH")
        plan.append((key_path, _key_pem(loaded.private_key), KEY_MODE,
                     WrittenFile(key_path, "private-key", "pem", 0, KEY_MODE)))
        key_written = True
    elif loaded.private_key is not None:
        notes.append("the input's private key was not written (add --with-key to write it, mode 0600)")

    # one output inside another (OUT given as the --split DIR): said before anything is written
    # (the split directory would be made, then OUT refused as a directory); two outputs on the
    # same file are refused below, once the paths are resolved
    targets = [(Path(os.path.abspath(path)), path) for path, _d, _m, _i in plan if not is_stdout(path)]
    for a, shown_a in targets:
        for b, shown_b in targets:
            if a in b.parents:
                raise UsageError(f"{shown_b} would be written inside the output {shown_a}",
                                 "Give OUT and --split DIR (and --key-out) different paths, e.g. chain.pem --split certs/.")
    # every target checked before the first byte: a bad path or a key that exists writes nothing
    resolved = []
    for path, _data, mode, info in plan:
        if is_stdout(path):
            resolved.append("-")
            continue
        if info.kind == "certificates" and split_dir is not None and path.parent == Path(split_dir):
            resolved.append(os.path.abspath(path))
            continue
        where, st = resolve_output(path, "OUT" if info.kind == "certificates" else "--key-out", parents=True)
        if st is not None and info.kind == "private-key" and not force:
            raise UsageError(f"{path} already exists: refusing to replace a private key",
                             "Give another --key-out, move the old key away, or add --force to replace it.")
        resolved.append(os.path.realpath(where))
    if len(set(resolved)) != len(resolved):
        raise UsageError("two outputs would go to the same file",
                         "Give --key-out a path different from OUT (the key goes to OUT's stem + .key).")
    src_abs = os.path.realpath(loaded.source)
    if with_key and src_abs == resolved[-1]:
        raise UsageError("the key would overwrite the input file", "Give --key-out another path.")
    if split_dir is not None:
        directory = Path(split_dir)
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"--split {directory}: cannot be created ({exc.strerror or exc})",
                             "Give a directory you can write.") from None

    written = []
    for path, data, mode, info in plan:
        # a key is created exclusively unless --force: one that appeared meanwhile is kept too
        write_atomic(path, data, mode=mode, exclusive=info.kind == "private-key" and not force,
                     what="OUT" if info.kind == "certificates" else "--key-out")
        written.append(info)
    return ConvertResult(
        source=loaded.source,
        input_format=loaded.format,
        input_count=len(certs),
        output_format=fmt,
        written=tuple(written),
        order=tuple(indices),
        ordered=order,
        off_path=off_path,
        key_written=key_written,
        key_skipped=loaded.private_key is not None and not with_key,
        notes=tuple(notes),
    )


__all__ = [
    "OUTPUT_FORMATS",
    "SUFFIX_FORMATS",
    "KEY_MODE",
    "ChainOrder",
    "WrittenFile",
    "ConvertResult",
    "format_for_path",
    "serialize",
    "order_chain",
    "chain_order",
    "cert_roles",
    "safe_name",
    "split_names",
    "convert",
    "convert_loaded",
]
