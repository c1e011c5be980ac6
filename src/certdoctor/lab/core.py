"""``Lab``: make the PKI, write it to a work directory, and serve every scenario on 127.0.0.1.

    >>> from certdoctor.lab import Lab
    >>> with Lab() as lab, lab.resolving():                             # doctest: +SKIP
    ...     requests.get(lab.endpoint("good").url, verify=str(lab.ca_file))
    <Response [200]>
"""

from __future__ import annotations

import itertools
import os
import shutil
import ssl
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from certdoctor.errors import UsageError
from certdoctor.lab.pki import ONE_DAY, IssuedCert, LabPKI, PrivateKey, cert_der, cert_pem, key_pem
from certdoctor.lab.scenarios import (
    LAB_DOMAIN,
    SCENARIOS,
    Endpoint,
    EndpointTable,
    Scenario,
    ScenarioTable,
    host_for,
)
from certdoctor.lab.servers import (
    HelperHTTP,
    InterceptingProxy,
    ServerGroup,
    plain_http_handler,
    stall_handler,
    tls_handler,
)

_lab_numbers = itertools.count(1)


@dataclass(frozen=True)
class Material:
    """What one TLS endpoint serves: the chain exactly as sent, the key, and server options."""

    chain: tuple[x509.Certificate, ...]
    key: PrivateKey
    seclevel0: bool = False  # OpenSSL refuses to even load SHA-1 / RSA-1024 certs at level 2
    client_auth: bool = False  # require a client certificate issued by the lab root


def _material(pki: LabPKI, sid: str, host: str) -> Material:
    """Build the certificates of scenario ``sid`` (served as ``host``)."""
    now = pki.now
    inter = pki.intermediate.cert
    if sid in ("good", "missing_intermediate", "client_cert_required", "revoked"):
        leaf = pki.issue_leaf([host])
        if sid == "missing_intermediate":
            return Material((leaf.cert,), leaf.key)
        if sid == "revoked":
            pki.revoke(leaf)
        return Material(leaf.chain, leaf.key, client_auth=sid == "client_cert_required")
    if sid == "good_rsa":
        leaf = pki.issue_leaf([host], issuer=pki.rsa_intermediate, key_type="rsa", key_size=2048)
        return Material(leaf.chain, leaf.key)
    if sid == "expired_leaf":
        leaf = pki.issue_leaf([host], not_before=now - 100 * ONE_DAY, not_after=now - 10 * ONE_DAY)
        return Material(leaf.chain, leaf.key)
    if sid == "expired_intermediate":
        leaf = pki.issue_leaf([host], issuer=pki.expired_intermediate)
        return Material(leaf.chain, leaf.key)
    if sid == "not_yet_valid":
        leaf = pki.issue_leaf([host], not_before=now + 10 * ONE_DAY, not_after=now + 100 * ONE_DAY)
        return Material(leaf.chain, leaf.key)
    if sid == "expiring_soon":
        leaf = pki.issue_leaf([host], not_before=now - 85 * ONE_DAY, not_after=now + 5 * ONE_DAY)
        return Material(leaf.chain, leaf.key)
    if sid == "self_signed":
        leaf = pki.issue_leaf([host], self_signed=True)
        return Material(leaf.chain, leaf.key)
    if sid == "untrusted_root":
        leaf = pki.issue_leaf([host], issuer=pki.untrusted_intermediate)
        return Material(leaf.chain, leaf.key)
    if sid == "hostname_mismatch":
        leaf = pki.issue_leaf(["other.example.test"])
        return Material(leaf.chain, leaf.key)
    if sid == "wildcard_nested":
        leaf = pki.issue_leaf([f"*.wild.{LAB_DOMAIN}"])
        return Material(leaf.chain, leaf.key)
    if sid == "ip_san":
        leaf = pki.issue_leaf(["127.0.0.1"], common_name=host_for(sid))
        return Material(leaf.chain, leaf.key)
    if sid == "ip_in_dns_san":
        leaf = pki.issue_leaf(["127.0.0.1"], ip_as_dns=True, common_name=host_for(sid))
        return Material(leaf.chain, leaf.key)
    if sid == "cn_only":
        leaf = pki.issue_leaf([], common_name=host, san=False)
        return Material(leaf.chain, leaf.key)
    if sid == "wrong_order":
        leaf = pki.issue_leaf([host])
        return Material((leaf.cert, pki.root.cert, inter), leaf.key)
    if sid == "extra_cert":
        leaf = pki.issue_leaf([host])
        return Material(leaf.chain + (pki.unrelated_ca.cert,), leaf.key)
    if sid == "sha1_signed":
        leaf = pki.issue_leaf([host], issuer=pki.rsa_intermediate, sha1=True)
        return Material(leaf.chain, leaf.key, seclevel0=True)
    if sid == "rsa1024":
        leaf = pki.issue_leaf([host], key_type="rsa", key_size=1024)
        return Material(leaf.chain, leaf.key, seclevel0=True)
    if sid == "strict_bc_not_critical":
        leaf = pki.issue_leaf([host], issuer=pki.lax_intermediate)
        return Material(leaf.chain, leaf.key)
    if sid == "strict_no_aki":
        leaf = pki.issue_leaf([host], aki=False)
        return Material(leaf.chain, leaf.key)
    if sid == "pin_other_key":
        leaf = pki.issue_leaf([host, host_for("good")])
        return Material(leaf.chain, leaf.key)
    raise KeyError(sid)  # pragma: no cover - every TLS scenario is listed above


def _write(path: Path, data: bytes, secret: bool = False) -> Path:
    # no fsync: a throwaway directory, and start() must stay well under 2 s. Created new
    # (O_EXCL|O_NOFOLLOW): a file or symlink planted in the work directory is never followed
    from certdoctor.fsutil import write_new

    return write_new(path, data, 0o600 if secret else 0o644)


class Lab:
    """Every scenario (or the ``scenarios`` given) served on 127.0.0.1, ephemeral ports.

    ``start()`` returns ``self``; ``stop()`` stops every thread and closes every socket (and
    removes the work directory if the lab made it). Also a context manager.

    Attributes after start: ``ca_file`` (the lab root, PEM), ``workdir``, ``http_base``,
    ``pki`` (:class:`~certdoctor.lab.pki.LabPKI`), ``endpoints``, ``client_cert_file``,
    ``client_key_file``, ``proxy_url``, ``proxy_ca_file``, ``crl_file``, ``started_in``
    (seconds ``start()`` took).
    """

    def __init__(self, scenarios: Iterable[str] | None = None,
                 workdir: str | os.PathLike[str] | None = None) -> None:
        if isinstance(scenarios, str):
            scenarios = [scenarios]
        if scenarios is None:
            ids = list(SCENARIOS.ids())
        else:
            ids = list(dict.fromkeys(scenarios))
            unknown = [s for s in ids if s not in SCENARIOS]
            if unknown:
                raise UsageError(
                    f"unknown lab scenario(s): {', '.join(unknown)}",
                    f"Known scenarios: {', '.join(SCENARIOS.ids())} (certdoctor lab --list).",
                )
        # the intercepting-proxy scenario is the good endpoint seen through the proxy
        if "intercepting_proxy" in ids and "good" not in ids:
            ids.insert(0, "good")
        self.scenarios: ScenarioTable = ScenarioTable(s for s in SCENARIOS if s.id in ids)
        self._given_workdir = Path(workdir) if workdir is not None else None
        self._owns_workdir = False
        self._number = next(_lab_numbers)
        self._group: ServerGroup | None = None
        self._helper = HelperHTTP()
        self._endpoints: dict[str, Endpoint] = {}
        self._proxy_ctx: dict[str, ssl.SSLContext] = {}
        self._proxy_lock = threading.Lock()
        self._state = "new"
        self.workdir: Path | None = None
        self.pki: LabPKI | None = None
        self.ca_file: Path | None = None
        self.http_base: str | None = None
        self.proxy_url: str | None = None
        self.proxy_ca_file: Path | None = None
        self.client_cert_file: Path | None = None
        self.client_key_file: Path | None = None
        self.crl_file: Path | None = None
        self.started_in: float | None = None

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> "Lab":
        if self._state != "new":
            raise UsageError("this Lab was already started", "Make a new Lab() to start again.")
        t0 = time.perf_counter()
        self._state = "starting"
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        self._state = "running"
        self.started_in = time.perf_counter() - t0
        return self

    def _start(self) -> None:
        from certdoctor.fsutil import fresh_dir

        # made new (mkdtemp, or mkdir 0700), or an empty directory of ours: never a symlink, never
        # one another user can write, never one holding files (a planted link would get a key)
        self.workdir, made = fresh_dir(self._given_workdir, prefix="certdoctor-lab-", what="--workdir")
        self._owns_workdir = self._given_workdir is None and made
        wd = self.workdir
        group = self._group = ServerGroup(f"lab{self._number}")

        # the helper HTTP server first: its port goes into every leaf's AIA/CRL URLs
        http_port = group.listen(self._helper, "http")
        self.http_base = f"http://127.0.0.1:{http_port}"
        pki = self.pki = LabPKI(self.http_base)

        self.ca_file = _write(wd / "lab-root.pem", cert_pem(pki.root.cert))
        self._write_ca(pki.root)
        self._write_ca(pki.intermediate)

        for sc in self.scenarios:
            self._serve_scenario(sc)

        # CAs made lazily by the scenarios, then the client certificate and the proxy root
        for name in ("rsa_intermediate", "expired_intermediate", "lax_intermediate",
                     "untrusted_root", "untrusted_intermediate", "unrelated_ca"):
            ca = pki._lazy.get(name)
            if ca is not None:
                self._write_ca(ca)  # type: ignore[arg-type]
        client = pki.client
        self.client_cert_file = _write(wd / "client.pem", client.cert_pem)
        self.client_key_file = _write(wd / "client.key.pem", client.key_pem, secret=True)
        _write(wd / "client.chain-and-key.pem", client.cert_pem + client.key_pem, secret=True)
        self.proxy_ca_file = self._write_ca(pki.intercept_root)
        self.crl_file = _write(wd / "intermediate.crl", pki.crl_der)
        _write(wd / "intermediate.crl.pem", pki.crl.public_bytes(serialization.Encoding.PEM))

        proxy_port = group.listen(InterceptingProxy(self._proxy_context), "proxy")
        self.proxy_url = f"http://127.0.0.1:{proxy_port}"
        if "intercepting_proxy" in self.scenarios:
            good = self._endpoints["good"]
            self._endpoints["intercepting_proxy"] = Endpoint(
                "intercepting_proxy", good.hostname, good.host, good.port, good.url, self.proxy_url)

        h = self._helper
        h.add_static("/aia/intermediate.der", "application/pkix-cert",
                     lambda: cert_der(pki.intermediate.cert))
        h.add_static("/aia/root.der", "application/pkix-cert", lambda: cert_der(pki.root.cert))
        h.add_static("/aia/rsa-intermediate.der", "application/pkix-cert",
                     lambda: cert_der(pki.rsa_intermediate.cert))
        h.add_static("/crl/intermediate.crl", "application/pkix-crl", lambda: pki.crl_der)
        h.add_static("/", "text/plain; charset=utf-8", self._index)
        group.start()

    def stop(self) -> None:
        """Stop every server thread and close every socket. Safe to call twice."""
        if self._state == "stopped":
            return
        self._state = "stopped"
        if self._group is not None:
            self._group.stop()
        if self._owns_workdir and self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> "Lab":
        if self._state == "new":
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._state == "running"

    @property
    def threads(self) -> tuple[threading.Thread, ...]:
        """The lab's live threads (acceptor + connections)."""
        return self._group.threads if self._group is not None else ()

    @property
    def thread_prefix(self) -> str:
        """Every thread of this lab has a name starting with this."""
        return f"certdoctor-lab{self._number}-"

    # -- lookups ----------------------------------------------------------------------------
    def _need_running(self) -> None:
        if self._state not in ("running", "starting"):
            raise UsageError("the lab is not running", "Call lab.start() (or use `with Lab() as lab:`).")

    def endpoint(self, scenario: str) -> Endpoint:
        self._need_running()
        try:
            return self._endpoints[scenario]
        except KeyError:
            if scenario in SCENARIOS:
                raise UsageError(f"scenario {scenario!r} is not served by this lab",
                                 "Start the lab with it, e.g. Lab(scenarios=[...]).") from None
            raise UsageError(f"unknown lab scenario {scenario!r}",
                             f"Known scenarios: {', '.join(SCENARIOS.ids())}.") from None

    @property
    def endpoints(self) -> EndpointTable:
        """Every served endpoint (a tuple, also indexable by scenario id)."""
        order = {sid: i for i, sid in enumerate(SCENARIOS.ids())}
        return EndpointTable(sorted(self._endpoints.values(),
                                    key=lambda e: order.get(e.scenario, len(order))))

    def add_route(self, path: str, handler) -> None:
        """Serve ``path`` (and ``path/…``) on the helper HTTP server:
        ``handler(method, path, body) -> (status, headers, body)``."""
        self._helper.add_route(path, handler)

    def resolving(self):
        """A context manager making ``*.lab.test`` resolve to 127.0.0.1 in this process."""
        from certdoctor.net.resolve import override

        return override({}, suffixes={LAB_DOMAIN: "127.0.0.1"})

    def scenario_files(self, scenario: str) -> dict[str, Path]:
        """``chain`` (as served), ``leaf`` and ``key`` PEM files of a TLS scenario."""
        assert self.workdir is not None
        return {k: self.workdir / f"{scenario}.{k}.pem" for k in ("chain", "leaf", "key")}

    # -- serving ----------------------------------------------------------------------------
    def _write_ca(self, ca) -> Path:
        assert self.workdir is not None
        _write(self.workdir / f"{ca.label}.key.pem", key_pem(ca.key), secret=True)
        return _write(self.workdir / f"{ca.label}.pem", cert_pem(ca.cert))

    def _context(self, name: str, chain: Sequence[x509.Certificate], key: PrivateKey, *,
                 seclevel0: bool = False, client_auth: bool = False) -> ssl.SSLContext:
        assert self.workdir is not None
        chain_file = _write(self.workdir / f"{name}.chain.pem",
                            b"".join(cert_pem(c) for c in chain))
        _write(self.workdir / f"{name}.leaf.pem", cert_pem(chain[0]))
        key_file = _write(self.workdir / f"{name}.key.pem", key_pem(key), secret=True)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        if seclevel0:
            # without this OpenSSL will not load a SHA-1-signed or RSA-1024 certificate
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # certdoctor: ignore[WEAK_CIPHERS] (lab server)
        ctx.load_cert_chain(str(chain_file), str(key_file))
        if client_auth:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(cafile=str(self.ca_file))
        try:
            ctx.set_alpn_protocols(["http/1.1"])
        except NotImplementedError:  # pragma: no cover
            pass
        return ctx

    def _serve_scenario(self, sc: Scenario) -> None:
        assert self._group is not None and self.pki is not None
        if sc.kind == "proxy":
            return  # added once the proxy listens
        if sc.kind == "plain":
            port = self._group.listen(plain_http_handler(sc.id), sc.id)
        elif sc.kind == "stall":
            port = self._group.listen(stall_handler, sc.id)
        else:
            mat = _material(self.pki, sc.id, sc.hostname)
            ctx = self._context(sc.id, mat.chain, mat.key, seclevel0=mat.seclevel0,
                                client_auth=mat.client_auth)
            port = self._group.listen(tls_handler(ctx, sc.id), sc.id)
        url_host = "127.0.0.1" if sc.by_ip else sc.hostname
        self._endpoints[sc.id] = Endpoint(sc.id, sc.hostname, "127.0.0.1", port,
                                          f"https://{url_host}:{port}/")

    def serve(self, name: str, issued: IssuedCert, *, hostname: str | None = None,
              chain: Sequence[x509.Certificate] | None = None, client_auth: bool = False,
              seclevel0: bool = False) -> Endpoint:
        """Serve an extra TLS endpoint with a certificate from ``lab.pki.issue_leaf(...)``.

        ``chain`` overrides what is sent (default ``issued.chain``); the endpoint appears in
        ``lab.endpoints`` under ``name`` and answers like the scenario servers.
        """
        self._need_running()
        assert self._group is not None
        if name in self._endpoints or not name.replace("_", "").replace("-", "").isalnum():
            raise UsageError(f"cannot serve an endpoint named {name!r}",
                             "Use a new name made of letters, digits, '-' and '_'.")
        ctx = self._context(name, tuple(chain or issued.chain), issued.key,
                            seclevel0=seclevel0, client_auth=client_auth)
        port = self._group.listen(tls_handler(ctx, name), name)
        host = hostname or host_for(name)
        ep = Endpoint(name, host, "127.0.0.1", port, f"https://{host}:{port}/")
        self._endpoints[name] = ep
        return ep

    def _proxy_context(self, host: str) -> ssl.SSLContext:
        """Mint (once per name) a leaf for ``host`` signed by the intercept root."""
        assert self.pki is not None and self.workdir is not None
        with self._proxy_lock:
            ctx = self._proxy_ctx.get(host)
            if ctx is not None:
                return ctx
            if len(self._proxy_ctx) >= 256:
                raise RuntimeError("the intercepting proxy minted too many certificates")
            root = self.pki.intercept_root
            leaf = self.pki.issue_leaf([host], issuer=root, aia=False, crl=False)
            (self.workdir / "proxy").mkdir(mode=0o700, exist_ok=True)
            safe = "".join(c if c.isalnum() or c in "-." else "_" for c in host)
            ctx = self._context(f"proxy/{safe}", (leaf.cert, root.cert), leaf.key)
            self._proxy_ctx[host] = ctx
            return ctx

    def _index(self) -> bytes:
        lines = ["certdoctor lab helper server", ""]
        lines += [f"{e.scenario:24} {e.url}" for e in self.endpoints]
        lines += ["", "routes: /aia/root.der /aia/intermediate.der /aia/rsa-intermediate.der "
                  "/crl/intermediate.crl /ocsp (when registered) /hostile/redirect-loop "
                  "/hostile/big /hostile/stall /hostile/slow-drip", ""]
        return "\n".join(lines).encode()


__all__ = ["Lab", "Material"]
