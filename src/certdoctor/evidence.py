"""Everything the network told certdoctor about one target, as one frozen value.

:func:`certdoctor.gather.gather` does all the I/O of a diagnosis and returns an :class:`Evidence`;
:mod:`certdoctor.checks` are pure functions of it (and of the clock they judge at). So a
diagnosis can be stored (``pickle``) and judged again later, elsewhere, after the servers are
gone, and the checks can be unit-tested from evidence built in memory, without a socket.

    >>> ev = gather("https://example.org/")                           # doctest: +SKIP
    >>> blob = pickle.dumps(ev)                                       # doctest: +SKIP
    >>> judge(pickle.loads(blob)).findings                            # doctest: +SKIP

What is in it, and why in that form:

* ``probe``: the handshake exactly as seen (:class:`~certdoctor.net.probe.ProbeResult`: the
  presented chain's DER, TLS version, cipher, the stapled OCSP response, the failure).
* ``aia``: every caIssuers download (:class:`~certdoctor.x509.path.AIAAttempt`) with the DER of
  what it gave, so the path is built again from them without downloading anything.
* ``trust``: the effective trust store as :class:`TrustEvidence`. Its ``description`` is the
  :class:`~certdoctor.trust.effective.EffectiveTrust` (source, cafile, reasons, CA_BUNDLE_ENV
  findings, certifi path and version…): a small frozen value, but it only *names* files. A check
  must not read them (they may be gone, or changed, when evidence is judged again), so the
  anchors a check can need are carried as DER in ``anchors_der``: every anchor whose subject is
  the issuer or the subject of a certificate seen (presented or downloaded). No other anchor can
  be on a path from those certificates, so path building and cryptography's verifier reach the
  same verdict with this subset as with the whole store. When no anchor matters, the store's
  first anchor is kept as a witness that the store is not empty (the verifier refuses an empty
  store, and "nothing matched" must stay different from "nothing to match"). The whole store
  is summarised, not copied (certifi alone is ~150 roots): ``store_size`` and ``store_digest``
  (SHA-256 over the SHA-256 of each anchor's DER, in load order) say which store it was.
* ``revocation``: the CRL/OCSP bytes as downloaded, with when, from where, the nonce sent and
  why a download failed (:class:`RevocationEvidence`); the parsing and verification happen
  when judging (:mod:`certdoctor.checks.revocation`).
* ``canary``: the interception probes (:class:`CanaryProbe`): the chains other hosts (the
  canaries) presented through the same proxy, the proof that a proxy re-signs every site; the
  chain the same target presented over a direct connection (``same_target``), the proof that
  the proxy re-signs this one; without a proxy, the canaries reached directly (a transparent
  interceptor signs them with the target's root).
* ``outcome``: what the real client library did (:class:`~certdoctor.net.client.ClientOutcome`).
* ``options``: how the diagnosis was asked for (:class:`Options`).

Every type here is a frozen, slotted dataclass of tuples, bytes, strings and numbers, and
pickles. Unpickle only evidence you stored yourself: pickle runs code from the data it reads.
Store it like a diagnosis's output: it names the machine's CA files and environment variables,
and ``options.proxy`` is the proxy URL as it was used (with its credentials, if it had any).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Sequence

from certdoctor import policy
from certdoctor.x509.path import AIAAttempt

if TYPE_CHECKING:  # pragma: no cover
    from cryptography import x509

    from certdoctor.net.client import ClientOutcome
    from certdoctor.net.probe import ProbeResult
    from certdoctor.net.target import Target
    from certdoctor.trust.effective import EffectiveTrust


def _der(cert: "x509.Certificate") -> bytes:
    from cryptography.hazmat.primitives import serialization

    return cert.public_bytes(serialization.Encoding.DER)


def _parse(ders: Iterable[bytes]) -> "tuple[x509.Certificate, ...]":
    from cryptography import x509

    out = []
    for der in ders:
        try:
            out.append(x509.load_der_x509_certificate(der))
        except Exception:  # evidence may be odd: what does not parse is not an anchor
            continue
    return tuple(out)


@dataclass(frozen=True, slots=True)
class TrustEvidence:
    """The effective trust: its description, the anchors that matter (DER), and a digest of the
    whole store. Build it with :meth:`of`."""

    description: "EffectiveTrust"
    anchors_der: tuple[bytes, ...]
    store_size: int
    store_digest: str

    @classmethod
    def of(cls, trust: "EffectiveTrust", store: Sequence["x509.Certificate"],
           seen: Iterable["x509.Certificate"]) -> "TrustEvidence":
        """Keep the anchors of ``store`` whose subject is the issuer or subject of a ``seen``
        certificate (see the module docstring), in store order."""
        names = set()
        for cert in seen:
            names.add(cert.issuer)
            names.add(cert.subject)
        ders = [_der(a) for a in store]
        kept = tuple(d for a, d in zip(store, ders) if a.subject in names)
        if not kept and ders:
            kept = (ders[0],)
        digest = hashlib.sha256(b"".join(hashlib.sha256(d).digest() for d in ders)).hexdigest()
        return cls(trust, kept, len(ders), digest)

    def anchors(self) -> "tuple[x509.Certificate, ...]":
        """The kept anchors, parsed (from the DER carried here; no file is read)."""
        return _parse(self.anchors_der)


@dataclass(frozen=True, slots=True)
class RevocationFetch:
    """One CRL download or OCSP exchange, as it happened (nothing verified yet).

    ``method`` is ``"crl"`` or ``"ocsp"``. ``body`` is the answer's bytes (``None`` when nothing
    was received); ``problem``/``error`` say why not (a :class:`~certdoctor.checks.revocation.Problem`
    value: ``unsupported-scheme``, ``budget`` or ``fetch``). ``nonce`` is the OCSP nonce sent
    (``None``: no request was sent, the answer came from the cache). ``notes`` say how it was
    asked (GET, POST, GET refused then POST). ``at`` is the wall-clock time of the answer.
    """

    method: str
    url: str
    body: bytes | None = None
    at: _dt.datetime | None = None
    from_cache: bool = False
    problem: str | None = None
    error: str | None = None
    nonce: bytes | None = None
    notes: tuple[str, ...] = ()
    elapsed: float = 0.0


@dataclass(frozen=True, slots=True)
class RevocationEvidence:
    """What the revocation sources answered about ``cert_der`` (issued by ``issuer_der``).

    ``method`` is what was asked for (``all``, ``crl``, ``ocsp``); ``crl_urls``/``ocsp_urls`` the
    locations that were to be asked, in order; ``fetches`` what was downloaded, in order (the
    gathering asks each kind until a verified REVOKED, each kind up to its first verified answer). ``error`` is set when the
    gathering itself failed (then the rest may be empty).
    """

    cert_der: bytes
    issuer_der: bytes
    method: str = "all"
    stapled: bytes | None = None
    crl_urls: tuple[str, ...] = ()
    ocsp_urls: tuple[str, ...] = ()
    fetches: tuple[RevocationFetch, ...] = ()
    error: str | None = None


@dataclass(frozen=True, slots=True)
class CanaryProbe:
    """One handshake made to prove (or disprove) interception: the chain ``host:port`` presented;
    ``error`` says why there is none (a direct connection a firewall refuses is evidence too,
    and proves nothing).

    ``via_proxy``: made through the same proxy as the diagnosis (``options.proxy``); ``False``:
    made directly. ``same_target``: this is the diagnosed target itself, reached directly to
    compare its chain with the one seen through the proxy; otherwise it is a canary, another
    host (through the proxy, or directly when no proxy is configured, for a transparent one).
    ``elapsed`` is how long the probe took (seconds)."""

    host: str
    port: int
    chain_der: tuple[bytes, ...] = ()
    error: str | None = None
    via_proxy: bool = True
    same_target: bool = False
    elapsed: float = 0.0

    def certificates(self) -> "tuple[x509.Certificate, ...]":
        return _parse(self.chain_der)


@dataclass(frozen=True, slots=True)
class Options:
    """How the diagnosis was asked for.

    ``proxy`` is the proxy really used (from the argument or the environment), ``proxy_arg``,
    ``ca_file`` and ``servername`` what the caller gave (they are repeated in the suggested
    commands). ``pins`` are canonical (``sha256/…``). ``clock_pinned``: the caller gave the
    clock (``now=``), so the real client, which runs on the machine's clock, may disagree.
    """

    proxy: str | None = None
    proxy_arg: str | None = None
    ca_file: str | None = None
    servername: str | None = None
    timeout: float = policy.TIMEOUT_SECONDS
    aia: bool = True
    revocation: bool = True
    pins: tuple[str, ...] = ()
    warn_days: int = policy.EXPIRING_SOON_DAYS
    run_real_client: bool = True
    clock_pinned: bool = False


@dataclass(frozen=True, slots=True)
class Evidence:
    """Everything gathered about one target for one client (see the module docstring).

    ``now`` is the clock of the gathering (the caller's ``now`` when given). ``python`` is the
    rules diagnosed for (``"3.13"`` or this Python's ``major.minor``).
    """

    target: "Target"
    client: str
    python: str
    now: _dt.datetime
    trust: TrustEvidence
    probe: "ProbeResult"
    aia: tuple[AIAAttempt, ...] = ()
    revocation: RevocationEvidence | None = None
    canary: tuple[CanaryProbe, ...] = ()
    outcome: "ClientOutcome | None" = None
    options: Options = Options()


__all__ = ["Evidence", "TrustEvidence", "RevocationEvidence", "RevocationFetch", "CanaryProbe", "Options",
           "AIAAttempt"]
