"""The host -> pins map of PinnedAdapter / httpx_client (no network): one spelling per origin,
default port 443 both ways, IPv6 brackets, IDNA, duplicate keys refused, unknown port fails
closed; the mismatch classes are the clients' own exception types."""

from __future__ import annotations

import pickle

import httpx
import pytest
import requests

from certdoctor.errors import PinMismatch, UsageError
from certdoctor.pinning import HTTPXPinMismatch, PinnedAdapter, PinPolicy, RequestsPinMismatch, pinned_session
from certdoctor.pinning.adapters import normalise_host, normalise_origin

A = "sha256/" + "A" * 43 + "="
B = "sha256/" + "B" * 42 + "A="


@pytest.mark.parametrize("spelling", ["pinned.test", "PINNED.TEST", "Pinned.Test.", "pinned.test:443",
                                      "PINNED.test.:443", "https://pinned.test/", "https://PINNED.TEST.:443/x"])
def test_every_spelling_of_one_origin_is_one_key(spelling):
    assert normalise_origin(spelling) == ("pinned.test", 443)


def test_idna_ipv6_and_ports():
    assert normalise_host("bücher.test") == normalise_host("BÜCHER.test.") == "xn--bcher-kva.test"
    assert normalise_host(b"xn--bcher-kva.test") == normalise_host("XN--BCHER-KVA.TEST") == "xn--bcher-kva.test"
    assert normalise_origin("[::1]:8443") == ("::1", 8443)
    assert normalise_origin("[0:0::1]") == ("::1", 443)
    assert normalise_host("[::1]") == normalise_host("0:0:0:0:0:0:0:1") == "::1"
    assert normalise_origin("api.test:8443") == ("api.test", 8443)
    assert normalise_origin("127.0.0.1:4443") == ("127.0.0.1", 4443)


@pytest.mark.parametrize("bad", ["", ".", "host:0", "host:65536", "host:x", "[::1", "[::1]x", "http://h/"])
def test_bad_keys_are_usage_errors(bad):
    with pytest.raises(UsageError):
        normalise_origin(bad)


def test_lookup_by_the_connection_host_and_port():
    policy = PinPolicy.of({"pinned.test": [A], "api.test:8443": [B], "bücher.test": [A]})
    assert policy.pins_for("PINNED.TEST.", 443).pins == (A,)
    assert policy.pins_for(b"pinned.test", 443).pins == (A,)
    assert policy.pins_for("pinned.test", 8443) is None  # another port has no pins of its own
    assert policy.pins_for("api.test", 8443).pins == (B,)
    assert policy.pins_for("api.test", 443) is None
    assert policy.pins_for("xn--bcher-kva.test.", 443).pins == (A,)
    assert policy.pins_for("free.test", 443) is None and not policy.covers_host("free.test")
    assert policy.covers_host("API.test.")  # plain http to it is refused
    # the port unknown (a TLS stream through a proxy that is told no origin): every pin of the host
    assert policy.pins_for("api.test", None).pins == (B,)
    both = PinPolicy.of({"h.test": [A], "h.test:8443": [B]})
    assert set(both.pins_for("h.test", None).pins) == {A, B}
    assert policy.pins == (A, B)
    assert policy.hosts() == ("pinned.test:443", "api.test:8443", "xn--bcher-kva.test:443")


def test_one_pin_set_pins_every_host():
    policy = PinPolicy.of([A, B])
    assert policy.pins_for("anything.test", 1).pins == (A, B) and policy.covers_host(None)


def test_duplicate_and_empty_maps_are_refused():
    with pytest.raises(UsageError, match="same host"):
        PinnedAdapter({"Pinned.Test": [A], "pinned.test.:443": [B]})
    with pytest.raises(UsageError, match="empty"):
        PinnedAdapter({})
    with pytest.raises(UsageError, match="at least one pin"):
        PinnedAdapter({"pinned.test": []})
    with pytest.raises(UsageError, match="map"):
        pinned_session([A])


def test_the_map_form_pickles_and_pinned_session_mounts_both_schemes():
    adapter = PinnedAdapter({"pinned.test": [A]})
    back = pickle.loads(pickle.dumps(adapter))
    assert back.policy == adapter.policy and back.pins == (A,)
    s = pinned_session({"pinned.test": [A]})
    assert s.get_adapter("https://PINNED.TEST.:443/") is s.get_adapter("http://x/")
    assert isinstance(s.get_adapter("https://other/"), PinnedAdapter)


def test_plain_http_to_a_pinned_host_is_refused_before_connecting():
    s = pinned_session({"pinned.test:8443": [A]})
    with pytest.raises(RequestsPinMismatch, match="plain HTTP"):
        s.get("http://PINNED.test.:1/", timeout=5)  # port 1: nothing is contacted


def test_mismatch_classes_are_the_clients_own_errors():
    assert issubclass(RequestsPinMismatch, PinMismatch)
    assert issubclass(RequestsPinMismatch, requests.exceptions.SSLError)
    assert issubclass(RequestsPinMismatch, requests.RequestException)
    assert issubclass(HTTPXPinMismatch, PinMismatch)
    assert issubclass(HTTPXPinMismatch, httpx.ConnectError)
    assert issubclass(HTTPXPinMismatch, httpx.HTTPError)
    err = RequestsPinMismatch("no pin matched", "the hint")
    assert str(err) == "no pin matched" and err.hint == "the hint" and err.exit_code == 1
    import certdoctor

    assert certdoctor.PinMismatch is PinMismatch
