"""certdoctor.x509.pem: the one PEM block scanner behind load, bundle --check and the trust anchors."""

from __future__ import annotations

import base64

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.pki import der, pem

from certdoctor.x509.pem import ANYWHERE, LINES, der_prefix, pem_blocks


def _shape(data: bytes, markers: str = ANYWHERE) -> list[tuple]:
    return [(b.number, b.line, b.label, b.end, b.cut_line) for b in pem_blocks(data, markers=markers)]


def test_numbers_lines_and_broken_blocks():
    data = (b"# notes\n-----BEGIN A-----\nAAAA\n-----END A-----\n"  # 1: fine, line 2
            b"-----END STRAY-----\n"                                 # ignored
            b"-----BEGIN B-----\nBBBB\n"                             # 2: cut by 3, line 6
            b"-----BEGIN C-----\n-----END D-----\n"                  # 3: mismatched END
            b"-----BEGIN E-----\nEEEE\n")                            # 4: the data ends first
    assert _shape(data) == [(1, 2, "A", "A", None), (2, 6, "B", None, 8), (3, 8, "C", "D", None),
                            (4, 10, "E", None, None)]
    first, *_ = pem_blocks(data)
    assert first.body == b"\nAAAA\n"


def test_markers_anywhere_or_alone_on_their_line(pki_ec):
    one_line = pem(pki_ec.root).replace(b"\n", b" ")  # a PEM from an environment variable
    (block,) = pem_blocks(one_line)
    assert base64.b64decode(b"".join(block.body.split())) == der(pki_ec.root)
    assert _shape(one_line, LINES) == []  # OpenSSL does not load it, so bundle --check must not either
    commented = b"# paste it between -----BEGIN CERTIFICATE----- and -----END CERTIFICATE-----\n" + pem(pki_ec.root)
    assert [b.line for b in pem_blocks(commented, markers=LINES)] == [2]
    assert len(_shape(commented)) == 2
    padded = b"\xef\xbb\xbf" + b"  -----BEGIN CERTIFICATE-----\r\nAAAA\r\n\t-----END CERTIFICATE----- \r\n"
    assert _shape(padded, LINES) == [(1, 1, "CERTIFICATE", "CERTIFICATE", None)]


def test_der_prefix_drops_openssl_trust_settings(pki_ec):
    cert = der(pki_ec.root)
    assert der_prefix(cert + bytes([0x30, 0x03, 0x06, 0x01, 0x00])) == cert
    assert der_prefix(cert) == cert
    for odd in (b"", b"\x30", b"\x04\x01\x00", b"\x30\x80\x00\x00", b"\x30\x85\x00\x00\x00\x00\x01\x00"):
        assert der_prefix(odd) == odd  # not a definite-length SEQUENCE: left as it is


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from([b"-----BEGIN CERTIFICATE-----", b"-----END CERTIFICATE-----", b"-----BEGIN X-----",
                                 b"-----END X-----", b"\n", b"\r\n", b" ", b"AAAA", b"\xa0", b"\xef\xbb\xbf"])
                | st.binary(max_size=40), max_size=20).map(b"".join),
       st.sampled_from([ANYWHERE, LINES]))
def test_any_input_gives_consecutive_blocks_in_order(data, markers):
    blocks = list(pem_blocks(data, markers=markers))
    assert [b.number for b in blocks] == list(range(1, len(blocks) + 1))
    assert [b.line for b in blocks] == sorted(b.line for b in blocks)
    for b in blocks:
        assert b.body in data and (b.end is not None or not b.body)
        assert b.cut_line is None or (b.end is None and b.cut_line >= b.line)
