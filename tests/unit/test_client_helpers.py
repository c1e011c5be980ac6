"""ca_bundle / requests_session without a network: the bundle cache, what ca_bundle refuses, the
session's verify against the environment, the re-exports.

Each helper against real TLS servers on 127.0.0.1: tests/integration/test_client_helpers.py.
"""

from __future__ import annotations

import datetime as dt
import os

import certifi
import pytest
from cryptography.hazmat.primitives import serialization
from support.pki import TestCA

import certdoctor
from certdoctor.remedies.bundle import BundleWarning
from certdoctor.errors import InputError
from certdoctor.remedies.client import ca_bundle, requests_session, ssl_context

NOW = dt.datetime.now(dt.timezone.utc)
DAY = dt.timedelta(days=1)


# --------------------------------------------------------------------------- PKI (support.pki)

def _pem(cert) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pki")
    root = TestCA("certdoctor client-helper test root")
    good = root.issue_cert("127.0.0.1")
    expired_ca = TestCA("expired client-helper CA", not_before=NOW - 30 * DAY, not_after=NOW - DAY)
    root_file = tmp / "root.pem"
    root_file.write_bytes(_pem(root.cert))
    leaf_file = tmp / "leaf.pem"
    leaf_file.write_bytes(_pem(good.cert))
    return {"root": root.cert, "root_file": root_file, "leaf_file": leaf_file, "expired_ca": expired_ca.cert,
            "url": "https://127.0.0.1:8443/"}  # a URL for the settings only: nothing connects to it


# --------------------------------------------------------------------------- ca_bundle

def test_ca_bundle_is_cached_by_content(pki, cache_dir):
    a = ca_bundle(extra=[pki["root_file"]])
    b = ca_bundle(extra=pki["root_file"])  # a bare item is the same input
    assert a == b and a.startswith(str(cache_dir / "bundles"))
    st = os.stat(a)
    assert (st.st_mode & 0o777) == 0o644
    assert ca_bundle(extra=[pki["root_file"]]) == a and os.stat(a).st_ino == st.st_ino  # not rewritten
    other = ca_bundle(extra=[_pem(pki["root"])])  # different input (bytes: other # Source: line)
    assert other != a
    text = open(a, "rb").read()
    assert text.count(b"-----BEGIN CERTIFICATE-----") == text.count(b"# Source:")
    assert b"# Source: added from root.pem" in text


def test_ca_bundle_rewritten_when_certifi_changes(pki, tmp_path, monkeypatch):
    import certdoctor.remedies.bundle as B

    fake = tmp_path / "cacert.pem"
    original = open(certifi.where(), "rb").read()
    fake.write_bytes(original)
    monkeypatch.setattr(B, "certifi_path", lambda: str(fake))
    before = ca_bundle(extra=[pki["root_file"]])
    # "upgrade" certifi: one root fewer
    first_end = original.index(b"-----END CERTIFICATE-----") + len(b"-----END CERTIFICATE-----\n")
    fake.write_bytes(original[first_end:])
    after = ca_bundle(extra=[pki["root_file"]])
    assert after != before
    n = lambda p: open(p, "rb").read().count(b"-----BEGIN CERTIFICATE-----")  # noqa: E731
    assert n(after) == n(before) - 1


def test_ca_bundle_refuses_leaf_and_warns_on_expired(pki):
    with pytest.raises(InputError, match="not a CA") as info:
        ca_bundle(extra=[pki["leaf_file"]])
    assert "allow_leaf" in info.value.hint
    assert ca_bundle(extra=[pki["leaf_file"]], allow_leaf=True)
    with pytest.warns(BundleWarning, match="expired"):
        path = ca_bundle(extra=[pki["root"], pki["expired_ca"]])
    assert b"expired client-helper CA" not in open(path, "rb").read()


def test_public_api_reexported():
    assert certdoctor.ca_bundle is ca_bundle
    assert certdoctor.ssl_context is ssl_context
    assert certdoctor.requests_session is requests_session


# --------------------------------------------------------------------------- requests_session

def test_session_bundle_beats_env_unless_verify_is_passed(pki, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())
    with requests_session(extra=[pki["root_file"]]) as s:
        settings = s.merge_environment_settings(pki["url"], {}, None, None, None)
        assert settings["verify"] == s.ca_bundle
        settings = s.merge_environment_settings(pki["url"], {}, None, "/explicit.pem", None)
        assert settings["verify"] == "/explicit.pem"
