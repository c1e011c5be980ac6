"""``certdoctor inspect``: the certificates of a file, or the chain a server presents, analysed.

The stage behind the command (the CLI parses and renders): read or fetch, then
:meth:`certdoctor.render.inspect.Inspection.of` analyses how the certificates fit together.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from certdoctor import policy
from certdoctor.model import ChainInfo

if TYPE_CHECKING:  # pragma: no cover
    from cryptography import x509

@dataclass(frozen=True, slots=True)
class KeyInfo:
    """A private key found beside the certificates (PKCS#12): its type and which certificate it fits.

    ``matches`` is the index of the certificate with the same public key, ``None`` if none does.
    """

    key_type: str
    key_size: int | None
    matches: int | None


@dataclass(frozen=True, slots=True)
class ChainShape:
    """A chain seen from its leaf (indices into the certificates as given).

    A server's leaf is what it sends first (index 0), as :class:`ChainInfo` assumes; in a file the
    leaf is found by content (a certificate that signed none of the others, an end-entity one
    first), so a root-first file has its leaf last. ``in_order`` is True when the path is
    0, 1, 2… and nothing else is there (``None`` for no certificates). ``suggested_order`` is
    what ``convert --order`` writes: the path from the leaf found by content, then the rest.
    ``bundle`` is True for a file of CA certificates only, in several trees (a CA bundle): it has no
    leaf, so "off the path" means nothing there.
    """

    leaf: int | None
    path: tuple[int, ...]
    off_path: tuple[int, ...]
    in_order: bool | None
    root_included: bool
    complete: bool
    suggested_order: tuple[int, ...]
    bundle: bool = False

    @classmethod
    def of(cls, chain: ChainInfo, *, leaf: int | None = None) -> "ChainShape":
        """``leaf=None`` finds the leaf by content; ``leaf=0`` reads the chain as a server sends it."""
        from certdoctor.x509.convert import chain_order

        if not chain.certs:
            return cls(None, (), (), None, False, False, ())
        co = chain_order(chain, leaf)
        in_order = co.path == tuple(range(len(co.path))) and not co.off_path
        root_included = any(chain.certs[i].self_signed for i in co.path)
        complete = chain.certs[co.path[-1]].self_signed
        suggested = co.order if leaf is None else chain_order(chain).order  # what `convert --order` writes
        # only CA certificates, in more than one tree: a trust bundle, not one server's chain
        bundle = leaf is None and bool(co.off_path) and all(c.is_ca or c.self_signed for c in chain.certs)
        return cls(co.path[0], co.path, co.off_path, in_order, root_included, complete, suggested, bundle)


@dataclass(frozen=True, slots=True)
class AnchorCheck:
    """Does the leaf's path reach a CA of a bundle you trust (``--ca-file``)?

    ``via`` is the index of the first certificate on the path that is in the bundle, or that a CA
    of the bundle signed; ``anchor`` and ``anchor_fingerprint`` name that CA (``None`` when the path
    reaches none). Names and signatures only: dates, host names and key usages are shown by the
    other lines, and the verdict of a real client is ``certdoctor diagnose``.
    """

    ca_file: str
    reached: bool
    via: int | None
    anchor: str | None
    anchor_fingerprint: str | None

    @classmethod
    def of(cls, certs: "tuple[x509.Certificate, ...] | list[x509.Certificate]", path: tuple[int, ...],
           ca_certs: "tuple[x509.Certificate, ...] | list[x509.Certificate]", ca_file: str) -> "AnchorCheck":
        from certdoctor.model import fingerprint_sha256, issued_by

        by_fp = {fingerprint_sha256(c): c for c in ca_certs}
        for i in path:
            cert = certs[i]
            fp = fingerprint_sha256(cert)
            if fp in by_fp:
                return cls(ca_file, True, i, _subject(cert), fp)
            for ca in ca_certs:
                if ca.subject == cert.issuer and issued_by(cert, ca):
                    return cls(ca_file, True, i, _subject(ca), fingerprint_sha256(ca))
        return cls(ca_file, False, None, None, None)


def _subject(cert: "x509.Certificate") -> str:
    try:
        return cert.subject.rfc4514_string()
    except Exception:  # pragma: no cover - malformed names
        return repr(cert.subject)


@dataclass(frozen=True, slots=True)
class Inspection:
    """What ``certdoctor inspect`` shows: certificates of a file or of a server, and their chain.

    ``kind`` is ``"file"`` or ``"host"``. ``format`` is the file format (:data:`certdoctor.x509.load.FORMATS`)
    or ``"tls"`` for a server. ``host``/``port``/``servername`` are ``None`` for files.
    ``shape`` reads the chain from the leaf (see :class:`ChainShape`).
    ``hostname_match`` says whether the leaf covers ``servername`` (``None`` for files).
    ``anchor`` says whether the leaf's path reaches a CA of ``--ca-file`` (``None`` without one).
    """

    kind: str
    name: str
    format: str
    chain: ChainInfo
    shape: ChainShape
    host: str | None = None
    port: int | None = None
    servername: str | None = None
    hostname_match: bool | None = None
    private_key: KeyInfo | None = None
    notes: tuple[str, ...] = ()
    anchor: AnchorCheck | None = None

    @classmethod
    def of(cls, certs: "tuple[x509.Certificate, ...] | list[x509.Certificate]", *, kind: str, name: str,
           format: str, host: str | None = None, port: int | None = None, servername: str | None = None,
           private_key: Any = None, notes: tuple[str, ...] = (), now: _dt.datetime | None = None,
           ca_certs: "tuple[x509.Certificate, ...] | list[x509.Certificate] | None" = None,
           ca_file: str | None = None) -> "Inspection":
        """``ca_certs`` (read from ``ca_file``): also check whether the leaf's path reaches one."""
        chain = ChainInfo.analyse(certs, now)
        shape = ChainShape.of(chain, leaf=0 if kind == "host" else None)
        match = None
        if kind == "host" and chain.certs:
            match = chain.certs[0].covers_host(servername or host or "")
        anchor = None
        if ca_certs is not None:
            anchor = AnchorCheck.of(list(certs), shape.path, list(ca_certs), ca_file or "--ca-file")
        return cls(kind, name, format, chain, shape, host, port, servername, match,
                   key_info(private_key, certs) if private_key is not None else None, tuple(notes), anchor)


def key_info(key: Any, certs: "tuple[x509.Certificate, ...] | list[x509.Certificate]") -> KeyInfo:
    """Type and size of ``key`` and the index of the certificate whose public key it is."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    if isinstance(key, rsa.RSAPrivateKey):
        kt, ks = "RSA", key.key_size
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        kt, ks = f"EC {key.curve.name}", key.curve.key_size
    else:
        kt, ks = type(key).__name__.removesuffix("PrivateKey").lstrip("_") or "unknown", getattr(key, "key_size", None)
    match = None
    try:
        spki = key.public_key().public_bytes(serialization.Encoding.DER,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)
        for i, c in enumerate(certs):
            try:
                if c.public_key().public_bytes(serialization.Encoding.DER,
                                               serialization.PublicFormat.SubjectPublicKeyInfo) == spki:
                    match = i
                    break
            except Exception:
                continue
    except Exception:
        match = None
    return KeyInfo(kt, ks, match)



#: what ``inspect`` reads
KINDS = ("file", "stdin", "endpoint")


def inspect_source(source, *, password: str | None = None, servername: str | None = None,
                   timeout: float = policy.TIMEOUT_SECONDS, proxy: str | None = None, ca_file: str | None = None):
    """Load or fetch SOURCE's certificates and analyse them into a :class:`~certdoctor.render.inspect.Inspection`.

    ``source`` is text (classified here) or a :class:`~certdoctor.net.target.Source`. A host is
    reached through ``proxy`` (an ``http://`` CONNECT proxy), else through the one
    ``HTTPS_PROXY``/``ALL_PROXY``/``NO_PROXY`` name for it, as requests would. ``ca_file``: also
    say whether the leaf's path reaches one of its CAs.
    """
    from certdoctor.net.target import classify
    from certdoctor.trust.ca_file import ca_file_certificates
    from certdoctor.x509.load import read_source
    from certdoctor.errors import NetworkError, UsageError

    if isinstance(source, str):
        source = classify(source, servername=servername, kinds=KINDS)
    ca_certs = ca_file_certificates(ca_file)
    if not source.is_endpoint:
        if servername:
            raise UsageError("--servername applies to hosts, not files",
                             "Drop --servername, or give host[:port] or an https:// URL.")
        loaded = read_source(source, password=password)
        return Inspection.of(loaded.certificates, kind="file", name=loaded.source, format=loaded.format,
                             private_key=loaded.private_key, notes=loaded.notes, ca_certs=ca_certs,
                             ca_file=ca_file)
    if password is not None:
        raise UsageError("--password applies to PKCS#12 files, not hosts")
    from certdoctor.net.probe import fetch_chain
    from certdoctor.net.proxy import proxy_for_host

    t = source.target
    proxy = proxy_for_host(t.host, t.port, proxy)
    certs = fetch_chain(t.host, t.port, servername=servername, timeout=timeout, proxy=proxy)
    if not certs:
        raise NetworkError(f"{source.label}: the server presented no certificate")
    return Inspection.of(certs, kind="host", name=source.label, format="tls", host=t.host, port=t.port,
                         servername=servername or t.host, ca_certs=ca_certs, ca_file=ca_file)
