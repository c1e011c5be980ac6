"""PEM blocks in bytes: the one scanner behind ``load``, ``bundle --check`` and the trust anchors.

It only says where each block starts and ends, tolerating anything; what a broken block means
is the caller's business: :mod:`certdoctor.x509.load` raises, :func:`certdoctor.remedies.bundle.check_bundle`
reports it with its block number and line, :meth:`certdoctor.trust.effective.EffectiveTrust.anchors`
skips it, as OpenSSL does.

    >>> from certdoctor.x509.pem import pem_blocks
    >>> data = b"# notes\\n-----BEGIN CERTIFICATE-----\\nAAAA\\n-----END CERTIFICATE-----\\n-----BEGIN X-----\\n"
    >>> [(b.number, b.line, b.label, b.end, b.body) for b in pem_blocks(data)]
    [(1, 2, 'CERTIFICATE', 'CERTIFICATE', b'\\nAAAA\\n'), (2, 5, 'X', None, b'')]

Two ways to find the markers: :data:`ANYWHERE` (``load`` and the trust anchors read PEM pasted
into any text, a one-line PEM from an environment variable too) and :data:`LINES` (a marker
alone on its line, with only whitespace around it, the way OpenSSL reads a CA file; ``bundle
--check`` uses it so that it flags what OpenSSL would not load).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:  # pragma: no cover
    from cryptography import x509

#: The labels of a certificate block that OpenSSL's CA-file loader reads.
CERT_LABELS = ("CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE")

#: Markers anywhere in the data.
ANYWHERE = "anywhere"
#: Markers alone on their line.
LINES = "lines"

# what str.isspace() calls whitespace in latin-1 text, the newline apart
_SPACE = rb"[\t\x0b\x0c\r\x1c-\x1f \x85\xa0]"
_MARKERS = {
    ANYWHERE: (re.compile(rb"-----(BEGIN|END) ([^\-\r\n]{0,80})-----"), "ascii"),
    LINES: (re.compile(rb"^" + _SPACE + rb"*-----(BEGIN|END) ([^\-\n]*)-----" + _SPACE + rb"*$", re.M), "latin-1"),
}


@dataclass(frozen=True, slots=True)
class PemBlock:
    """One ``-----BEGIN …-----`` marker and what follows it.

    ``number`` counts blocks from 1; ``line`` is the 1-based line of the BEGIN marker.
    ``begin`` and ``end`` are the labels as written. ``end`` is ``None`` when another BEGIN or
    the end of the data comes first; ``cut_line`` is then the line of that BEGIN (``None`` at
    the end of the data). ``body`` is everything between the two markers, untouched (empty
    without an END).
    """

    number: int
    line: int
    begin: str
    end: str | None
    body: bytes
    cut_line: int | None = None

    @property
    def label(self) -> str:
        return self.begin.strip()


def pem_blocks(data: bytes, *, markers: str = ANYWHERE) -> Iterator[PemBlock]:
    """Every block of ``data`` in order, lazily (a caller that stops early scans no further).

    A BEGIN inside an open block ends that block without an END; an END outside any block is
    ignored, as OpenSSL does. A leading UTF-8 byte order mark is skipped.
    """
    pattern, encoding = _MARKERS[markers]
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    number = 0
    line, counted = 1, 0  # the line number at offset ``counted``
    pending: tuple[int, int, str, int] | None = None  # the open block: (number, line, label, body start)
    for m in pattern.finditer(data):
        label = m.group(2).decode(encoding, "replace")
        if m.group(1) == b"BEGIN":
            line += data.count(b"\n", counted, m.start())
            counted = m.start()
            if pending is not None:
                yield PemBlock(pending[0], pending[1], pending[2], None, b"", line)
            number += 1
            pending = (number, line, label, m.end())
        elif pending is not None:
            yield PemBlock(pending[0], pending[1], pending[2], label, data[pending[3]:m.start()])
            pending = None
    if pending is not None:
        yield PemBlock(pending[0], pending[1], pending[2], None, b"")


def der_prefix(der: bytes) -> bytes:
    """The first DER element of ``der``: a ``TRUSTED CERTIFICATE`` block holds the certificate,
    then OpenSSL's trust settings. Anything that does not start with a SEQUENCE of a definite
    length of at most four bytes is returned as it is."""
    if len(der) < 2 or der[0] != 0x30:
        return der
    first = der[1]
    if first < 0x80:
        return der[: 2 + first]
    n = first & 0x7F
    if not 0 < n <= 4 or len(der) < 2 + n:
        return der
    length = int.from_bytes(der[2 : 2 + n], "big")
    return der[: 2 + n + length]


def openssl_certificates(data: bytes) -> "tuple[x509.Certificate, ...]":
    """The certificates OpenSSL's CA-file loader takes from ``data``: blocks that don't parse are
    skipped, as OpenSSL skips them (the trust anchors of a client). For an *audit* of a bundle, which
    reports every broken block, see :func:`certdoctor.remedies.bundle.parse_pem_bundle`."""
    import warnings

    out: list[x509.Certificate] = []
    with warnings.catch_warnings():
        # OS bundles hold a few old roots with non-positive serials; cryptography warns on
        # each. They are what OpenSSL trusts, so they are listed, quietly.
        warnings.simplefilter("ignore")
        for block in pem_blocks(data):
            # the labels as written, untrimmed: "-----BEGIN CERTIFICATE -----" is no certificate to OpenSSL
            if block.begin in CERT_LABELS and block.end in CERT_LABELS:
                cert = _openssl_block(block.begin, block.body)
                if cert is not None:
                    out.append(cert)
    return tuple(out)


def _openssl_block(label: str, body: bytes) -> "x509.Certificate | None":
    import binascii

    from cryptography import x509

    try:
        der = binascii.a2b_base64(b"".join(body.split()))
    except (binascii.Error, ValueError):
        return None
    if label == "TRUSTED CERTIFICATE":
        der = der_prefix(der)
    try:
        return x509.load_der_x509_certificate(der)
    except Exception:
        return None


__all__ = ["ANYWHERE", "LINES", "CERT_LABELS", "PemBlock", "pem_blocks", "der_prefix", "openssl_certificates"]
