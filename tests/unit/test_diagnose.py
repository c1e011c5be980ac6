"""diagnose's inputs that need no server: the target it parses and the proxy it picks.

Every diagnosis against the lab: tests/integration/test_diagnose.py.
"""

from __future__ import annotations

import pytest

from certdoctor.diagnose import parse_target
from certdoctor.errors import UsageError


def test_parse_target():
    assert parse_target("example.com").url == "https://example.com/"
    assert parse_target("https://example.com:8443/x?y=1").port == 8443
    assert parse_target("[::1]:8443").host == "::1"
    with pytest.raises(UsageError):
        parse_target("http://example.com/")
    with pytest.raises(UsageError):
        parse_target("")


def test_proxy_environment_rules():
    from certdoctor.net.proxy import effective_proxy

    url = "https://internal.example.test/"
    assert effective_proxy(url, None, {}) is None
    env = {"HTTPS_PROXY": "http://proxy:3128"}
    assert effective_proxy(url, None, env) == "http://proxy:3128"
    env["NO_PROXY"] = "example.test,localhost"
    assert effective_proxy(url, None, env) is None
    assert effective_proxy("https://pypi.org/", None, env) == "http://proxy:3128"
    assert effective_proxy(url, "http://explicit:8080", env) == "http://explicit:8080"
