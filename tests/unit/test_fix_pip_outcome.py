"""What `pip download -vvv` printed → the pip proof of `fix --client pip` (the real runs are in
tests/integration/test_fix_pip.py): an HTTP answer of the index, a 404 included, is a TLS success;
a TLS failure in pip's words is not; nor is any other failure."""

from __future__ import annotations

import pytest

from certdoctor.remedies.fix import pip_outcome

TLS_FAIL = (
    "Looking in indexes: https://127.0.0.1:40763/simple/\n"
    "Could not fetch URL https://127.0.0.1:40763/simple/x/: There was a problem confirming the ssl certificate: "
    "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local issuer certificate "
    "(_ssl.c:1006) - skipping\n"
    "ERROR: Could not find a version that satisfies the requirement x (from versions: none)\n"
    "ERROR: No matching distribution found for x\n")
NOT_FOUND = (
    'https://127.0.0.1:46831 "GET /simple/x/ HTTP/1.1" 404 330\n'
    "Status code 404 not in (200, 203, 300, 301, 308)\n"
    "Could not fetch URL https://127.0.0.1:46831/simple/x/: 404 Client Error: Not Found for url: "
    "https://127.0.0.1:46831/simple/x/ - skipping\n"
    "ERROR: Could not find a version that satisfies the requirement x (from versions: none)\n")
WRONG_TYPE = (
    'https://good.lab.test:443 "GET /simple/x/ HTTP/1.1" 200 2\n'
    "WARNING: Skipping page https://good.lab.test/simple/x/ because the GET request got Content-Type: text/plain\n"
    "ERROR: No matching distribution found for x\n")
REFUSED = (
    "Could not fetch URL https://127.0.0.1:9/simple/x/: connection error: HTTPSConnectionPool(host='127.0.0.1', "
    "port=9): Max retries exceeded (Caused by NewConnectionError('Failed to establish a new connection: "
    "[Errno 111] Connection refused')) - skipping\n"
    "ERROR: No matching distribution found for x\n")


def test_a_404_from_the_index_is_a_tls_success():
    p = pip_outcome(NOT_FOUND, 1)
    assert p.ok is True and p.status == 404 and p.error is None and p.client == "pip"


def test_a_page_pip_skips_is_a_tls_success():
    p = pip_outcome(WRONG_TYPE, 1)
    assert p.ok is True and p.status == 200


def test_a_tls_failure_is_not_a_success_and_quotes_pip():
    p = pip_outcome(TLS_FAIL, 1)
    assert p.ok is False and "CERTIFICATE_VERIFY_FAILED" in p.error and p.status is None


@pytest.mark.parametrize("text", [REFUSED, "", "/usr/bin/python: No module named pip\n", "Traceback ...\nBoom\n"])
def test_any_other_failure_is_not_a_success(text):
    p = pip_outcome(text, 1)
    assert p.ok is False and p.error
