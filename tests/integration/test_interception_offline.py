"""Interception proven offline (issue 9, item 6): real proxies and servers on 127.0.0.1, no internet.

Through a proxy, an untrusted chain is compared with the same target reached directly and with
canary hosts; without a proxy, a leaf minted minutes ago, short-lived, whose signer also signs a
canary host's leaf is a transparent interceptor. A proxy that only relays, and a private CA that
signs no canary, are never called interception; and every probe is bounded.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest

from certdoctor import policy
from certdoctor.diagnose import diagnose
from certdoctor.model import Code
from certdoctor.net.resolve import override

from support.interceptor import resigning_proxy, transparent_interceptor
from support.pki import TestCA, pem
from support.servers import closed_port, connect_proxy, tcp_server, tls_server

UNROUTABLE = (f"127.0.0.1:{closed_port()}", f"127.0.0.1:{closed_port()}")


def codes(d) -> set:
    return {f.code for f in d.findings}


def finding(d, code: Code):
    return next(f for f in d.findings if f.code is code)


@pytest.fixture
def private_site(tmp_path):
    """A server for localhost under a private root, and a store holding only another root."""
    root = TestCA("Private Site Root", aia_url=None, crl_url=None, ocsp_url=None)
    leaf = root.intermediate("Private Site CA", aia_url=None, crl_url=None, ocsp_url=None).issue_cert("localhost")
    store = tmp_path / "store.pem"
    store.write_bytes(pem(TestCA("Some Other Root").cert))
    return leaf, root, str(store)


# --------------------------------------------------------------------------- (a) a re-signing proxy

def test_lab_proxy_is_proven_by_a_canary_at_another_lab_host(lab):
    ep = lab.endpoint("intercepting_proxy")
    other = lab.endpoint("expired_leaf")
    d = diagnose(ep.url, ca_file=str(lab.ca_file), proxy=lab.proxy_url, timeout=5, revocation=False,
                 canaries=[f"{other.hostname}:{other.port}"])
    f = finding(d, Code.INTERCEPTING_PROXY)
    assert f"through the same proxy, {other.hostname} is signed by the same root: it re-signs every site" \
        in f.evidence
    # both chains as evidence: the one through the proxy (the lab's intercept root) and the direct one
    proxied = [e for e in f.evidence if e.startswith("through the proxy: [")]
    direct = [e for e in f.evidence if e.startswith("directly: [")]
    assert proxied and direct, f.evidence
    assert "issued by CN=certdoctor Lab Intercept Root" in proxied[0]
    assert "issued by CN=certdoctor Lab Intermediate CA" in direct[0]
    assert all("SPKI sha256/" in e for e in proxied + direct)
    probes = d.evidence.canary
    assert [(p.host, p.via_proxy, p.same_target) for p in probes] == [
        (ep.hostname, False, True), (other.hostname, True, False)]
    assert all(p.error is None for p in probes)


def test_the_direct_connection_alone_proves_it_when_every_canary_is_unreachable(lab):
    """Offline: the re-signing proxy cannot reach pypi.org or python.org (502), the canaries prove
    nothing, and the same target reached directly shows the site's own chain."""
    ep = lab.endpoint("good")
    with resigning_proxy(TestCA("Corp Inspection Root"), allow=(ep.hostname,)) as proxy:
        started = time.monotonic()
        d = diagnose(ep.url, ca_file=str(lab.ca_file), proxy=proxy.base, timeout=5, revocation=False)
        took = time.monotonic() - started
        asked = list(proxy.records)
    f = finding(d, Code.INTERCEPTING_PROXY)
    assert not any("re-signs every site" in e for e in f.evidence)
    assert any(e.startswith(f"directly (without the proxy), {ep.hostname}:{ep.port} presents a leaf signed by "
                            "another key") for e in f.evidence), f.evidence
    assert any("through the proxy: [0] CN=good.lab.test" in e and "Corp Inspection Root" in e for e in f.evidence)
    assert any(e.startswith("directly: [0] CN=good.lab.test") for e in f.evidence)
    assert f.who.value == "network-admin" and "--trust FINGERPRINT" in f.fix and "IT" in f.fix
    canaries = [p for p in d.evidence.canary if not p.same_target]
    assert [p.host for p in canaries] == ["pypi.org", "www.python.org"]
    assert all(p.error and p.via_proxy for p in canaries)
    assert "pypi.org:443" in asked and "www.python.org:443" in asked
    assert took < 5, took


def test_when_the_direct_connection_is_firewalled_the_canary_proves_it(tmp_path, private_site):
    """intranet.test is reachable only through the proxy (directly it is refused: 127.0.0.2); the
    direct probe is evidence that proves nothing, the canary through the same proxy proves it."""
    leaf, _, store = private_site
    corp = TestCA("Corp Inspection Root")
    with tls_server(leaf) as site, override({"intranet.test": "127.0.0.2"}), \
            resigning_proxy(corp, allow=("intranet.test", "127.0.0.1")) as proxy:
        d = diagnose(f"https://intranet.test:{site.port}/", ca_file=store, proxy=proxy.base, timeout=5,
                     revocation=False, canaries=[f"127.0.0.1:{site.port}"])
    f = finding(d, Code.INTERCEPTING_PROXY)
    assert "through the same proxy, 127.0.0.1 is signed by the same root: it re-signs every site" in f.evidence
    direct = d.evidence.canary[0]
    assert direct.same_target and not direct.via_proxy and direct.error and not direct.chain_der
    assert not any(e.startswith("directly: [") for e in f.evidence)


# --------------------------------------------------------------------------- (b) a proxy that only relays

def test_a_relaying_proxy_in_front_of_a_private_root_is_an_untrusted_root(private_site):
    leaf, _, store = private_site
    with tls_server(leaf) as site, tcp_server(connect_proxy()) as proxy:
        started = time.monotonic()
        d = diagnose(f"https://localhost:{site.port}/", ca_file=store, proxy=proxy.base, timeout=5,
                     revocation=False)
        took = time.monotonic() - started
    assert Code.INTERCEPTING_PROXY not in codes(d)
    f = finding(d, Code.UNTRUSTED_ROOT)
    assert any(e.startswith(f"directly (without the proxy), localhost:{site.port} presents a leaf from the same "
                            "signer") for e in f.evidence), f.evidence
    direct = d.evidence.canary[0]
    assert direct.same_target and direct.error is None and direct.chain_der == d.probe.chain_der
    assert took < 5, took


# --------------------------------------------------------------------------- (c) transparent interception

def test_a_transparent_interceptor_is_recognised_without_a_proxy(private_site):
    _, _, store = private_site
    with transparent_interceptor() as (srv, root):
        d = diagnose(f"https://localhost:{srv.port}/", ca_file=store, timeout=5, revocation=False,
                     canaries=[f"127.0.0.1:{srv.port}"])
        minted = list(srv.records)
    f = finding(d, Code.INTERCEPTING_PROXY)
    assert "transparent" in f.summary and "no proxy is configured" in f.summary
    assert any(e.startswith("no proxy is configured, yet the leaf was minted") and "valid for 24 h" in e
               for e in f.evidence), f.evidence
    assert any(e.startswith(f"127.0.0.1:{srv.port} (another host, reached directly) presents a leaf signed by the "
                            "same key") for e in f.evidence)
    assert any(e.startswith(f"127.0.0.1:{srv.port}: [0] ") and "Transparent Inspection Root" in e for e in f.evidence)
    assert "localhost" in minted and "127.0.0.1" in minted
    probe = d.evidence.canary[0]
    assert not probe.via_proxy and not probe.same_target and probe.error is None
    assert Code.UNTRUSTED_ROOT not in codes(d) and d.exit_code == 1


def test_a_transparent_interceptor_with_the_default_canaries_offline_is_an_untrusted_root(private_site):
    """Without a canary that answers, a fresh short-lived leaf alone is not proof."""
    _, _, store = private_site
    with transparent_interceptor() as (srv, _):
        d = diagnose(f"https://localhost:{srv.port}/", ca_file=store, timeout=5, revocation=False,
                     canaries=list(UNROUTABLE))
    assert Code.INTERCEPTING_PROXY not in codes(d) and Code.UNTRUSTED_ROOT in codes(d)
    assert [p.error is not None for p in d.evidence.canary] == [True, True]


# --------------------------------------------------------------------------- (d) never a private CA

def test_a_fresh_short_lived_leaf_of_a_private_ca_that_signs_no_canary_is_not_interception(tmp_path):
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    ca = TestCA("Step CA Root", aia_url=None, crl_url=None, ocsp_url=None)
    leaf = ca.issue_cert("localhost", not_before=now, not_after=now + dt.timedelta(hours=24))
    other = TestCA("Unrelated Root").issue_cert("127.0.0.1", not_before=now, not_after=now + dt.timedelta(hours=24))
    store = tmp_path / "store.pem"
    store.write_bytes(pem(TestCA("Some Other Root").cert))
    # served with their roots (leaf + root): the path ends at a root the store does not hold
    with tls_server(pem(*leaf.chain), leaf.key) as site, tls_server(pem(*other.chain), other.key) as canary:
        d = diagnose(f"https://localhost:{site.port}/", ca_file=str(store), timeout=5, revocation=False,
                     canaries=[f"127.0.0.1:{canary.port}", UNROUTABLE[0]])
        # the same server (one certificate) reached by another name is not "another host"
        same = diagnose(f"https://localhost:{site.port}/", ca_file=str(store), timeout=5, revocation=False,
                        canaries=[f"127.0.0.1:{site.port}"])
    for result in (d, same):
        assert Code.INTERCEPTING_PROXY not in codes(result) and Code.UNTRUSTED_ROOT in codes(result)
    assert d.evidence.canary[0].error is None and d.evidence.canary[0].chain_der  # it was probed, and differs
    assert same.evidence.canary[0].chain_der == same.probe.chain_der


def test_an_ordinary_untrusted_leaf_probes_no_canary_without_a_proxy(private_site):
    """A leaf that was not minted minutes ago costs no canary probe at all."""
    leaf, _, store = private_site
    with tls_server(leaf) as site:
        d = diagnose(f"https://localhost:{site.port}/", ca_file=store, timeout=5, revocation=False)
    assert d.evidence.canary == () and Code.UNTRUSTED_ROOT in codes(d)


def test_a_verifying_chain_is_never_judged_intercepted():
    """A fresh, short-lived leaf whose root the client trusts, signing the canary too, is fine."""
    with transparent_interceptor() as (srv, root), _store_with(root) as store:
        d = diagnose(f"https://localhost:{srv.port}/", ca_file=store, timeout=5, revocation=False,
                     canaries=[f"127.0.0.1:{srv.port}"])
    assert d.verifies and Code.INTERCEPTING_PROXY not in codes(d) and d.evidence.canary == ()


# --------------------------------------------------------------------------- bounded

def test_unroutable_and_stalled_canaries_stay_within_the_budget(private_site):
    leaf, _, store = private_site
    with tls_server(leaf) as site, tcp_server(connect_proxy()) as proxy:
        started = time.monotonic()
        d = diagnose(f"https://localhost:{site.port}/", ca_file=store, proxy=proxy.base, timeout=5,
                     revocation=False, canaries=list(UNROUTABLE))
        took = time.monotonic() - started
    assert took < 3, took
    assert Code.UNTRUSTED_ROOT in codes(d)
    with transparent_interceptor() as (srv, _), tcp_server(_stall) as stall:
        started = time.monotonic()
        d = diagnose(f"https://localhost:{srv.port}/", ca_file=store, timeout=10, revocation=False,
                     canaries=[f"127.0.0.1:{stall.port}", f"localhost:{stall.port}", f"[::1]:{stall.port}"])
        took = time.monotonic() - started
    assert took < policy.CANARY_BUDGET_SECONDS + 3, took
    probes = d.evidence.canary
    assert sum(p.elapsed for p in probes) <= policy.CANARY_BUDGET_SECONDS + 0.5, probes
    assert all(p.error for p in probes) and Code.INTERCEPTING_PROXY not in codes(d)


def _stall(conn, srv) -> None:
    srv.stopping.wait(8)


class _store_with:
    """A temporary CA file holding ``ca``'s certificate."""

    def __init__(self, ca: TestCA) -> None:
        import tempfile

        self._dir = tempfile.TemporaryDirectory(prefix="certdoctor-store-")
        self.path = f"{self._dir.name}/store.pem"
        with open(self.path, "wb") as fh:
            fh.write(pem(ca.cert))

    def __enter__(self) -> str:
        return self.path

    def __exit__(self, *exc) -> None:
        self._dir.cleanup()
