"""The one minimal DER reader (and writer) of certdoctor: tag-length-value, no schema.

Used where cryptography refuses bytes that OpenSSL reads: a file's structure (``x509/load.py``:
truncation, PKCS#12 iteration counts) and a certificate's extensions one by one
(``model.CertInfo``: an empty EKU or a malformed AIA must not hide the SAN and the AKI).
Nothing here raises anything but :class:`DerError`, whatever the input.

    >>> tag, header, length = tlv(b"\\x30\\x03\\x02\\x01\\x05")
    >>> (tag, header, length)
    (48, 2, 3)
    >>> children(b"\\x02\\x01\\x05")
    [(2, b'\\x05')]
"""

from __future__ import annotations


class DerError(Exception):
    """The bytes are not the DER element they were read as."""


def tlv(buf: bytes, pos: int = 0) -> tuple[int, int, int | None]:
    """(tag byte, header length, content length or None for BER indefinite) at ``pos``."""
    n = len(buf)
    if pos >= n:
        raise DerError("no data")
    tag = buf[pos]
    i = pos + 1
    if tag & 0x1F == 0x1F:  # high tag number form
        while True:
            if i >= n:
                raise DerError("truncated tag")
            b = buf[i]
            i += 1
            if not b & 0x80:
                break
            if i - pos > 6:
                raise DerError("tag too long")
    if i >= n:
        raise DerError("truncated length")
    first = buf[i]
    i += 1
    if first < 0x80:
        return tag, i - pos, first
    if first == 0x80:
        return tag, i - pos, None
    count = first & 0x7F
    if count > 8:
        raise DerError("length too long")
    if i + count > n:
        raise DerError("truncated length")
    length = int.from_bytes(buf[i:i + count], "big")
    return tag, i + count - pos, length


def children(buf: bytes, limit: int = 64) -> list[tuple[int, bytes]]:
    """The (tag, content) elements of a DER constructed value's content; as many as parse
    (``[]`` if none does), at most ``limit``."""
    out: list[tuple[int, bytes]] = []
    pos = 0
    try:
        while pos < len(buf) and len(out) < limit:
            tag, hl, length = tlv(buf, pos)
            if length is None or pos + hl + length > len(buf):
                return out
            out.append((tag, buf[pos + hl:pos + hl + length]))
            pos += hl + length
    except DerError:
        pass
    return out


def strict_children(buf: bytes, limit: int = 10_000) -> list[tuple[int, bytes]]:
    """Like :func:`children`, but every byte must belong to an element: :class:`DerError` when
    the content is cut, indefinite-length or has more than ``limit`` elements."""
    out: list[tuple[int, bytes]] = []
    pos = 0
    while pos < len(buf):
        tag, hl, length = tlv(buf, pos)
        if length is None:
            raise DerError("indefinite length")
        if pos + hl + length > len(buf):
            raise DerError("element runs past its container")
        out.append((tag, buf[pos + hl:pos + hl + length]))
        pos += hl + length
        if len(out) > limit:
            raise DerError("too many elements")
    return out


def element(buf: bytes) -> tuple[int, bytes]:
    """The one (tag, content) element ``buf`` is: :class:`DerError` if it is not exactly one."""
    tag, hl, length = tlv(buf)
    if length is None or hl + length != len(buf):
        raise DerError("not exactly one DER element")
    return tag, buf[hl:]


def oid(content: bytes) -> str:
    """The dotted form of an OBJECT IDENTIFIER's content octets."""
    if not content or content[-1] & 0x80:
        raise DerError("bad OBJECT IDENTIFIER")
    arcs: list[int] = []
    value = 0
    for b in content:
        value = (value << 7) | (b & 0x7F)
        if not b & 0x80:
            arcs.append(value)
            value = 0
    first = arcs[0]
    head = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    return ".".join(str(a) for a in head + arcs[1:])


def encode(tag: int, content: bytes) -> bytes:
    """One DER element (definite length)."""
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(raw)]) + raw + content


__all__ = ["DerError", "tlv", "children", "strict_children", "element", "oid", "encode"]
