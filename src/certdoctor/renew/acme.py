"""The ACME (RFC 8555) session, on certbot's ``acme`` library (``ClientV2``/``ClientNetwork``).

    >>> s = AcmeSession.open(url, ca_file=None, account_key=Path("account.key"), timeout=30)  # doctest: +SKIP
    >>> issued = s.issue(csr_pem, responder=Http01Server("0.0.0.0:80"), deadline=300)       # doctest: +SKIP

What this adds to the library:

* **TLS always verified**: ``ClientNetwork(verify_ssl=ca_file or True)`` (``True``: requests'
  default trust); there is no switch to turn it off.
* **Bounded**: every request gets ``min(timeout, what is left of the deadline)``
  (:class:`_Network`), every answer is read up to ``ACME_MAX_RESPONSE_BYTES``, and polling
  (authorizations, the order) backs off from ``ACME_POLL_FIRST_SECONDS`` to
  ``ACME_POLL_MAX_SECONDS`` within the deadline — the library's own loops sleep a fixed second
  and read an unbounded body.
* **The account**: its key (EC P-256) is created 0600 when the file is absent (``O_EXCL``: never
  overwritten) and loaded when present; an existing key first asks for its account
  (``onlyReturnExisting``), and one is created only when the CA has none (with External Account
  Binding when ``eab_kid``/``eab_hmac_key`` are given).
* **``replaces``** (RFC 9773 §5), which the library lacks, in ONE place: :class:`NewOrderReplacing`,
  a ``messages.NewOrder`` with a ``replaces`` field (omitted when empty); sent only when the caller
  passes it and the directory advertises ``renewalInfo``.
* **Profiles**: a requested profile must be one the directory lists in ``meta.profiles``.
* **Every failure is one** :class:`AcmeFailure` ``(kind, transient, retry_after, detail)`` — see
  :data:`KINDS`; the run decides from ``transient``/``retry_after`` whether and when to retry.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Iterator, Sequence

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from certdoctor import __version__, fsutil, policy
from certdoctor._text import safe
from certdoctor.errors import CertdoctorError, UsageError
from certdoctor.renew.challenge import ChallengeError, Responder

KINDS = frozenset({"unreachable", "timeout", "tls", "bad_response", "rate_limited", "challenge_failed",
                   "order_invalid", "finalize_failed", "account", "already_replaced", "unauthorized"})
#: kinds that a later try may cure on its own (the server is back, the limit has passed)
TRANSIENT_KINDS = frozenset({"unreachable", "timeout", "rate_limited"})
ERROR_NS = "urn:ietf:params:acme:error:"
USER_AGENT = f"certdoctor/{__version__} (+https://github.com/certdoctor) acme-python"


class AcmeFailure(Exception):
    """An ACME step failed. ``kind`` (one of :data:`KINDS`), ``transient`` (a retry may work),
    ``retry_after`` (seconds the server asked us to wait, clamped; or None), ``detail`` (one
    sanitised line naming the step and the server's words), ``status`` (HTTP status if any),
    ``problem`` (the RFC 8555 error type if any)."""

    def __init__(self, kind: str, detail: str, *, transient: bool | None = None, retry_after: float | None = None,
                 status: int | None = None, problem: str | None = None) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown AcmeFailure kind {kind!r}")
        self.kind = kind
        self.transient = kind in TRANSIENT_KINDS if transient is None else bool(transient)
        self.retry_after = retry_after
        self.status = status
        self.problem = problem
        self.detail = safe(" ".join(str(detail).split()))[:policy.ACME_DETAIL_MAX_CHARS]
        super().__init__(self.detail)

    def __str__(self) -> str:
        return self.detail

    def __repr__(self) -> str:
        return f"AcmeFailure({self.kind!r}, {self.detail!r}, transient={self.transient}, retry_after={self.retry_after})"


@dataclasses.dataclass(frozen=True)
class Issued:
    """What an order gave: the leaf, the chain above it, both together (PEM, as the CA sent
    them), and ``warnings`` (e.g. a cleanup that failed after the certificate was issued)."""

    cert_pem: bytes
    chain_pem: bytes
    fullchain_pem: bytes
    warnings: tuple[str, ...] = ()


# --------------------------------------------------------------------------- the library, imported late

def _lib():
    """``acme`` and ``josepy`` (the ``renew`` extra); a UsageError saying how to get them."""
    try:
        import josepy as jose
        from acme import challenges, client, errors, messages
    except ImportError as exc:  # pragma: no cover - the test extra has them
        raise UsageError(f"renew needs the acme library: {exc}",
                         "Install it: pip install 'certdoctor[renew]'.") from None
    return jose, client, messages, challenges, errors


def _new_order_class():
    jose, _client, messages, _ch, _err = _lib()

    class NewOrderReplacing(messages.NewOrder):
        """RFC 8555 newOrder plus RFC 9773's ``replaces`` (the CertID of the certificate this
        order replaces); the field is left out when empty, so an order without it is the
        library's own ``NewOrder`` byte for byte."""

        replaces: str | None = jose.field("replaces", omitempty=True)

    return NewOrderReplacing


_NEW_ORDER = None


def new_order_message(identifiers, *, profile: str | None = None, replaces: str | None = None):
    """The newOrder payload (a :class:`NewOrderReplacing`): the one place ``replaces`` is added."""
    global _NEW_ORDER
    if _NEW_ORDER is None:
        _NEW_ORDER = _new_order_class()
    kw = {"identifiers": identifiers}
    if profile:
        kw["profile"] = profile
    if replaces:
        kw["replaces"] = replaces
    return _NEW_ORDER(**kw)


# --------------------------------------------------------------------------- helpers

def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def split_fullchain(fullchain_pem: bytes) -> tuple[bytes, bytes]:
    """(leaf PEM, the rest PEM) of a PEM chain, leaf first; ValueError when there is no certificate."""
    certs = x509.load_pem_x509_certificates(fullchain_pem)
    pems = [c.public_bytes(serialization.Encoding.PEM) for c in certs]
    return pems[0], b"".join(pems[1:])


def _retry_after(headers) -> float | None:
    """A Retry-After header (delta-seconds or HTTP-date) as seconds in [0, ACME_RETRY_AFTER_MAX]."""
    value = (headers or {}).get("Retry-After")
    if value is None:
        return None
    value = str(value).strip()
    seconds: float | None
    if value.isdigit():
        seconds = float(value)
    else:
        from email.utils import parsedate_to_datetime

        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None or when.tzinfo is None:
            return None
        import datetime as dt

        seconds = (when - dt.datetime.now(dt.timezone.utc)).total_seconds()
    return max(0.0, min(float(policy.ACME_RETRY_AFTER_MAX_SECONDS), seconds))


def _contact(contact: Sequence[str]) -> tuple[str, ...]:
    out = []
    for c in contact or ():
        c = str(c).strip()
        if not c:
            continue
        out.append(c if ":" in c else f"mailto:{c}")
    return tuple(out)


def _jwk_and_alg(key):
    jose = _lib()[0]
    if isinstance(key, ec.EllipticCurvePrivateKey):
        alg = {"secp256r1": jose.ES256, "secp384r1": jose.ES384, "secp521r1": jose.ES512}.get(key.curve.name)
        if alg is None:
            raise UsageError(f"account key: the curve {key.curve.name} is not usable for ACME",
                             "Use an EC P-256 (the default), P-384 or RSA account key.")
        return jose.JWKEC(key=key), alg
    if isinstance(key, rsa.RSAPrivateKey):
        return jose.JWKRSA(key=key), jose.RS256
    raise UsageError("account key: neither EC nor RSA", "Use an EC P-256 (the default), P-384 or RSA account key.")


def account_key_at(path: Path) -> tuple[object, bool]:
    """The account key at ``path`` (loaded), or a new EC P-256 key written there 0600 with
    ``O_EXCL`` (never over a file); ``(key, created)``."""
    path = Path(path)
    if path.exists():
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise UsageError(f"account key {safe(path)}: cannot read it: {exc.strerror or exc}",
                             "Check the path and its permissions.") from None
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except TypeError:
            raise UsageError(f"account key {safe(path)}: it is encrypted",
                             "Give an unencrypted PEM key (keep it 0600), or a new path to create one.") from None
        except ValueError:
            raise UsageError(f"account key {safe(path)}: not a PEM private key",
                             "Give the PEM account key, or a path that does not exist yet to create one.") from None
        _jwk_and_alg(key)
        return key, False
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    if not path.parent.exists():
        try:
            path.parent.mkdir(parents=True, mode=0o700)
        except OSError as exc:
            raise UsageError(f"account key {safe(path)}: cannot create its directory: {exc.strerror or exc}",
                             "Give a path in a directory certdoctor may write to.") from None
    try:
        fsutil.write_new(path, pem, 0o600)
    except OSError as exc:
        raise UsageError(f"account key {safe(path)}: cannot write it: {exc.strerror or exc}",
                         "Give a path in a directory certdoctor may write to.") from None
    return key, True


class _Clock:
    """The deadline of one ``issue`` (monotonic seconds)."""

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + max(0.0, float(seconds))
        self.budget = float(seconds)

    def left(self) -> float:
        return max(0.0, self.end - time.monotonic())


def _network_class():
    _jose, client, _messages, _ch, _err = _lib()

    class _Network(client.ClientNetwork):
        """``ClientNetwork`` whose every request is bounded by the per-request timeout and the
        running deadline, whose answers are read up to ACME_MAX_RESPONSE_BYTES, and which keeps
        the last response (its status and headers say what an error alone does not)."""

        clock: _Clock | None = None
        last_response = None

        def _send_request(self, method, url, *args, **kwargs):
            timeout = float(self._default_timeout)
            if self.clock is not None:
                left = self.clock.left()
                if left <= 0:
                    raise AcmeFailure("timeout", f"the ACME exchange took longer than its "
                                                 f"{self.clock.budget:g} s budget ({method} {safe(url)})")
                timeout = min(timeout, left)
            kwargs["timeout"] = timeout
            self.last_response = None
            self.session.clock = self.clock  # the body is read under the same deadline
            response = super()._send_request(method, url, *args, **kwargs)
            self.last_response = response
            return response

        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            old = self.session
            self.session = _bounded_session()
            for prefix, adapter in old.adapters.items():
                self.session.mount(prefix, adapter)

    return _Network


def _bounded_session():
    """A requests session whose every answer is streamed and read up to ACME_MAX_RESPONSE_BYTES
    (the library reads ``response.text`` whole: an endless body would fill memory)."""
    import requests

    class _Session(requests.Session):
        clock: _Clock | None = None

        def request(self, *args, **kwargs):
            kwargs["stream"] = True
            response = super().request(*args, **kwargs)
            try:
                _bounded_read(response, self.clock)
            finally:
                response.close()
            return response

    return _Session()


def _bounded_read(response, clock: "_Clock | None" = None) -> None:
    """Read ``response``'s body up to ACME_MAX_RESPONSE_BYTES into ``response._content``, and
    not past ``clock`` (each read has the request timeout; a server dripping bytes within it
    is stopped at the deadline)."""
    limit = policy.ACME_MAX_RESPONSE_BYTES
    data = bytearray()
    raw = response.raw
    if hasattr(raw, "read1"):  # urllib3 >= 2.1: what has arrived, not a full 64 kB wait
        def chunks():
            while True:
                chunk = raw.read1(65536, decode_content=True)
                if not chunk:
                    return
                yield chunk
    else:  # pragma: no cover - older urllib3: whole chunks (the per-read timeout still holds)
        def chunks():
            yield from response.iter_content(65536)
    for chunk in chunks():
        data += chunk
        if clock is not None and clock.left() <= 0:
            response.close()
            raise AcmeFailure("timeout", f"the ACME server's answer from {safe(response.url)} was still coming "
                                         f"at the end of the {clock.budget:g} s budget")
        if len(data) > limit:
            response.close()
            raise AcmeFailure("bad_response", f"the ACME server's answer from {safe(response.url)} is larger "
                                              f"than {limit} bytes", status=response.status_code)
    response._content = bytes(data)
    response._content_consumed = True


# --------------------------------------------------------------------------- error mapping

def _problem_of(response) -> tuple[str | None, str | None]:
    """(error type, detail) from a problem document in ``response``, if it is one."""
    if response is None:
        return None, None
    try:
        body = response.json()
    except Exception:  # noqa: BLE001 - not JSON: no problem document
        return None, None
    if not isinstance(body, dict):
        return None, None
    typ, detail = body.get("type"), body.get("detail")
    return (typ if isinstance(typ, str) else None), (detail if isinstance(detail, str) else None)


@contextlib.contextmanager
def _mapped(step: str, net=None, *, default_kind: str = "bad_response") -> Iterator[None]:
    """Turn whatever the library or requests raise during ``step`` into one AcmeFailure."""
    import requests

    _jose, _client, messages, _ch, errors = _lib()
    try:
        yield
    except AcmeFailure:
        raise
    except ChallengeError as exc:
        raise AcmeFailure("challenge_failed", f"{step}: {exc.message}", transient=False) from None
    except requests.exceptions.SSLError as exc:
        raise AcmeFailure("tls", f"{step}: TLS verification of the ACME server failed: {_short(exc)}") from None
    except requests.exceptions.Timeout as exc:
        raise AcmeFailure("timeout", f"{step}: the ACME server did not answer in time: {_short(exc)}") from None
    except requests.exceptions.ConnectionError as exc:
        raise AcmeFailure("unreachable", f"{step}: cannot reach the ACME server: {_short(exc)}") from None
    except requests.exceptions.RequestException as exc:
        raise AcmeFailure("bad_response", f"{step}: {_short(exc)}") from None
    except errors.TimeoutError:
        raise AcmeFailure("timeout", f"{step}: timed out") from None
    except errors.ConflictError:
        response = getattr(net, "last_response", None)
        typ, detail = _problem_of(response)
        if typ == ERROR_NS + "alreadyReplaced":
            raise AcmeFailure("already_replaced", f"{step}: the CA says the certificate named in 'replaces' was "
                                                  f"already replaced: {detail or ''}", transient=False,
                              status=409, problem=typ) from None
        raise AcmeFailure(default_kind, f"{step}: conflict (409): {detail or typ or 'no detail'}", status=409,
                          problem=typ) from None
    except messages.Error as exc:
        response = getattr(net, "last_response", None)
        status = getattr(response, "status_code", None)
        raise _from_problem(step, exc.typ, exc.detail, status, response, default_kind) from None
    except errors.ClientError as exc:
        response = getattr(net, "last_response", None)
        status = getattr(response, "status_code", None)
        text = ""
        if response is not None:
            with contextlib.suppress(Exception):
                text = response.text[:200]
        if status == 429:
            raise AcmeFailure("rate_limited", f"{step}: the ACME server says too many requests (429): {text}",
                              retry_after=_retry_after(response.headers), status=status) from None
        transient = status is not None and status >= 500
        raise AcmeFailure("bad_response", f"{step}: the ACME server answered "
                                          f"{status if status is not None else 'something unusable'}: "
                                          f"{text or _short(exc)}", transient=transient, status=status,
                          retry_after=_retry_after(response.headers) if response is not None else None) from None
    except errors.Error as exc:
        raise AcmeFailure(default_kind, f"{step}: {_short(exc)}") from None
    except (ValueError, KeyError, TypeError) as exc:  # JSON or a message that does not deserialize
        raise AcmeFailure("bad_response", f"{step}: the ACME server's answer is not usable: {_short(exc)}") from None


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    # requests nests urllib3's reason: keep its last, most precise, part
    for marker in ("Caused by ", "reason: "):
        if marker in text:
            text = text.rsplit(marker, 1)[-1]
    return text.strip("()'\" ")[:300]


_PROBLEM_KINDS = {
    "rateLimited": "rate_limited",
    "unauthorized": "unauthorized",
    "accountDoesNotExist": "account",
    "externalAccountRequired": "account",
    "invalidContact": "account",
    "unsupportedContact": "account",
    "userActionRequired": "account",
    "alreadyReplaced": "already_replaced",
    "badCSR": "finalize_failed",
    "badPublicKey": "finalize_failed",
    "orderNotReady": "finalize_failed",
    "rejectedIdentifier": "order_invalid",
    "unsupportedIdentifier": "order_invalid",
    "invalidProfile": "order_invalid",
    "caa": "challenge_failed",
    "connection": "challenge_failed",
    "dns": "challenge_failed",
    "incorrectResponse": "challenge_failed",
    "tls": "challenge_failed",
}


def _from_problem(step: str, typ: str | None, detail: str | None, status: int | None, response,
                  default_kind: str) -> AcmeFailure:
    short = (typ or "").removeprefix(ERROR_NS)
    kind = _PROBLEM_KINDS.get(short, default_kind)
    transient = None
    if short == "serverInternal" or (status is not None and status >= 500):
        transient = True
    if status == 429:
        kind = "rate_limited"
    retry = _retry_after(response.headers) if response is not None else None
    words = f"{step}: {detail or 'no detail'} ({short or 'no error type'}" + (f", HTTP {status}" if status else "") + ")"
    return AcmeFailure(kind, words, transient=transient, retry_after=retry, status=status, problem=typ)


def _challenge_error(authz) -> str:
    """The server's words on why an authorization failed (its challenges' errors)."""
    parts = []
    for chall in getattr(authz, "challenges", ()) or ():
        err = getattr(chall, "error", None)
        if err is not None:
            parts.append(f"{chall.chall.typ}: {err.detail or err.typ}")
    return "; ".join(parts) or "no detail from the CA"


# --------------------------------------------------------------------------- the session

class AcmeSession:
    """An ACME account at one CA. Make it with :meth:`open`."""

    def __init__(self, client, net, *, directory_url: str, account_uri: str, account_created: bool,
                 key_created: bool) -> None:
        self.client = client
        self.net = net
        self.directory_url = directory_url
        self.account_uri = account_uri
        self.account_created = account_created
        self.key_created = key_created

    @classmethod
    def open(cls, directory_url: str, *, ca_file: str | None, account_key: Path, contact: Sequence[str] = (),
             eab_kid: str | None = None, eab_hmac_key: str | None = None, timeout: float = policy.ACME_REQUEST_TIMEOUT_SECONDS,
             user_agent: str = USER_AGENT) -> "AcmeSession":
        """Fetch the directory, load or create the account key, find or create the account.
        Raises AcmeFailure (network, TLS, account) or UsageError (a bad key file, a bad URL)."""
        _jose, client, messages, _ch, _err = _lib()
        if not str(directory_url).lower().startswith("https://"):
            raise UsageError(f"ACME directory {safe(directory_url)}: not an https:// URL",
                             "ACME runs over HTTPS (RFC 8555 §6.1): give the https:// directory URL.")
        if ca_file is not None and not os.path.isfile(ca_file):
            raise UsageError(f"ACME CA file {safe(ca_file)}: not a file",
                             "Give the PEM file of the CA that signed the ACME server's certificate.")
        if bool(eab_kid) != bool(eab_hmac_key):
            raise UsageError("External Account Binding needs both the key id and the HMAC key",
                             "Give both (the CA shows them together), or neither.")
        net = _network_class()(None, verify_ssl=ca_file if ca_file else True, user_agent=user_agent,
                               timeout=float(timeout))
        net.clock = _Clock(float(timeout) * 4)  # the directory + nonce + account: a few requests
        with _mapped("fetching the ACME directory", net):
            response = net.get(directory_url)
            directory = messages.Directory.from_json(response.json())
        # the key only once the CA answered: an unreachable or untrusted server leaves no new file
        key, key_created = account_key_at(Path(account_key))
        jwk, alg = _jwk_and_alg(key)
        net.key, net.alg = jwk, alg
        acme = client.ClientV2(directory, net)
        created = False
        uri = None
        if not key_created:
            try:
                with _mapped("looking up the ACME account", net, default_kind="account"):
                    resp = acme._post(directory["newAccount"], messages.NewRegistration(only_return_existing=True))
                    uri = resp.headers.get("Location")
                    net.account = messages.RegistrationResource(body=messages.Registration.from_json(resp.json()),
                                                                uri=uri)
            except AcmeFailure as exc:
                if exc.problem != ERROR_NS + "accountDoesNotExist":
                    raise
                uri = None
        if uri is None:
            meta = getattr(directory, "meta", None)
            required = bool(getattr(meta, "external_account_required", False)) if meta is not None else False
            if required and not eab_kid:
                raise AcmeFailure("account", "the CA requires External Account Binding for a new account "
                                             "(meta.externalAccountRequired) and none was given", transient=False)
            eab = None
            if eab_kid:
                try:
                    eab = messages.ExternalAccountBinding.from_data(account_public_key=jwk.public_key(), kid=eab_kid,
                                                                    hmac_key=eab_hmac_key, directory=directory)
                except (ValueError, TypeError) as exc:
                    raise UsageError(f"External Account Binding: unusable HMAC key: {safe(exc)}",
                                     "Give the base64url HMAC key exactly as the CA shows it.") from None
            kw = {"contact": _contact(contact)} if contact else {}
            reg = messages.NewRegistration.from_data(terms_of_service_agreed=True, external_account_binding=eab, **kw)
            with _mapped("creating the ACME account", net, default_kind="account"):
                regr = acme.new_account(reg)
            uri = regr.uri
            created = True
        net.clock = None
        return cls(acme, net, directory_url=directory_url, account_uri=uri or "", account_created=created,
                   key_created=key_created)

    # ----------------------------------------------------------------- directory facts

    @property
    def directory(self):
        return self.client.directory

    @property
    def renewal_info_url(self) -> str | None:
        try:
            url = self.client.directory["renewalInfo"]
        except KeyError:
            return None
        return url if isinstance(url, str) and url else None

    @property
    def has_ari(self) -> bool:
        return self.renewal_info_url is not None

    @property
    def profiles(self) -> dict[str, str]:
        meta = getattr(self.client.directory, "meta", None)
        profiles = getattr(meta, "profiles", None) if meta is not None else None
        if not isinstance(profiles, Mapping):  # josepy gives a frozendict
            return {}
        return {str(k): str(v) for k, v in profiles.items()}

    # ----------------------------------------------------------------- ARI

    def renewal_info(self, cert: x509.Certificate, *, timeout: float | None = None) -> tuple[int, dict[str, str], bytes]:
        """GET ``{renewalInfo}/{CertID}`` (unauthenticated, RFC 9773 §4.1; the CertID is
        :func:`certdoctor.renew.schedule.cert_id`): (status, headers, body), the body read up to
        ``ARI_MAX_BYTES`` (larger: bad_response); :func:`~certdoctor.renew.schedule.parse_renewal_info`
        reads it. Raises AcmeFailure
        for a directory without renewalInfo (bad_response) and for network/TLS failures."""
        base = self.renewal_info_url
        if base is None:
            raise AcmeFailure("bad_response", "the ACME directory has no renewalInfo (no ARI at this CA)",
                              transient=False)
        from certdoctor.renew.schedule import RenewalInfoError, cert_id

        try:
            cid = cert_id(cert)
        except RenewalInfoError as exc:
            raise AcmeFailure("bad_response", f"renewalInfo: {exc}", transient=False) from None
        url = f"{base.rstrip('/')}/{cid}"
        limit = policy.ARI_MAX_BYTES  # the bound schedule.parse_renewal_info reads under
        with _mapped("fetching renewalInfo", self.net):
            resp = self.net.session.get(url, verify=self.net.verify_ssl,
                                        timeout=float(timeout or self.net._default_timeout),
                                        headers={"User-Agent": self.net.user_agent})
            data = resp.content  # read by the bounded session: at most ACME_MAX_RESPONSE_BYTES
            if len(data) > limit:
                raise AcmeFailure("bad_response", f"renewalInfo from {safe(url)} is larger than {limit} bytes",
                                  transient=False, status=resp.status_code)
            return resp.status_code, dict(resp.headers), bytes(data)

    # ----------------------------------------------------------------- issuing

    def issue(self, csr_pem: bytes, *, responder: Responder, replaces: str | None = None,
              profile: str | None = None, deadline: float) -> Issued:
        """One order for the names in ``csr_pem``, validated through ``responder``, finalized;
        the certificate and chain it gave. ``deadline``: seconds this may take in all (or a
        :class:`certdoctor.net.deadline.Deadline`). Raises AcmeFailure."""
        _jose, _client, messages, challenges, _err = _lib()
        seconds = deadline.remaining() if hasattr(deadline, "remaining") else float(deadline)
        clock = _Clock(seconds)
        self.net.clock = clock
        warnings: list[str] = []
        try:
            if profile and profile not in self.profiles:
                offered = ", ".join(sorted(self.profiles)) or "none"
                raise AcmeFailure("order_invalid", f"the CA offers no profile {profile!r} (it offers: {offered})",
                                  transient=False)
            try:
                csr = x509.load_pem_x509_csr(csr_pem)
            except ValueError:
                raise UsageError("the CSR is not a PEM certificate request", "Give the PEM CSR (make_csr).") from None
            from acme import crypto_util

            dns_names, ips = crypto_util.get_identifiers_from_x509(csr.subject, csr.extensions)
            identifiers = [messages.Identifier(typ=messages.IDENTIFIER_FQDN, value=n) for n in dns_names]
            identifiers += [messages.Identifier(typ=messages.IDENTIFIER_IP, value=str(ip)) for ip in ips]
            if not identifiers:
                raise UsageError("the CSR names nothing (no subjectAltName)", "Make the CSR with make_csr(names).")
            if replaces and not self.has_ari:
                warnings.append("'replaces' not sent: the CA's directory advertises no renewalInfo")
                replaces = None
            order = new_order_message(identifiers, profile=profile, replaces=replaces)
            with _mapped("new order", self.net, default_kind="order_invalid"):
                response = self.client._post(self.client.directory["newOrder"], order)
                order_uri = response.headers.get("Location")
                body = messages.Order.from_json(response.json())
            if body.status == messages.STATUS_INVALID:
                raise AcmeFailure("order_invalid", f"new order: the CA made it invalid at once: "
                                                   f"{getattr(body.error, 'detail', None) or 'no detail'}")
            authzrs = []
            for url in body.authorizations:
                with _mapped("reading an authorization", self.net):
                    authzrs.append(self.client._authzr_from_response(self.client._post_as_get(url), uri=url))
            self._authorize(authzrs, responder, clock, warnings)
            body = self._finalize(order_uri, body, csr, clock)
            with _mapped("downloading the certificate", self.net, default_kind="finalize_failed"):
                fullchain = self.client._post_as_get(body.certificate).text.encode("ascii", "replace")
            try:
                cert_pem, chain_pem = split_fullchain(fullchain)
                leaf = x509.load_pem_x509_certificate(cert_pem)
            except ValueError:
                raise AcmeFailure("bad_response", "the certificate the CA sent is not a PEM chain") from None
            pub = serialization.PublicFormat.SubjectPublicKeyInfo
            if leaf.public_key().public_bytes(serialization.Encoding.DER, pub) != \
                    csr.public_key().public_bytes(serialization.Encoding.DER, pub):
                raise AcmeFailure("bad_response", "the certificate the CA sent is not for the CSR's key")
            return Issued(cert_pem=cert_pem, chain_pem=chain_pem, fullchain_pem=cert_pem + chain_pem,
                          warnings=tuple(warnings))
        finally:
            self.net.clock = None

    def _authorize(self, authzrs, responder: Responder, clock: _Clock, warnings: list[str]) -> None:
        """Prepare every pending authorization's challenge, answer them, poll until each is
        valid; ``responder.cleanup`` for every prepared one, whatever happens."""
        _jose, _client, messages, _ch, _err = _lib()
        pending = []
        for authzr in authzrs:
            status = authzr.body.status
            name = authzr.body.identifier.value
            if status == messages.STATUS_VALID:
                continue  # the CA remembers an earlier validation (authz reuse)
            if status != messages.STATUS_PENDING:
                raise AcmeFailure("challenge_failed", f"authorization for {name} is {status}: "
                                                      f"{_challenge_error(authzr.body)}", transient=False)
            challb = None
            for typ in responder.types:
                challb = next((c for c in authzr.body.challenges if c.chall.typ == typ), None)
                if challb is not None:
                    break
            if challb is None:
                offered = ", ".join(sorted({c.chall.typ for c in authzr.body.challenges})) or "none"
                raise AcmeFailure("challenge_failed", f"the CA offers no {'/'.join(responder.types)} challenge for "
                                                      f"{name} (it offers: {offered})", transient=False)
            pending.append((authzr, challb))
        prepared = []
        try:
            for authzr, challb in pending:
                name = authzr.body.identifier.value
                if authzr.body.wildcard:
                    name = f"*.{name}"
                key_authz = challb.chall.key_authorization(self.net.key)
                dns_value = _b64(hashlib.sha256(key_authz.encode("utf-8")).digest())
                args = (name, challb.chall.typ, challb.chall.encode("token"), key_authz, dns_value)
                with _mapped(f"preparing {challb.chall.typ} for {name}", self.net):
                    responder.prepare(*args)
                prepared.append(args)
            for authzr, challb in pending:
                with _mapped(f"answering the challenge for {authzr.body.identifier.value}", self.net,
                             default_kind="challenge_failed"):
                    self.client.answer_challenge(challb, challb.response(self.net.key))
            for authzr, _challb in pending:
                self._poll_authorization(authzr, clock)
        finally:
            for args in prepared:
                try:
                    responder.cleanup(*args)
                except (CertdoctorError, OSError) as exc:
                    warnings.append(f"cleanup of {args[1]} for {args[0]} failed: {safe(exc)}")

    def _poll_authorization(self, authzr, clock: _Clock) -> None:
        _jose, _client, messages, _ch, _err = _lib()
        name = authzr.body.identifier.value
        wait = policy.ACME_POLL_FIRST_SECONDS
        while True:
            with _mapped(f"polling the authorization for {name}", self.net):
                response = self.client._post_as_get(authzr.uri)
                body = messages.Authorization.from_json(response.json())
            if body.status == messages.STATUS_VALID:
                return
            if body.status != messages.STATUS_PENDING:
                raise AcmeFailure("challenge_failed", f"validation of {name} failed ({body.status}): "
                                                      f"{_challenge_error(body)}", transient=False)
            wait = self._sleep(response, wait, clock, f"validation of {name}")

    def _sleep(self, response, wait: float, clock: _Clock, what: str) -> float:
        """Sleep ``wait`` (or the server's Retry-After, within the poll bounds), never past the
        deadline; the next wait."""
        asked = _retry_after(getattr(response, "headers", None))
        delay = wait if asked is None else max(policy.ACME_POLL_FIRST_SECONDS, min(asked, policy.ACME_POLL_MAX_SECONDS))
        if clock.left() <= delay:
            raise AcmeFailure("timeout", f"{what} did not finish within the {clock.budget:g} s budget")
        time.sleep(delay)
        return min(policy.ACME_POLL_MAX_SECONDS, wait * policy.ACME_POLL_FACTOR)

    def _finalize(self, order_uri: str | None, body, csr, clock: _Clock):
        """Wait for the order to be ready, send the CSR, wait for it to be valid; its body."""
        _jose, _client, messages, _ch, _err = _lib()
        if not order_uri:
            raise AcmeFailure("bad_response", "new order: the CA's answer has no Location (order URL)")
        wait = policy.ACME_POLL_FIRST_SECONDS
        finalized = False
        while True:
            with _mapped("polling the order", self.net):
                response = self.client._post_as_get(order_uri)
                body = messages.Order.from_json(response.json())
            status = body.status
            if status == messages.STATUS_INVALID:
                detail = getattr(body.error, "detail", None) or "no detail"
                raise AcmeFailure("finalize_failed" if finalized else "order_invalid",
                                  f"the order became invalid{' after finalization' if finalized else ''}: {detail}",
                                  transient=False)
            if status == messages.STATUS_VALID and body.certificate:
                return body
            if status == messages.STATUS_READY and not finalized:
                with _mapped("finalizing the order", self.net, default_kind="finalize_failed"):
                    self.client._post(body.finalize, messages.CertificateRequest(csr=csr))
                finalized = True
                wait = policy.ACME_POLL_FIRST_SECONDS
                continue
            wait = self._sleep(response, wait, clock, "the order" + (" (finalization)" if finalized else ""))


__all__ = ["AcmeSession", "AcmeFailure", "Issued", "KINDS", "TRANSIENT_KINDS", "new_order_message",
           "split_fullchain", "account_key_at"]
