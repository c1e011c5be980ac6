"""All the I/O of one diagnosis, and nothing else: the result is one :class:`~certdoctor.evidence.Evidence`.

In order:

1. :mod:`certdoctor.trust.effective` — the store the chosen client really uses here, and why
   (files and environment are read here, once).
2. :mod:`certdoctor.net.probe` — one handshake that records the presented chain, the TLS facts and
   the stapled OCSP response (no data sent).
3. :mod:`certdoctor.net.aia` — the AIA chase: while the top of the path has no issuer among the
   anchors and the certificates in hand, download its "CA Issuers" URL (within one time budget).
4. The interception canary — only when a proxy is used and the path does not reach the store: the
   chains two other hosts present through the same proxy.
5. :mod:`certdoctor.revocation.gather` — the CRL/OCSP answers about the leaf, as far as judging needs.
6. :mod:`certdoctor.net.client` — the real client library against the URL with exactly that trust.

Which of 4 and 5 to do depends on the path; the path is computed with the same pure function the
checks use (:func:`certdoctor.x509.path.build_path`), so gathering and judging agree on it.

    >>> ev = gather("https://expired-leaf.lab.test:8443/", ca_file="lab-root.pem")   # doctest: +SKIP
    >>> from certdoctor.diagnose import judge; judge(ev).primary.code                 # doctest: +SKIP
"""

from __future__ import annotations

import datetime as _dt
import sys
from typing import TYPE_CHECKING, Sequence

from certdoctor import policy
from certdoctor.errors import UsageError
from certdoctor.evidence import CanaryProbe, Evidence, Options, RevocationEvidence, TrustEvidence
from certdoctor.model import CLIENTS, CertInfo

if TYPE_CHECKING:  # pragma: no cover
    from cryptography import x509

    from certdoctor.net.fetch import FetchCache
    from certdoctor.x509.path import PathResult

#: hosts probed through the same proxy to prove it re-signs every site
CANARY_HOSTS = ("pypi.org", "www.python.org")


def _der(cert: "x509.Certificate") -> bytes:
    from cryptography.hazmat.primitives import serialization

    return cert.public_bytes(serialization.Encoding.DER)


def resolve_python(python: str | None) -> str:
    """``"3.13"`` for 3.13 rules, else this Python's ``major.minor``; refuses anything else."""
    if python not in (None, "3.13", "current"):
        raise UsageError(f"--python {python!r} is not supported", "Use --python 3.13 (or leave it out).")
    if python is None or python == "current":
        return "3.13" if sys.version_info >= (3, 13) else f"{sys.version_info[0]}.{sys.version_info[1]}"
    return python


def gather(
    target: str,
    *,
    client: str = "requests",
    ca_file: str | None = None,
    python: str | None = None,
    proxy: str | None = None,
    servername: str | None = None,
    timeout: float = policy.TIMEOUT_SECONDS,
    now: _dt.datetime | None = None,
    environ=None,
    aia: bool = True,
    revocation: bool = True,
    pins: Sequence[str] = (),
    warn_days: int = policy.EXPIRING_SOON_DAYS,
    cache: "FetchCache | None" = None,
    run_real_client: bool = True,
    allow_private_fetch: bool | None = None,
    revocation_untrusted: bool = False,
) -> Evidence:
    """Everything the network (and the environment) says about ``target`` for ``client``.

    The parameters are :func:`certdoctor.diagnose.diagnose`'s. Raises only for bad usage (an
    unknown client, a malformed target or pin) and what the caller's own input breaks; a server
    that fails is evidence.

    ``timeout`` bounds the whole gathering (one :class:`~certdoctor.net.deadline.Deadline`: the
    probe, the AIA chase, revocation, the real client), within the running command's deadline.
    The AIA/CRL/OCSP URLs the certificates name are fetched only where the target's own address
    allows (:func:`certdoctor.net.resolve.fetch_allowed`; ``allow_private_fetch`` lifts that —
    default: the running command's ``--allow-private-fetch``), and
    CRL/OCSP only for a path that reaches the store (``revocation_untrusted``: for any path)."""
    from certdoctor.net.deadline import within

    with within(timeout):
        return _gather(target, client=client, ca_file=ca_file, python=python, proxy=proxy, servername=servername,
                       timeout=timeout, now=now, environ=environ, aia=aia, revocation=revocation, pins=pins,
                       warn_days=warn_days, cache=cache, run_real_client=run_real_client,
                       allow_private_fetch=allow_private_fetch, revocation_untrusted=revocation_untrusted)


def _gather(target: str, *, client, ca_file, python, proxy, servername, timeout, now, environ, aia, revocation,
            pins, warn_days, cache, run_real_client, allow_private_fetch, revocation_untrusted) -> Evidence:
    import os

    from certdoctor.net.deadline import current
    from certdoctor.net.resolve import FetchScope, private_fetch_allowed

    from certdoctor.net.client import run_client
    from certdoctor.net.probe import probe
    from certdoctor.net.proxy import effective_proxy
    from certdoctor.net.target import parse_target
    from certdoctor.trust.effective import effective_trust

    if client not in CLIENTS:
        raise UsageError(f"unknown client {client!r}", f"Choose one of: {', '.join(CLIENTS)}.")
    python = resolve_python(python)
    env = os.environ if environ is None else environ
    tgt = parse_target(target, servername)
    if pins:
        from certdoctor.pinning.pins import parse_pins

        pins = parse_pins(pins)  # a malformed pin is bad usage, before any connection
    strict_python = python if python == "3.13" else None
    trust = effective_trust(client, ca_file=ca_file, environ=env, python=strict_python)
    used_proxy = effective_proxy(tgt.url, proxy, env)
    clock = now or _dt.datetime.now(_dt.timezone.utc)

    sni = None if _is_ip(tgt.servername) else tgt.servername
    deadline = current()
    assert deadline is not None  # set by gather()
    res = probe(tgt.host, tgt.port, servername=sni, proxy=used_proxy, timeout=max(0.05, deadline.op(timeout)),
                ocsp=revocation)
    # what the certificates' URLs may reach: no more internal than the address really connected
    # to (through a proxy certdoctor does not see it: public)
    allow = private_fetch_allowed() if allow_private_fetch is None else allow_private_fetch
    scope = FetchScope.for_target(res.address, proxied=bool(used_proxy), allow_private=allow)
    store = trust.anchors()
    attempts: tuple = ()
    canary: tuple[CanaryProbe, ...] = ()
    rev: RevocationEvidence | None = None
    seen: list = []
    if res.chain_der:
        from certdoctor.net.aia import chase
        from certdoctor.x509.path import build_path, fetched_pool

        certs = res.certificates()
        if aia:
            attempts = chase(certs, store, cache=cache, budget=min(policy.AIA_BUDGET_SECONDS, timeout),
                             deadline=deadline, scope=scope)
        seen = list(certs) + fetched_pool(attempts)
        path = build_path(certs, store, host=tgt.servername, now=clock, aia_attempts=attempts,
                          verify_rfc5280=False)
        if used_proxy and not path.trusted:
            top = path.top or CertInfo.from_certificate(certs[0], clock)
            canary = _canaries(top, used_proxy, max(0.05, deadline.op(timeout)))
        # an untrusted chain's CRL/OCSP URLs are anyone's to choose, and its status changes
        # nothing (it fails anyway): not asked unless the caller says so
        if revocation and (path.trusted or revocation_untrusted):
            rev = _revocation(path, clock, min(policy.REVOCATION_BUDGET_SECONDS, deadline.remaining()),
                              res.ocsp_staple, cache, scope)

    outcome = None
    if run_real_client and (res.failure is None or res.chain_der):
        outcome = run_client(client, tgt.url, trust, python=strict_python, proxy=used_proxy, timeout=timeout,
                             servername=tgt.servername, deadline=deadline)
    options = Options(proxy=used_proxy, proxy_arg=proxy, ca_file=ca_file, servername=servername, timeout=timeout,
                      aia=aia, revocation=revocation, pins=tuple(pins), warn_days=warn_days,
                      run_real_client=run_real_client, clock_pinned=now is not None)
    return Evidence(tgt, client, python, clock, TrustEvidence.of(trust, store, seen), res, tuple(attempts), rev,
                    canary, outcome, options)


def _is_ip(name: str) -> bool:
    from certdoctor.checks._text import is_ip

    return is_ip(name)


def _canaries(top: CertInfo, proxy: str, timeout: float) -> tuple[CanaryProbe, ...]:
    """Probe other hosts through the same proxy until one is signed like ``top`` (it re-signs)."""
    from certdoctor.checks.trust import signs_alike
    from certdoctor.net.probe import probe

    out: list[CanaryProbe] = []
    for host in CANARY_HOSTS:
        try:
            res = probe(host, 443, proxy=proxy, timeout=min(timeout, policy.CANARY_TIMEOUT_SECONDS))
        except Exception as exc:  # a canary that cannot fly proves nothing either way
            out.append(CanaryProbe(host, 443, error=f"{type(exc).__name__}: {exc}"))
            continue
        if res.failure is not None or not res.chain_der:
            why = res.failure.summary if res.failure is not None else "no certificate presented"
            out.append(CanaryProbe(host, 443, tuple(res.chain_der), error=why))
            continue
        seen = CanaryProbe(host, 443, tuple(res.chain_der))
        out.append(seen)
        if signs_alike(top, seen.certificates()):
            break
    return tuple(out)


def _revocation(path: "PathResult", now: _dt.datetime, budget: float, stapled: bytes | None,
                cache: "FetchCache | None", scope=None) -> RevocationEvidence | None:
    """The answers about the leaf (issued by the next certificate of the path), if it names a source."""
    if len(path.path) < 2:
        return None
    leaf, issuer = path.path[0], path.path[1]
    if not (leaf.crl_urls or leaf.ocsp_urls or stapled):
        return None
    from certdoctor.revocation.gather import gather as gather_revocation

    try:
        return gather_revocation(leaf.certificate(), issuer.certificate(), now=now, budget=budget,
                                 timeout=max(0.05, min(3.0, budget)), stapled=stapled, cache=cache, scope=scope)
    except Exception as exc:  # a step that could not run is data
        return RevocationEvidence(leaf.der, issuer.der, stapled=stapled, error=str(exc))


__all__ = ["gather", "resolve_python", "CANARY_HOSTS"]
