"""Evidence factories: an :class:`~certdoctor.evidence.Evidence` built in memory, for the checks' unit tests.

Certificates come from :mod:`support.pki` (the one test PKI builder); nothing here opens a socket
or reads a file. Each factory takes the parts a test cares about and fills the rest with what a
healthy gathering would have seen:

    ca = TestCA(); inter = ca.intermediate(); leaf = inter.issue_cert("www.example.test")
    ev = evidence(leaf.chain[:-1], anchors=[ca.cert])           # presented leaf + intermediate
    ev = evidence([leaf.cert], anchors=[ca.cert], aia=[downloaded(inter.cert)])
    ev = evidence(chain, outcome=client_failed("certificate verify failed: ..."))
"""

from __future__ import annotations

import datetime as dt
from typing import Sequence

from certdoctor.evidence import CanaryProbe, Evidence, Options, RevocationEvidence, TrustEvidence
from certdoctor.model import Finding
from certdoctor.net.client import ClientOutcome
from certdoctor.net.probe import ProbeResult
from certdoctor.net.target import parse_target
from certdoctor.trust.effective import EffectiveTrust
from certdoctor.x509.path import AIAAttempt, fetched_pool

from support.pki import NOW, der

HOST = "www.example.test"
STORE = "/nonexistent/evidence-ca.pem"  # named, never read: the anchors travel as DER


def trust(*, cafile: str | None = STORE, source: str = "argument", client: str = "requests",
          findings: Sequence[Finding] = (), certifi_version: str | None = "2099.01.01",
          uses_os_store: bool = False, python: str = "3.11") -> EffectiveTrust:
    """The description of a store (files named, not read)."""
    return EffectiveTrust(client=client, cafile=cafile, capath=None, uses_os_store=uses_os_store, source=source,
                          reasons=(f"{source}: {cafile}",), env=(), certifi_path="/nonexistent/certifi/cacert.pem",
                          certifi_version=certifi_version, findings=tuple(findings), python=python)


def probe(chain: Sequence = (), *, host: str = HOST, port: int = 443, failure: Finding | None = None,
          chain_der: Sequence[bytes] | None = None, staple: bytes | None = None) -> ProbeResult:
    """A handshake that presented ``chain`` (certificates) or exactly ``chain_der`` (any bytes)."""
    ders = tuple(chain_der) if chain_der is not None else tuple(der(c) for c in chain)
    return ProbeResult(host=host, port=port, servername=host, address="192.0.2.1", chain_der=ders,
                       tls_version="TLSv1.3" if ders else None, cipher="TLS_AES_256_GCM_SHA384" if ders else None,
                       ocsp_staple=staple, failure=failure, ocsp_requested=True)


def client_ok(client: str = "requests", http_date: dt.datetime | None = None) -> ClientOutcome:
    return ClientOutcome(client, True, None, None, 200, http_date or NOW, 0.01)


def client_failed(error: str = "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local "
                               "issuer certificate (_ssl.c:1006)", client: str = "requests") -> ClientOutcome:
    return ClientOutcome(client, False, f"requests.exceptions.SSLError: {error}", "SSLError", None, None, 0.01)


def downloaded(*certs, url: str = "http://ca.example.test/issuer.der", for_subject: str = "CN=leaf") -> AIAAttempt:
    """An AIA download that gave ``certs`` (none: a failed download)."""
    if not certs:
        return AIAAttempt(url, for_subject, False, f"fetching {url} failed: connection refused")
    return AIAAttempt(url, for_subject, True, None, False, tuple(c.subject.rfc4514_string() for c in certs),
                      tuple(der(c) for c in certs))


def canary(host: str, chain: Sequence = (), error: str | None = None) -> CanaryProbe:
    return CanaryProbe(host, 443, tuple(der(c) for c in chain), error)


def evidence(chain: Sequence = (), *, anchors: Sequence = (), host: str = HOST, client: str = "requests",
             python: str = "3.11", now: dt.datetime = NOW, aia: Sequence[AIAAttempt] = (),
             revocation: RevocationEvidence | None = None, canaries: Sequence[CanaryProbe] = (),
             outcome: ClientOutcome | None = None, proxy: str | None = None, pins: Sequence[str] = (),
             warn_days: int = 30, failure: Finding | None = None, chain_der: Sequence[bytes] | None = None,
             description: EffectiveTrust | None = None, revocation_checked: bool = True,
             clock_pinned: bool = False, staple: bytes | None = None) -> Evidence:
    """One target's evidence: ``chain`` as presented, the store holding ``anchors``."""
    target = parse_target(f"https://{host}/")
    seen = list(chain) + fetched_pool(aia)
    store = TrustEvidence.of(description or trust(client=client, python=python), list(anchors), seen)
    options = Options(proxy=proxy, proxy_arg=proxy, timeout=5.0, revocation=revocation_checked, pins=tuple(pins),
                      warn_days=warn_days, clock_pinned=clock_pinned)
    return Evidence(target, client, python, now, store, probe(chain, host=host, failure=failure, chain_der=chain_der,
                                                              staple=staple),
                    tuple(aia), revocation, tuple(canaries), outcome, options)
