"""Shared fixtures. The machines here export CA variables: every test runs without them."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

# CI must be reproducible: a fixed seed there (a failure reproduces with the same run); locally
# hypothesis explores new examples on every run, which is how it finds bugs.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

CLEARED = (
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "PIP_CERT",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
    "CERTDOCTOR_RESOLVE",
)


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch, tmp_path):
    """Clear CA and proxy variables (httpx's ``clean_environ``); tests set what they need."""
    for name in CLEARED:
        monkeypatch.delenv(name, raising=False)
    # pip reads its config file too; point it at nothing so it cannot leak a `cert =`
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    # the on-disk AIA/CRL/OCSP cache lives in the test's own folder, never in ~/.cache
    monkeypatch.setenv("CERTDOCTOR_CACHE_DIR", str(tmp_path / "certdoctor-cache"))
    # and the monitor's default state file (--state) in it too, never in ~/.local/share
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    yield


@pytest.fixture(scope="session", autouse=True)
def no_server_left_behind():
    """Every test server (``support.servers``) is stopped, and none of its threads outlives it."""
    yield
    import threading

    from support.servers import live_servers

    assert not live_servers(), f"test servers never stopped: {live_servers()}"
    threads = [t.name for t in threading.enumerate() if t.name.startswith("test-server:")]
    assert not threads, f"test server threads left behind: {threads}"


@pytest.fixture
def cache_dir(tmp_path):
    """This test's on-disk AIA/CRL/OCSP and bundle cache (``clean_environ`` points
    CERTDOCTOR_CACHE_DIR here); also a scratch folder for the files a test writes."""
    d = tmp_path / "certdoctor-cache"
    d.mkdir(exist_ok=True)
    return d


@pytest.fixture(scope="session")
def pki_ec():
    """Root → intermediate → leaf, ECDSA (``support.pki.make_pki``): for test_load, test_convert, test_inspect."""
    from support.pki import make_pki

    return make_pki("ec")


@pytest.fixture(scope="session")
def pki_rsa():
    """The same PKI with RSA-2048 keys."""
    from support.pki import make_pki

    return make_pki("rsa")
