"""Issue 10 item 2, the pure rule: which addresses a certificate's AIA/CRL/OCSP URL may reach."""

from __future__ import annotations

import pytest

from certdoctor.net.resolve import (
    ANY, LINK_LOCAL, LOOPBACK, PRIVATE, PUBLIC, FetchScope, address_scope, fetch_allowed, target_scope,
)

SCOPES = {
    "8.8.8.8": PUBLIC, "2606:4700::1": PUBLIC,
    "10.1.2.3": PRIVATE, "172.16.0.1": PRIVATE, "192.168.1.1": PRIVATE, "fd12:3456::1": PRIVATE,
    "fc00::1": PRIVATE, "100.64.0.1": PRIVATE,
    "127.0.0.1": LOOPBACK, "127.8.9.10": LOOPBACK, "::1": LOOPBACK, "0.0.0.0": LOOPBACK, "::ffff:127.0.0.1": LOOPBACK,
    "169.254.169.254": LINK_LOCAL, "169.254.1.1": LINK_LOCAL, "fe80::1": LINK_LOCAL, "fd00:ec2::254": LINK_LOCAL,
    "::ffff:169.254.169.254": LINK_LOCAL, "224.0.0.1": LINK_LOCAL,
}


@pytest.mark.parametrize("addr,scope", SCOPES.items())
def test_address_scope(addr, scope):
    assert address_scope(addr) == scope


# target scope (rows) x URL address (columns): allowed?
MATRIX = {
    PUBLIC: {"8.8.8.8": True, "10.1.2.3": False, "fd12::1": False, "127.0.0.1": False, "169.254.169.254": False},
    PRIVATE: {"8.8.8.8": True, "10.1.2.3": True, "fd12::1": True, "127.0.0.1": False, "169.254.169.254": False},
    LOOPBACK: {"8.8.8.8": True, "10.1.2.3": True, "fd12::1": True, "127.0.0.1": True, "169.254.169.254": False},
}


@pytest.mark.parametrize("target", MATRIX)
def test_a_url_may_be_no_more_internal_than_the_target(target):
    for addr, ok in MATRIX[target].items():
        why = fetch_allowed(addr, target)
        assert (why is None) == ok, (target, addr, why)
        if not ok:
            assert why.startswith("refused: internal address " + addr)


def test_allow_private_lifts_the_rule_but_never_for_link_local_or_metadata():
    for addr in ("10.1.2.3", "127.0.0.1", "fd12::1"):
        assert fetch_allowed(addr, PUBLIC, allow_private=True) is None
    for addr in ("169.254.169.254", "fe80::1", "fd00:ec2::254"):
        assert "never fetched" in fetch_allowed(addr, PUBLIC, allow_private=True)
        assert ANY.refusal(addr) is not None


def test_target_scope_through_a_proxy_is_public():
    assert target_scope("127.0.0.1", proxied=True) == PUBLIC
    assert target_scope(None) == PUBLIC
    assert target_scope("127.0.0.1") == LOOPBACK
    assert target_scope("10.0.0.5") == PRIVATE
    assert target_scope("169.254.10.10") == PRIVATE  # a link-local target may name its LAN, never metadata
    assert FetchScope.for_target("127.0.0.1", proxied=True).refusal("127.0.0.1")
    assert FetchScope.for_target("127.0.0.1", proxied=True, allow_private=True).refusal("127.0.0.1") is None
