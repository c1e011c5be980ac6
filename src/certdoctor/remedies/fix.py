"""``certdoctor fix``: from a diagnosis to the artefact that fixes it, proven with the real client.

For each fixable cause the right file, and nothing for the causes a client cannot fix:

* ``CHAIN_INCOMPLETE``: ``ca-bundle.pem`` (the client's current trust + the intermediates found
  by AIA, or given with ``--intermediate FILE`` when AIA is absent or blocked) for the client,
  ``full_chain.pem`` (leaf, then intermediates) for the server's operator.
* ``UNTRUSTED_ROOT``, ``INTERCEPTING_PROXY``, ``SELF_SIGNED``: a bundle of the current trust plus
  that root (or that self-signed certificate) — only after the user names its SHA-256
  fingerprint with ``--trust``. Never silently. A missing intermediate under that root goes into
  the same bundle: one ``--trust ROOT_FP`` fixes both.
* A certificate that may not issue certificates (not a CA) never goes into a bundle, unless it
  is exactly the one the user trusts with ``--trust``.
* ``CHAIN_ORDER``, ``CHAIN_EXTRA_CERT``: the corrected ``full_chain.pem``.
* expired, hostname mismatch, revoked, weak: no bundle, a plain statement of what the server's
  operator must do.

Then the real ``requests`` (and ``httpx`` when installed; for ``--client pip`` the real pip as well,
``pip download --cert BUNDLE`` against the target as an index) runs against the target with the
new bundle, sending ``--servername`` as SNI and checking it. A fix that does not make the client
succeed is never reported as one.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from certdoctor import policy
from certdoctor.errors import UsageError
from certdoctor.model import CertInfo, Code, normalize_fingerprint
from certdoctor.x509.path import can_issue

if TYPE_CHECKING:  # pragma: no cover
    from certdoctor.net.deadline import Deadline

CLIENT_FIXABLE_TRUST = (Code.UNTRUSTED_ROOT, Code.INTERCEPTING_PROXY, Code.SELF_SIGNED, Code.CERTIFI_OUTDATED)
SERVER_ONLY = (
    Code.EXPIRED, Code.NOT_YET_VALID, Code.HOSTNAME_MISMATCH, Code.NO_SAN, Code.REVOKED,
    Code.WEAK_KEY, Code.WEAK_SIGNATURE, Code.WRONG_EKU, Code.STRICT_X509,
)


@dataclass(frozen=True, slots=True)
class Proof:
    """One real client run with the produced bundle.

    ``cut_short``: the command's deadline (``--timeout``) ended the run before the client did
    (then ``error`` says how long it ran and what the budget was); ``elapsed``: how long it ran."""

    client: str
    ok: bool
    error: str | None
    status: int | None
    elapsed: float | None = None
    cut_short: bool = False


@dataclass(frozen=True, slots=True)
class FixResult:
    """What ``fix`` wrote and whether the real clients succeed with it.

    ``proven`` is ``None`` when nothing was written for the client (nothing to prove).
    ``needs_trust`` holds the fingerprint the user must confirm with ``--trust`` when the fix
    is to trust a root, and nothing was written because they did not (or gave another one).
    """

    diagnosis: object
    written: tuple[tuple[str, str], ...]  # (kind, path)
    bundle: str | None
    full_chain: str | None
    proofs: tuple[Proof, ...]
    proven: bool | None
    needs_trust: str | None
    statements: tuple[str, ...]
    usage: tuple[str, ...]
    #: set when the client's current trust held no certificate (a CA variable naming a missing or
    #: unusable file): what the bundle was built on instead (certifi) and why
    base_fallback: str | None = None

    @property
    def exit_code(self) -> int:
        if self.proven:
            return 0
        return 1


def _pem(info: CertInfo) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return info.certificate().public_bytes(serialization.Encoding.PEM)


def _commented(info: CertInfo, source: str) -> bytes:
    from certdoctor.remedies.bundle import comment_text

    # the subject and issuer are the server's text: a newline in them must not end the comment
    head = (f"# Subject: {comment_text(info.subject)}\n# Issuer: {comment_text(info.issuer)}\n"
            f"# SHA-256: {info.fingerprint_sha256}\n# Not after: {info.not_after:%Y-%m-%d}\n# Source: {source}\n")
    return head.encode() + _pem(info)


#: the name of a bundle whose proof failed: never the name a user or a script would pick up
UNPROVEN_NAME = "ca-bundle.UNPROVEN.pem"
BUNDLE_NAME = "ca-bundle.pem"


def base_anchors(trust) -> "tuple[tuple, str, str | None]":
    """(anchors, source label, fallback note) the bundle starts from: the client's current
    trust as it loads it — or, when that holds no certificate (``REQUESTS_CA_BUNDLE`` naming a
    missing, empty or unparseable file), certifi's roots, with a note saying so. A bundle of
    only the added root would break every public site once exported as advised."""
    try:
        anchors = tuple(trust.anchors())
    except Exception:  # an unreadable store is an empty one here: the fallback says so
        anchors = ()
    if anchors:
        return anchors, f"current trust ({trust.source})", None
    from certdoctor.remedies.bundle import certifi_path, certifi_version, parse_pem_bundle, _read

    certs, _ = parse_pem_bundle(_read(certifi_path(), "certifi bundle"))
    where = ", ".join(path for _kind, path in trust.locations()) or "nothing"
    note = (f"The client's current trust ({trust.source}: {where}) holds no certificate it can load, so the bundle "
            f"starts from certifi {certifi_version()} ({len(certs)} public roots) instead of it.")
    return tuple(certs), f"certifi {certifi_version()} (fallback: the current trust was empty)", note


def _bundle_bytes(trust, extra: Sequence[CertInfo], now, base=None) -> bytes:
    """The client's current anchors (as the client loads them; ``base`` from :func:`base_anchors`),
    then the extra certificates."""
    anchors, label, _note = base if base is not None else base_anchors(trust)
    seen: set[str] = set()
    parts = [b"# CA bundle written by certdoctor fix: the client's current trust plus what the fix adds.\n"]
    for cert in list(anchors):
        info = CertInfo.from_certificate(cert, now)
        if info.fingerprint_sha256 in seen:
            continue
        seen.add(info.fingerprint_sha256)
        parts.append(_commented(info, label))
    for info in extra:
        if info.fingerprint_sha256 in seen:
            continue
        seen.add(info.fingerprint_sha256)
        parts.append(_commented(info, "added by certdoctor fix"))
    return b"".join(parts)


def prove(url: str, bundle: str, *, proxy: str | None = None, timeout: float = policy.TIMEOUT_SECONDS,
          servername: str | None = None, client: str = "requests",
          deadline: "Deadline | None" = None) -> tuple[Proof, ...]:
    """Run the real requests (and httpx, when installed) against ``url`` trusting ``bundle`` —
    and, for ``client="pip"``, the real pip too (:func:`prove_pip`).

    The runs are :func:`certdoctor.net.client.run_client`'s, with ``bundle`` as the only
    bundle (``verify=bundle`` / ``cafile=bundle``) and no environment, so the proof never depends
    on ``REQUESTS_CA_BUNDLE``; ``servername`` is sent as SNI and checked, as in the diagnosis.

    All of them end by ``deadline`` (default: the running command's — ``--timeout`` bounds the
    whole ``fix`` — capped at ``timeout`` from now): pip's process is started first (it needs a
    second to start) and runs while the in-process clients do; a run the deadline ends is a
    failed proof that says it was cut short, after how long, and what the budget was; a client
    no time was left for is not started."""
    import time

    from certdoctor.net.client import run_client
    from certdoctor.net.deadline import effective
    from certdoctor.trust.effective import effective_trust

    d = effective(deadline, timeout)
    clients = ["requests"]
    try:
        import httpx  # noqa: F401
    except ImportError:
        pass
    else:
        clients.append("httpx")
    pip_run = _start_pip(url, bundle, proxy=proxy, timeout=timeout, servername=servername, deadline=d) \
        if client == "pip" else None
    proofs = []
    try:
        for name in clients:
            if d.expired:
                proofs.append(_not_started(name, d))
                continue
            t0 = time.monotonic()
            out = run_client(name, url, effective_trust(name, ca_file=bundle, environ={}), proxy=proxy,
                             timeout=timeout, servername=servername, deadline=d)
            cut = not out.ok and d.expired  # the run ended because the deadline did
            error = None if out.ok else _short_error(out.error or "failed")
            proofs.append(Proof(name, out.ok, error, out.status, round(time.monotonic() - t0, 3), cut))
    except BaseException:
        if pip_run is not None:
            _abort_pip(pip_run)
        raise
    if pip_run is not None:
        proofs.append(_finish_pip(pip_run, d))
    return tuple(proofs)


def _not_started(client: str, d: "Deadline") -> Proof:
    return Proof(client, False, d.message(f"the {client} proof") + ": not started, no time was left", None,
                 0.0, True)


def _short_error(text: str) -> str:
    # "requests.exceptions.SSLError: …" → "SSLError: …" (the class name says enough)
    head, sep, rest = text.partition(": ")
    return (f"{head.rsplit('.', 1)[-1]}{sep}{rest}" if sep else text)[:1500]


#: pip's words for a TLS failure (its own message, the ssl module's, urllib3's)
_PIP_TLS_FAILURE = ("CERTIFICATE_VERIFY_FAILED", "SSLError", "problem confirming the ssl certificate",
                    "SSLCertVerificationError", "[SSL")
#: pip's words for "the index answered" (a page of the wrong type, no matching version)
_PIP_ANSWERED = ("Could not find a version that satisfies", "No matching distribution found", "Skipping page")
#: urllib3's debug line for a response (pip -vvv): the handshake succeeded and the index answered
_PIP_RESPONSE = re.compile(r'"GET /simple/\S* HTTP/[0-9.]+" ([1-5][0-9][0-9])\b')
#: the package the proof asks the index for (nobody publishes it: any answer is an HTTP answer)
PIP_PROBE_PACKAGE = "certdoctor-fix-proof-no-such-package"


def prove_pip(url: str, bundle: str, *, proxy: str | None = None, timeout: float = policy.TIMEOUT_SECONDS,
              servername: str | None = None, python: str | None = None,
              deadline: "Deadline | None" = None) -> Proof:
    """The real pip (``python -m pip download --cert BUNDLE``) against the target as an index.

    pip runs in its own process, ``--isolated`` and without ``REQUESTS_CA_BUNDLE``,
    ``CURL_CA_BUNDLE`` or ``PIP_*`` (they would override ``--cert``: the proof is of the
    bundle). The index URL is ``https://HOST:PORT/simple/``; the target is no index, so pip
    gets a 404 or a page it skips and reports "no matching distribution": that is a TLS success
    (:func:`pip_outcome` reads the response's status from pip's ``-vvv`` log).
    A TLS failure is one pip reports in its own words (``CERTIFICATE_VERIFY_FAILED``,
    ``SSLError``, "problem confirming the ssl certificate"). Names that resolve only inside this
    process (``--resolve``, the lab) and ``servername`` (connect to the URL's host, send and check
    the servername) are passed on by resolving them for pip's process before pip starts. Through a
    proxy pip asks the proxy for the servername itself (pip has no way to send another name than
    the one it connects to), as the user's pip will.

    The run ends by ``deadline`` (default: the running command's; outside a command
    :data:`~certdoctor.policy.PIP_PROOF_SECONDS`): pip's own ``--timeout`` bounds each read only,
    so at the deadline pip's whole process group is killed and the proof says it was cut short
    (how long it ran, what the budget was)."""
    from certdoctor.net.deadline import effective

    d = effective(deadline, policy.PIP_PROOF_SECONDS)
    return _finish_pip(_start_pip(url, bundle, proxy=proxy, timeout=timeout, servername=servername,
                                  python=python, deadline=d), d)


@dataclass
class _PipRun:
    """A started pip proof: its process (or why it could not start) and its scratch directory."""

    proc: object | None
    tmp: object | None
    started: float
    error: str | None = None


def _start_pip(url: str, bundle: str, *, proxy: str | None, timeout: float, servername: str | None,
               deadline: "Deadline", python: str | None = None) -> _PipRun:
    import json
    import os
    import sys
    import tempfile
    import time
    from urllib.parse import urlsplit

    from certdoctor.net.deadline import start_process

    started = time.monotonic()
    if deadline.expired:
        return _PipRun(None, None, started, "not started")
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or 443
    name = (servername or host).strip("[]").rstrip(".").lower()
    mapping = {}
    address = _address_of(host)
    if name != host.lower() or address != host:
        mapping[name] = address
    netloc = f"[{name}]" if ":" in name else name
    index = f"https://{netloc}{'' if port == 443 else f':{port}'}/simple/"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PIP_") and k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")}
    env["PIP_CONFIG_FILE"] = os.devnull
    tmp = tempfile.TemporaryDirectory(prefix="certdoctor-pip-proof-")
    per_read = max(1, round(min(timeout, deadline.remaining())))  # pip's own: each read, not the whole
    args = ["download", "-vvv", "--isolated", "--no-deps", "--no-input", "--disable-pip-version-check",
            "--retries", "0", "--timeout", f"{per_read}", "--index-url", index,
            "--cert", os.fspath(bundle), "-d", tmp.name, PIP_PROBE_PACKAGE]
    if proxy:
        args[1:1] = ["--proxy", proxy]
    boot = (
        "import runpy, socket, sys\n"
        f"m = {json.dumps(mapping)}\n"
        "if m:\n"
        "    o = socket.getaddrinfo\n"
        "    def g(h, *a, **k):\n"
        "        n = h.decode() if isinstance(h, bytes) else h\n"
        "        n = (n or '').rstrip('.').lower()\n"
        "        return o(m.get(n, h), *a, **k)\n"
        "    socket.getaddrinfo = g\n"
        f"sys.argv = ['pip'] + {json.dumps(args)}\n"
        "runpy.run_module('pip', run_name='__main__', alter_sys=True)\n")
    try:
        proc = start_process([python or sys.executable, "-c", boot], env=env)
    except OSError as exc:
        tmp.cleanup()
        return _PipRun(None, None, started, f"pip could not be started: {exc}")
    return _PipRun(proc, tmp, started)


def _abort_pip(run: _PipRun) -> None:
    """Kill a started pip proof's process group and remove its scratch directory."""
    from certdoctor.net.deadline import Deadline, finish_process

    if run.proc is not None:
        finish_process(run.proc, Deadline(0.0))
    if run.tmp is not None:
        run.tmp.cleanup()  # type: ignore[attr-defined]


def _finish_pip(run: _PipRun, deadline: "Deadline") -> Proof:
    """Wait for the pip proof until ``deadline``; at the deadline its process group is killed."""
    import time

    from certdoctor.net.deadline import finish_process

    if run.proc is None:
        if run.error == "not started":
            return _not_started("pip", deadline)
        return Proof("pip", False, run.error, None, 0.0)
    try:
        done, out, err, code = finish_process(run.proc, deadline)
    finally:
        run.tmp.cleanup()  # type: ignore[union-attr]
    elapsed = round(time.monotonic() - run.started, 3)
    if not done:
        return Proof("pip", False, deadline.message("the pip proof") + " (pip and its process group were killed: "
                     "the server had not finished answering)", None, elapsed, True)
    proof = pip_outcome(out + "\n" + err, code if code is not None else -1)
    return Proof(proof.client, proof.ok, proof.error, proof.status, elapsed)


def pip_outcome(output: str, returncode: int) -> Proof:
    """Read what ``pip download -vvv`` printed: the index's answer (urllib3 logs the response's
    status: any status, a 404 included, means the TLS handshake succeeded), a TLS failure in
    pip's words, or another failure (refused, timed out, no pip)."""
    answered = _PIP_RESPONSE.search(output)
    if answered:
        return Proof("pip", True, None, int(answered.group(1)))
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    tls = next((ln for ln in lines if any(m in ln for m in _PIP_TLS_FAILURE)), None)
    if tls:
        return Proof("pip", False, tls[:1500], None)
    if "No module named pip" in output:
        return Proof("pip", False, "pip is not installed in this interpreter", None)
    fetch_failed = next((ln for ln in lines if ln.startswith("Could not fetch URL")), None)
    if fetch_failed:
        return Proof("pip", False, fetch_failed[:1500], None)
    if returncode == 0 or any(m in output for m in _PIP_ANSWERED):
        return Proof("pip", True, None, None)
    return Proof("pip", False, " | ".join(lines[-3:])[:1500] if lines else
                 f"pip exited with {returncode} and printed nothing", None)


def _address_of(host: str) -> str:
    """The address this process would connect to for ``host`` (``--resolve``, the lab, DNS)."""
    import ipaddress
    import socket

    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        pass
    try:
        return socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)[0][4][0]
    except (OSError, IndexError):
        return host


def usage_lines(bundle: str, *, os_store_trusts: bool = False, environ=None) -> tuple[str, ...]:
    """How to use ``bundle`` with each client (the REQUESTS_CA_BUNDLE trap included).

    pip's line depends on ``environ`` (default ``os.environ``): while ``REQUESTS_CA_BUNDLE`` (or
    ``CURL_CA_BUNDLE``) is set, pip's requests applies it before pip's own ``cert`` setting
    (pypa/pip#10147), so ``pip config set global.cert``, ``PIP_CERT`` and ``--cert`` do nothing:
    the line says so and how to clear it."""
    import os

    from certdoctor._text import assign, shell

    env = os.environ if environ is None else environ
    # Python lines quote with repr (a Python literal); shell lines with shell() (a path with a
    # space, a quote or $(...) in it is pasted as one word, and names the same file)
    lines = [
        f"requests, per call:        requests.get(url, verify={bundle!r})",
        f"requests, session:         s = requests.Session(); s.verify = {bundle!r}   "
        "# BUT REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE silently override s.verify: unset them, "
        "or use certdoctor.requests_session(extra=[...])",
        f"httpx:                     httpx.Client(verify=ssl.create_default_context(cafile={bundle!r}))",
        f"urllib/aiohttp:            ssl.create_default_context(cafile={bundle!r})  (context= / ssl=)",
        "environment (all at once): " + shell("export", *(assign(n, bundle) for n in
                                                           ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "PIP_CERT"))),
    ]
    overriding = [(n, env[n]) for n in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE") if env.get(n)]
    if overriding and not all(_same_path(v, bundle) for _, v in overriding):
        names = " and ".join(shell(assign(n, v)) for n, v in overriding)
        unset = shell("unset", *(n for n, _ in overriding))
        env_u = shell("env", *(w for n, _ in overriding for w in ("-u", n)), "pip", "install", "--cert", bundle)
        lines.append(
            f"pip:                       {names} is set here and beats pip's own cert (pypa/pip#10147): "
            f"`pip config set global.cert`, PIP_CERT and --cert do nothing while it is. Clear it, then set pip's "
            f"cert:  `{unset}; {shell('pip', 'config', 'set', 'global.cert', bundle)}`   — or for one command: "
            f"`{env_u} PACKAGE`   — or point it "
            f"at the bundle (every requests program then uses it): `{shell('export', assign(overriding[0][0], bundle))}`")
    else:
        lines.append("pip:                       " + shell("pip", "config", "set", "global.cert", bundle))
    if os_store_trusts:
        lines.append("the OS store already trusts it: import truststore; truststore.inject_into_ssl()")
    return tuple(lines)


def _same_path(a: str, b: str) -> bool:
    import os

    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


SERVER_LINES = (
    "nginx:   ssl_certificate     /etc/ssl/full_chain.pem;   ssl_certificate_key /etc/ssl/private/key.pem;",
    "Apache:  SSLCertificateFile  /etc/ssl/full_chain.pem    (2.4.8+; older: SSLCertificateChainFile)",
    "HAProxy: bind :443 ssl crt /etc/haproxy/site.pem        (site.pem = full_chain.pem + the private key)",
)


def fix(
    target: str,
    out_dir: str | Path,
    *,
    trust_fingerprints: Sequence[str] = (),
    intermediates: Sequence = (),
    password: str | None = None,
    client: str = "requests",
    ca_file: str | None = None,
    python: str | None = None,
    proxy: str | None = None,
    servername: str | None = None,
    timeout: float = policy.TIMEOUT_SECONDS,
    environ=None,
    now: _dt.datetime | None = None,
    canaries: "Sequence[str] | str | None" = None,
) -> FixResult:
    """Diagnose ``target``, write the fixing artefacts under ``out_dir``, prove them.

    ``intermediates`` are certificates the user obtained (file paths, or parsed certificates),
    e.g. the intermediate a server leaves out when AIA is blocked or absent: those on the path
    go into the bundle (``password`` opens a PKCS#12 one). ``trust_fingerprints`` are the roots (or self-signed certificates) the
    user confirmed; nothing that cannot issue certificates is written unless it is one of them.
    ``timeout`` bounds the whole run, the diagnosis and every proof together (within the running
    command's deadline, when there is one)."""
    from certdoctor.net.deadline import within

    with within(timeout):
        return _fix(target, out_dir, trust_fingerprints=trust_fingerprints, intermediates=intermediates,
                    password=password, client=client, ca_file=ca_file, python=python, proxy=proxy,
                    servername=servername, timeout=timeout, environ=environ, now=now, canaries=canaries)


def _fix(target: str, out_dir: str | Path, *, trust_fingerprints: Sequence[str], intermediates: Sequence,
         password: str | None, client: str, ca_file: str | None, python: str | None, proxy: str | None,
         servername: str | None, timeout: float, environ, now: "_dt.datetime | None",
         canaries: "Sequence[str] | str | None") -> FixResult:
    from certdoctor.diagnose import diagnose
    from certdoctor.net.proxy import proxy_for_host
    from certdoctor._text import shell
    from certdoctor.fsutil import atomic_write, remove_quietly

    own = load_intermediates(intermediates, password=password)  # a file that cannot be read is bad usage, before any connection
    d = diagnose(target, client=client, ca_file=ca_file, python=python, proxy=proxy, servername=servername,
                 timeout=timeout, environ=environ, now=now, revocation=True, canaries=canaries)
    out = Path(out_dir)
    codes = {f.code for f in d.findings}
    wanted = {normalize_fingerprint(fp) for fp in trust_fingerprints}
    written: list[tuple[str, str]] = []
    statements: list[str] = []
    bundle_path = full_chain_path = None
    needs_trust = None
    extra: list[CertInfo] = []
    clock = d.now
    full_chain_data: bytes | None = None
    chain_statements: list[str] = []
    base_fallback: str | None = None

    if d.path is None or d.chain is None:
        statements.append("No certificate chain was received, so there is nothing to bundle: "
                          + (d.primary.fix if d.primary else "see the diagnosis."))
    else:
        path = d.path
        if own:
            # the path again, with what the user obtained (pure; the whole store, not only the
            # anchors the diagnosis kept: the supplied certificate may chain to another root)
            from certdoctor.x509.path import build_path

            path = build_path([c.certificate() for c in d.chain.certs], d.trust.anchors(), host=d.target.servername,
                              now=clock, aia_attempts=path.aia_attempts, supplied=own, verify_rfc5280=False)
        sent = {c.fingerprint_sha256 for c in d.chain.certs}
        anchor_fp = path.anchor.fingerprint_sha256 if path.anchor is not None else None
        # what the client lacks: the intermediates on the path the server did not send (found over
        # AIA or supplied with --intermediate); the path builder only puts CAs there
        needed = [c for c in path.path[1:] if c.fingerprint_sha256 not in sent and c.fingerprint_sha256 != anchor_fp
                  and not c.self_signed]
        top = path.top
        complete = path.trusted or (top is not None and top.self_signed)
        # the server's chain, in the right order, without the root and without extras
        server_chain = [c for c in path.path if not c.self_signed or c is path.path[0]]
        if path.anchor is not None and len(server_chain) > 1 and server_chain[-1].fingerprint_sha256 == path.anchor.fingerprint_sha256:
            server_chain = server_chain[:-1]
        if codes & {Code.CHAIN_INCOMPLETE, Code.CHAIN_ORDER, Code.CHAIN_EXTRA_CERT} and (
            Code.CHAIN_INCOMPLETE not in codes or (needed and complete)
        ):
            full_chain_data = b"".join(_pem(c) for c in server_chain)  # written below, unless a proof fails
            chain_statements = [
                "For the server's operator: full_chain.pem holds the leaf, then its intermediates, in order "
                "(no root, no extras). Serve it as the certificate file:", *SERVER_LINES]
            statements.extend(chain_statements)
        fixable = codes & (set(CLIENT_FIXABLE_TRUST) | {Code.CHAIN_INCOMPLETE})
        if path.trusted:
            extra.extend(needed)
            if path.partial and Code.UNTRUSTED_ROOT in codes:
                statements.append(
                    "The root this chain needs is not sent by the server, so certdoctor cannot offer it: get the "
                    "root certificate from its owner and run `certdoctor bundle --add root.pem --out bundle.pem`.")
        elif top is not None and top.self_signed and (fixable or own):
            if top.fingerprint_sha256 in wanted:
                # one bundle: the intermediates the server leaves out AND the root the user confirmed
                extra.extend(needed + [top])
            else:
                needs_trust = top.fingerprint_sha256
                if wanted:
                    statements.append(
                        "REFUSED: the fingerprint you gave with --trust is not the one of the certificate the "
                        f"server presents ({top.fingerprint_sha256}). Nothing was trusted.")
                else:
                    statements.append(
                        f"To trust {top.display_name!r}, confirm its SHA-256 fingerprint "
                        f"{top.fingerprint_sha256} with the owner of the network/CA (not from this "
                        "connection — it could be the attacker's), then run again with --trust FINGERPRINT"
                        + (" (the bundle will hold the missing intermediate too)." if needed else "."))
        elif top is not None and (fixable or own):
            statements.append(_missing_statement(top, path, bool(own)))
        server_only = sorted(c.value for c in codes & set(SERVER_ONLY))
        if server_only:
            statements.append(
                "Not fixable on the client (" + ", ".join(server_only) + "): the server's operator must act — "
                + " ".join(f.fix for f in d.findings if f.code.value in server_only and f.fix))

    # never a certificate that cannot issue in a CA bundle, unless the user trusts exactly it
    extra = [c for c in extra if c.fingerprint_sha256 in wanted or can_issue(c.certificate())]
    proofs: tuple[Proof, ...] = ()
    proven: bool | None = None
    usage: tuple[str, ...] = ()
    if extra:
        base = base_anchors(d.trust)
        base_fallback = base[2]
        if base_fallback:
            statements.append(base_fallback)
        data = _bundle_bytes(d.trust, extra, clock, base)
        # proven under a name nobody would use by mistake; ca-bundle.pem only once the clients succeed
        unproven = out / UNPROVEN_NAME
        bundle_path = str(atomic_write(unproven, data))
        used_proxy = proxy_for_host(d.target.host, d.target.port, proxy, environ)
        proofs = prove(d.target.url, bundle_path, proxy=used_proxy, timeout=timeout, servername=d.target.servername,
                       client=client)
        proven = bool(proofs) and all(p.ok for p in proofs)
        if proven:
            bundle_path = str(atomic_write(out / BUNDLE_NAME, data))
            remove_quietly(str(unproven))
            written.append(("ca_bundle", bundle_path))
            usage = usage_lines(bundle_path, os_store_trusts=_os_store_has(extra), environ=environ)
        else:
            written.append(("ca_bundle_unproven", bundle_path))
            full_chain_data = None  # nothing else is left in --out: the chain came from the same path
            statements = [st for st in statements if st not in chain_statements]
            failed = next((p for p in proofs if not p.ok and not p.cut_short), None)
            cut = next((p for p in proofs if not p.ok and p.cut_short), None)
            if failed is None and cut is not None:  # not shown to fail: the deadline ended the proof first
                statements.append(
                    f"The proof was cut short by --timeout ({cut.client}: {cut.error}): the bundle is unproven, so it "
                    f"was left only as {bundle_path} (not {BUNDLE_NAME}) — do not use it yet. Next: run again with a "
                    "larger --timeout if the server is only slow.")
            else:
                statements.append(
                    "The real client still fails with this bundle"
                    + (f" ({failed.client}: {failed.error})" if failed and failed.error else "")
                    + f": it is not a fix, so it was left only as {bundle_path} (not {BUNDLE_NAME}) — do not use it. "
                    f"Next: `{shell('certdoctor', 'diagnose', d.target.url, '--ca-file', bundle_path)}` says what "
                    "is still wrong with it in place; delete the bundle if you do not need it.")
    if full_chain_data is not None:
        full_chain_path = str(atomic_write(out / "full_chain.pem", full_chain_data))
        written.insert(0, ("full_chain", full_chain_path))
    if not extra and d.ok and not written:
        statements.append("Nothing to fix: the client verifies this server.")
        proven = True
    if full_chain_path and not extra and d.verifies:
        proven = True  # the client already works; the chain file is for the server's operator
    return FixResult(d, tuple(written), bundle_path, full_chain_path, proofs, proven, needs_trust,
                     tuple(statements), usage, base_fallback)


def _missing_statement(top: CertInfo, path, supplied: bool) -> str:
    """What to do when the issuer of ``top`` is neither sent, nor in the store, nor found."""
    aki = f" (authority key identifier {top.aki})" if top.aki else ""
    tried = [f"{a.url}: {a.error}" for a in path.aia_attempts if not a.ok]
    why = (" AIA: " + "; ".join(tried) + "." if tried else
           "" if top.ca_issuers_urls else f" {top.display_name!r} names no AIA 'CA Issuers' URL.")
    head = (f"None of the certificates given with --intermediate issued {top.display_name!r}: nothing was added. "
            if supplied else "")
    return (head + f"The issuer of {top.display_name!r}, {top.issuer!r}{aki}, is neither sent by the server nor in "
            f"your store, and certdoctor could not download it.{why} The server's operator must serve the full "
            "chain. Until then get that certificate (from the CA, or exported from a browser that opens the site) "
            "and run again with --intermediate FILE; if it turns out to be a root, add --trust ITS_FINGERPRINT "
            "once you confirmed it with its owner.")


def load_intermediates(sources: Sequence, *, password: str | None = None) -> list:
    """The certificates of ``--intermediate`` (paths or certificates already parsed)."""
    from cryptography import x509

    from certdoctor.x509.load import load_file

    out: list = []
    for src in sources:
        if isinstance(src, x509.Certificate):
            out.append(src)
        else:
            out.extend(load_file(src, password=password))
    return out


def _os_store_has(extra: Sequence[CertInfo]) -> bool:
    """Does the OS store already hold every certificate the fix adds? Then truststore suffices."""
    from certdoctor.remedies.bundle import system_bundle_path
    from certdoctor.model import fingerprint_sha256
    from certdoctor.x509.pem import openssl_certificates

    path = system_bundle_path()
    if not path or not extra:
        return False
    try:
        with open(path, "rb") as fh:
            system = {fingerprint_sha256(c) for c in openssl_certificates(fh.read())}
    except OSError:
        return False
    return all(c.fingerprint_sha256 in system for c in extra)


def check_out_dir(out_dir: str) -> Path:
    """``--out DIR``, checked before any connection: not empty, not ``-``, not a file, and its
    first existing ancestor a directory (the rest is created when the first file is written)."""
    import os

    from certdoctor.fsutil import is_stdout

    if not out_dir or not str(out_dir).strip():
        raise UsageError("--out: an empty path", "Give the directory to write into, e.g. --out ./fix (created if missing).")
    if is_stdout(out_dir):
        raise UsageError(f"--out {out_dir}: fix writes files into a directory, not to standard output",
                         "Give a directory, e.g. --out ./fix; use --json for a report on stdout.")
    p = Path(out_dir)
    if p.exists() and not p.is_dir():
        raise UsageError(f"--out {out_dir} exists and is not a directory", "Give a directory (created if missing).")
    q = p
    while not os.path.lexists(q) and q.parent != q:
        q = q.parent
    if os.path.lexists(q) and not q.is_dir():
        raise UsageError(f"--out {out_dir}: {q} is a file, not a directory",
                         "Give a directory (created if missing) whose parents are directories.")
    return p
