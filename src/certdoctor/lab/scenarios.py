"""The lab's scenarios: what each endpoint gets wrong, what certdoctor must say, and the text
the real ``requests`` raises (checked by ``tests/test_lab.py`` against the live servers).

Pure data: importing this module starts nothing and needs no ``cryptography``.

    >>> from certdoctor.lab import SCENARIOS
    >>> SCENARIOS["expired_leaf"].expected_codes
    (<Code.EXPIRED: 'EXPIRED'>,)
    >>> [s.id for s in SCENARIOS][:3]
    ['good', 'good_rsa', 'missing_intermediate']

Fragments come from ``failure-catalogue.md`` (OpenSSL 3.0 spellings; Python 3.11 and 3.13).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator, overload

from certdoctor.model import Code

LAB_DOMAIN = "lab.test"

UNABLE_LOCAL_ISSUER = "unable to get local issuer certificate"
SELF_SIGNED_IN_CHAIN = "self-signed certificate in certificate chain"


@dataclass(frozen=True, slots=True)
class Scenario:
    """One lab endpoint's story.

    ``requests_error``: a fragment of what ``requests.get(url, verify=lab.ca_file)`` raises
    (``None``: it succeeds). ``requests_error_default``: the same with requests' default trust
    (certifi). ``strict_error``: with Python 3.13's ``VERIFY_X509_STRICT |
    VERIFY_X509_PARTIAL_CHAIN`` added and the lab root trusted (``None``: same as
    ``requests_error``). ``alternatives``: other fragments that may show up instead of
    ``requests_error`` because of a race the lab cannot remove (TLS 1.3 client-certificate
    rejection). ``via_proxy``: reached through ``lab.proxy_url``. ``kind``: ``"tls"``,
    ``"plain"`` (plain HTTP on the port), ``"stall"`` (accepts, never answers) or ``"proxy"``.
    """

    id: str
    hostname: str
    description: str
    expected_codes: tuple[Code, ...]
    requests_error: str | None
    requests_error_default: str | None
    strict_error: str | None = None
    via_proxy: bool = False
    alternatives: tuple[str, ...] = ()
    kind: str = "tls"
    by_ip: bool = False

    @property
    def ok(self) -> bool:
        """Does ``requests`` succeed with the lab root trusted?"""
        return self.requests_error is None

    @property
    def strict_expected(self) -> str | None:
        """The fragment under 3.13's flags (``strict_error`` or else ``requests_error``)."""
        return self.strict_error if self.strict_error is not None else self.requests_error

    def error_matches(self, text: str, trust: str = "lab") -> bool:
        """Does an error text match this scenario's fragment for ``trust`` in
        ``"lab"``, ``"default"`` or ``"strict"``? (Case-sensitive substring, alternatives too.)"""
        frag = {"lab": self.requests_error, "default": self.requests_error_default,
                "strict": self.strict_expected}[trust]
        if frag is None:
            return False
        candidates = (frag,) + (self.alternatives if frag == self.requests_error else ())
        return any(c in text for c in candidates)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a running scenario answers. ``url`` uses ``hostname`` (resolve ``*.lab.test`` to
    127.0.0.1 with ``lab.resolving()`` or ``--resolve``); ``host`` is the address to connect to.
    ``proxy`` is the proxy URL to go through (``None``: connect directly)."""

    scenario: str
    hostname: str
    host: str
    port: int
    url: str
    proxy: str | None = None

    @property
    def proxies(self) -> dict[str, str] | None:
        """``requests``' ``proxies=`` for this endpoint (``None`` when direct)."""
        return {"https": self.proxy, "http": self.proxy} if self.proxy else None


class Table(tuple):
    """A tuple that can also be indexed by id: ``SCENARIOS[0]``, ``SCENARIOS["good"]``,
    ``"good" in SCENARIOS``, ``SCENARIOS.ids()``. Iterating yields the items, not ids."""

    _key = "id"

    def _id(self, item: object) -> str:
        return getattr(item, self._key)

    @overload
    def __getitem__(self, key: int): ...
    @overload
    def __getitem__(self, key: str): ...
    def __getitem__(self, key):  # type: ignore[override]
        if isinstance(key, str):
            for item in tuple.__iter__(self):
                if self._id(item) == key:
                    return item
            raise KeyError(f"{key!r}: no such scenario (known: {', '.join(self.ids())})")
        return tuple.__getitem__(self, key)

    def __contains__(self, key: object) -> bool:  # type: ignore[override]
        if isinstance(key, str):
            return key in self.ids()
        return tuple.__contains__(self, key)

    def get(self, key: str, default=None):
        try:
            return self[key]
        except KeyError:
            return default

    def ids(self) -> tuple[str, ...]:
        return tuple(self._id(i) for i in tuple.__iter__(self))

    def items(self) -> Iterator[tuple[str, object]]:
        return ((self._id(i), i) for i in tuple.__iter__(self))

    def values(self) -> Iterator[object]:
        return iter(tuple.__iter__(self))


class ScenarioTable(Table):
    _key = "id"


class EndpointTable(Table):
    _key = "scenario"


def host_for(scenario_id: str) -> str:
    return f"{scenario_id.replace('_', '-')}.{LAB_DOMAIN}"


def _s(id: str, description: str, codes: Iterable[Code], error: str | None,
       default: str | None = UNABLE_LOCAL_ISSUER, *, hostname: str | None = None,
       **kw) -> Scenario:
    return Scenario(id=id, hostname=hostname or host_for(id), description=description,
                    expected_codes=tuple(codes), requests_error=error,
                    requests_error_default=default, **kw)


SCENARIOS: ScenarioTable = ScenarioTable((
    _s("good", "Leaf + intermediate, root not sent; trust the lab root and it works.",
       (), None),
    _s("good_rsa", "The same with RSA-2048 keys (RSA intermediate and leaf).", (), None),
    _s("missing_intermediate",
       "Only the leaf is sent; its AIA caIssuers URL (on the lab HTTP server) has the intermediate.",
       (Code.CHAIN_INCOMPLETE,), UNABLE_LOCAL_ISSUER),
    _s("expired_leaf", "The leaf expired 10 days ago.", (Code.EXPIRED,), "certificate has expired"),
    _s("expired_intermediate", "A valid leaf under an intermediate that expired 5 days ago.",
       (Code.EXPIRED,), "certificate has expired"),
    _s("not_yet_valid", "The leaf's notBefore is 10 days from now.", (Code.NOT_YET_VALID,),
       "certificate is not yet valid"),
    _s("expiring_soon", "Valid, but notAfter is 5 days from now.", (Code.EXPIRING_SOON,), None),
    _s("self_signed", "The leaf is its own issuer (CA:FALSE, SAN correct).", (Code.SELF_SIGNED,),
       "self-signed certificate", "self-signed certificate"),
    _s("untrusted_root",
       "Leaf + intermediate under a different private root that is not in the lab CA file.",
       (Code.UNTRUSTED_ROOT,), UNABLE_LOCAL_ISSUER),
    _s("hostname_mismatch", "The SAN is other.example.test only.", (Code.HOSTNAME_MISMATCH,),
       "Hostname mismatch"),
    _s("wildcard_nested", "SAN *.wild.lab.test, reached as a.b.wild.lab.test (two labels deep).",
       (Code.HOSTNAME_MISMATCH,), "Hostname mismatch", hostname=f"a.b.wild.{LAB_DOMAIN}"),
    _s("ip_san", "SAN IP:127.0.0.1, reached by IP.", (), None, hostname="127.0.0.1", by_ip=True),
    _s("ip_in_dns_san", "The IP is written as a DNS SAN (DNS:127.0.0.1), reached by IP.",
       (Code.HOSTNAME_MISMATCH,), "IP address mismatch", hostname="127.0.0.1", by_ip=True),
    _s("cn_only", "CN=cn-only.lab.test and no SAN: urllib3 2 ignores the CN.", (Code.NO_SAN,),
       "Hostname mismatch"),
    _s("wrong_order", "Sends leaf, root, intermediate: OpenSSL copes; a warning.",
       (Code.CHAIN_ORDER,), None, SELF_SIGNED_IN_CHAIN),
    _s("extra_cert", "Sends leaf, intermediate and an unrelated CA certificate.",
       (Code.CHAIN_EXTRA_CERT,), None),
    _s("sha1_signed", "The leaf is signed sha1WithRSAEncryption (by an RSA intermediate).",
       (Code.WEAK_SIGNATURE,), "CA signature digest algorithm too weak"),
    # the key-size check comes before the issuer lookup: certifi users see the same text
    _s("rsa1024", "The leaf has an RSA-1024 key.", (Code.WEAK_KEY,), "EE certificate key too weak",
       "EE certificate key too weak"),
    _s("strict_bc_not_critical",
       "The intermediate's basicConstraints CA:TRUE is not critical: OK on 3.11, fails on 3.13.",
       (Code.STRICT_X509,), None, strict_error="Basic Constraints of CA cert not marked critical"),
    _s("strict_no_aki", "The leaf has no authorityKeyIdentifier: OK on 3.11, fails on 3.13.",
       (Code.STRICT_X509,), None, strict_error="Missing Authority Key Identifier"),
    _s("client_cert_required",
       "The server requires a client certificate (TLS 1.3; lab.client_cert_file works).",
       (Code.CLIENT_CERT_REQUIRED,), "certificate required",
       alternatives=("EOF occurred in violation of protocol", "Connection reset by peer",
                     "Connection aborted", "RemoteDisconnected")),
    _s("plain_http", "Plain HTTP on the port: answers 400 to a TLS ClientHello.",
       (Code.NOT_TLS,), "wrong version number", "wrong version number", kind="plain"),
    _s("intercepting_proxy",
       "The good endpoint reached through lab.proxy_url, a TLS-intercepting CONNECT proxy that "
       "re-signs every host with its own root (sent in the chain).",
       (Code.INTERCEPTING_PROXY,), SELF_SIGNED_IN_CHAIN, SELF_SIGNED_IN_CHAIN,
       hostname=host_for("good"), via_proxy=True, kind="proxy"),
    _s("revoked",
       "A valid leaf revoked in the intermediate's CRL (served by the lab); Python checks no "
       "revocation, so requests accepts it.", (Code.REVOKED,), None),
    _s("pin_other_key",
       "A different key, validly issued by the same intermediate, whose SAN also covers "
       "good.lab.test: a MITM that only pinning catches.", (), None),
    _s("stall", "Accepts the TCP connection and never answers.", (Code.TIMEOUT,), "timed out",
       "timed out", kind="stall"),
))


def scenario_ids() -> tuple[str, ...]:
    return SCENARIOS.ids()


__all__ = [
    "LAB_DOMAIN",
    "Scenario",
    "Endpoint",
    "SCENARIOS",
    "ScenarioTable",
    "EndpointTable",
    "host_for",
    "scenario_ids",
]
