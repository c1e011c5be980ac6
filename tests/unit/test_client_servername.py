"""net/client.py's --servername helpers (pure): when a servername changes anything, and the Host
header it gives (the real runs: tests/integration/test_servername_client.py)."""

from __future__ import annotations

import pytest

from certdoctor.net.client import _host_header, _other_name


@pytest.mark.parametrize("url, servername, expected", [
    ("https://127.0.0.1:8443/", "good.lab.test", "good.lab.test"),
    ("https://127.0.0.1:8443/", "Good.Lab.Test.", "good.lab.test"),
    ("https://good.lab.test:8443/", "good.lab.test", None),
    ("https://good.lab.test:8443/", "GOOD.lab.test", None),
    ("https://good.lab.test/", None, None),
    ("https://good.lab.test/", "", None),
    ("https://[::1]:8443/", "::1", None),
    ("https://[::1]:8443/", "[::1]", None),
    ("https://good.lab.test/", "10.0.0.1", "10.0.0.1"),
])
def test_other_name(url, servername, expected):
    assert _other_name(url, servername) == expected


def test_host_header():
    assert _host_header("good.lab.test", 8443) == "good.lab.test:8443"
    assert _host_header("good.lab.test", None) == "good.lab.test"
    assert _host_header("good.lab.test", 443) == "good.lab.test"
    assert _host_header("2001:db8::1", 8443) == "[2001:db8::1]:8443"
