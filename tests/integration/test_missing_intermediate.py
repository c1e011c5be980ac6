"""Missing intermediates against real servers: the lab (AIA over its HTTP server, answers replaced
with ``lab.add_route``) and chains made with the ``openssl`` command line, served by
``openssl s_server``. Each time certdoctor's verdict is the real requests outcome and the code is
CHAIN_INCOMPLETE; a stale AIA cache never changes the diagnosis; ``fix`` builds the bundle that
the real client accepts."""

from __future__ import annotations

import requests
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import AuthorityInformationAccessOID

from certdoctor.diagnose import diagnose
from certdoctor.model import Code, fingerprint_sha256
from certdoctor.net.fetch import FetchCache


def _real_requests(url: str, verify: str) -> tuple[bool, str | None]:
    with requests.Session() as s:
        s.trust_env = False
        try:
            s.get(url, verify=verify, timeout=5)
        except requests.exceptions.SSLError as exc:
            return False, str(exc)
    return True, None


def _aia(url: str):
    return [(x509.AuthorityInformationAccess([x509.AccessDescription(
        AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(url))]), False)]


def _serving(lab, path: str):
    """A route on the lab's HTTP server answering what ``state['body']`` holds (changeable)."""
    state = {"body": b"", "calls": 0}

    def handler(method, p, body):
        state["calls"] += 1
        return 200, {"Content-Type": "application/pkix-cert"}, state["body"]

    lab.add_route(path, handler)
    return lab.http_base + path, state


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def test_a_stale_aia_cache_never_changes_the_diagnosis(lab, tmp_path):
    """The CA re-keys its intermediate (same name, new key) behind the same AIA URL: the cached
    old certificate did not issue the new leaf, so it is fetched again."""
    pki = lab.pki
    url, state = _serving(lab, "/test-aia/rekeyed.der")
    old = pki.make_intermediate("Rekeyed Intermediate", pki.root, label="rekeyed-old")
    new = pki.make_intermediate("Rekeyed Intermediate", pki.root, label="rekeyed-new")
    assert old.cert.subject == new.cert.subject and old.cert.public_key() != new.cert.public_key()
    leaf_old = pki.issue_leaf(["rekeyed-old.lab.test"], issuer=old, aia=False, crl=False, extra_extensions=_aia(url))
    leaf_new = pki.issue_leaf(["rekeyed-new.lab.test"], issuer=new, aia=False, crl=False, extra_extensions=_aia(url))
    ep_old = lab.serve("rekeyed_old", leaf_old, chain=(leaf_old.cert,))
    ep_new = lab.serve("rekeyed_new", leaf_new, chain=(leaf_new.cert,))
    cache = FetchCache(tmp_path / "cache")

    state["body"] = _der(old.cert)
    first = diagnose(ep_old.url, ca_file=str(lab.ca_file), timeout=5, cache=cache)
    assert [f.code for f in first.errors] == [Code.CHAIN_INCOMPLETE] and first.path.trusted
    assert cache.get(url) == _der(old.cert)

    state["body"] = _der(new.cert)  # re-keyed behind the same URL; the cache still holds the old one
    calls = state["calls"]
    d = diagnose(ep_new.url, ca_file=str(lab.ca_file), timeout=5, cache=cache)
    fresh = diagnose(ep_new.url, ca_file=str(lab.ca_file), timeout=5, cache=None)
    assert state["calls"] == calls + 2  # the stale entry was refused and fetched again (and once uncached)
    assert [(f.code, f.summary) for f in d.findings] == [(f.code, f.summary) for f in fresh.findings]
    assert [f.code for f in d.errors] == [Code.CHAIN_INCOMPLETE]
    assert d.path.trusted and [c.fingerprint_sha256 for c in d.path.fetched] == [fingerprint_sha256(new.cert)]
    assert not d.path.aia_attempts[0].from_cache
    assert cache.get(url) == _der(new.cert)  # the cache now holds the answer that is true
    real_ok, real_err = _real_requests(ep_new.url, str(lab.ca_file))
    assert d.verifies is real_ok is False and "unable to get local issuer certificate" in real_err
    # and the fresh entry is used again
    again = diagnose(ep_new.url, ca_file=str(lab.ca_file), timeout=5, cache=cache)
    assert again.path.trusted and again.path.aia_attempts[0].from_cache
