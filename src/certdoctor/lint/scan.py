"""Find disabled or weakened TLS verification in Python source, without running it.

One parse and one AST walk per file; nothing is imported from the code under scan. The
result is data (:class:`LintReport` of :class:`certdoctor.model.Finding`, each with its
:class:`~certdoctor.model.Location`), rendered by :mod:`certdoctor.render.lint` and
:mod:`certdoctor.render.sarif`.

    >>> from certdoctor.lint.scan import lint_source
    >>> [f.code.value for f in lint_source("import requests\\nrequests.get(u, verify=False)\\n")]
    ['VERIFY_FALSE']
    >>> lint_paths(["src/"]).findings                      # doctest: +SKIP
    (Finding(code=<LintCode.VERIFY_FALSE: ...>, ..., location=Location(path='src/app.py', line=12, column=29, ...)),)

A ``# certdoctor: ignore[CODE]`` comment (or ``# certdoctor: ignore`` for every code) on a
finding's line suppresses it. What is found (codes are stable, never renamed):

* ``VERIFY_FALSE``: ``verify=False`` (or ``0``, or ``""``: requests treats any falsy value as
  off; ``verify=None`` per request means "the session's" and is quiet) as a keyword of a TLS
  call (below), ``**{"verify": False}``, ``verify_ssl=False`` (named aiohttp's only in a file
  that imports aiohttp) and aiohttp's ``ssl=False`` (in files that import aiohttp);
* ``VERIFY_FALSE_ATTR``: ``X.verify = False`` / ``""`` (``None`` too on a requests Session:
  requests then sends ``cert_reqs=CERT_NONE``), ``setattr(X, "verify", False)``,
  ``X.__dict__["verify"] = False``, ``vars(X)["verify"] = False``, and a class attribute
  ``verify = False`` of a Session/Client/HTTPAdapter subclass;
* ``VERIFY_FALSE_FLOW``: a name that is bound to ``False`` in the scope it resolves to (function,
  enclosing function or module: may-be-False; order-insensitive except that, in one function
  body outside loops, a binding below the use cannot reach it), a dict holding
  ``"verify": False``, or a class attribute ``verify = False`` read as ``self.verify`` in a
  method, reaching ``verify=``, ``X.verify =`` or ``**kwargs``;
* ``UNVERIFIED_CONTEXT``: ``ssl._create_unverified_context`` and its alias
  ``ssl._create_stdlib_context`` (any reference, their import, ``getattr(ssl, "...")``), so
  ``_create_default_https_context = _create_stdlib_context`` too; ``ssl.wrap_socket()`` (when
  ``ssl`` is the module, not a parameter; quiet with ``cert_reqs=`` in a module that matches
  host names itself); an ``SSLContext()`` / ``SSLContext(PROTOCOL_TLS)`` (verify_mode
  CERT_NONE until told otherwise) used as a client's context (``wrap_socket(server_hostname=)``,
  passed as ``ssl=``/``context=``/``ssl_context=``/``verify=``) whose ``verify_mode`` is never set;
* ``CERT_NONE``: any reference outside a comparison, ``cert_reqs="CERT_NONE"`` (or ``"NONE"``,
  ``0``; also ``ssl_cert_reqs=``, ``kw["cert_reqs"] = "CERT_NONE"`` and ``{"cert_reqs": "NONE"}``:
  urllib3 resolves the names), ``verify_mode = 0``, ``ssl.VerifyMode(0)``, ``from ssl import CERT_NONE``;
* ``CHECK_HOSTNAME_OFF``: ``X.check_hostname = False``, ``check_hostname=False`` and urllib3's
  ``assert_hostname=False`` keywords; ``self.check_hostname = False`` only in a class that is an
  SSLContext (a base named ``*Context``, or a context class of the module): elsewhere it is a field
  of that object (urllib3's PyOpenSSLContext emulation), while ``self.ctx.check_hostname = False``
  is always found;
* ``PYTHONHTTPSVERIFY_OFF`` / ``CA_BUNDLE_EMPTY``: ``PYTHONHTTPSVERIFY`` set to ``0``,
  ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` set to ``""`` through ``os.environ``, ``putenv``,
  ``setdefault``, env dicts, keyword arguments, or ``NAME=…`` words of a command;
* ``FAKE_PINNING``: an ``HTTPAdapter`` subclass named or documented as pinning that builds a
  context (``cafile=``, ``load_verify_locations``…) but never compares a fingerprint or key;
* ``WEAK_PROTOCOL``, ``WEAK_CIPHERS``, ``TRUSTED_HOST``: SSLv2/3 and TLS 1.0/1.1 constants,
  ``@SECLEVEL=0/1`` and NULL/EXPORT/RC4 cipher strings, pip's trusted-host option in commands.

Which ``verify=`` is TLS (library knowledge; JWT, SSH and signing APIs have ``verify=`` too):

1. a call whose dotted owner names a signature library (``jwt``, ``jose``, ``paramiko``,
   ``asyncssh``, ``itsdangerous``, ``cryptography`` ... :data:`_NON_TLS_PARTS`) is never TLS:
   ``jwt.decode(t, verify=False)`` is quiet, in any file;
2. a call into an HTTP-client package (:data:`_HTTP_ROOTS`: requests, httpx, aiohttp, urllib3,
   botocore/boto3, pip, docker, elasticsearch, kubernetes, ...) is TLS, and so is *any* call in
   a file that imports one of them (strong evidence: the ``verify`` flag is on its way there);
3. otherwise only HTTP-shaped callees (``get``/``post``/``request``/``send``/``Session``/
   ``Client``/``PoolManager``... :data:`_HTTP_CALL_TAILS`) are TLS: ``load_cert(b, verify=False)``
   in a file without an HTTP client is quiet. ``X.verify = False`` follows the same evidence
   (an HTTP import, or an object named like a session/client/adapter/transport/connection).

Client and server contexts: a name (in the scope that binds it) or ``self.X`` bound to
``SSLContext(PROTOCOL_TLS_SERVER)`` or ``create_default_context(Purpose.CLIENT_AUTH)``, or used
only by servers (``wrap_socket(server_side=True)``, ``ssl=`` of ``start_server``/
``create_server``...), is a server context: ``verify_mode = CERT_NONE`` (and CERT_OPTIONAL,
``check_hostname = False``) there asks no client certificate and is quiet.

Quiet because the code checks for itself: ``check_hostname = False`` on a context from
``create_urllib3_context`` or inside it (urllib3 and botocore's copy: urllib3 matches host names
itself when the context does not), in a module that imports or defines a ``match_hostname``, or
in a function that refers to one; CERT_NONE/check_hostname off in a module that defines a
``*verify_peercert*`` function (truststore: the OS verifies the chain); anything off inside an
``if`` whose test names a fingerprint/thumbprint (the pin replaces the chain check).

Hygiene notes, not findings (:attr:`LintReport.hygiene`, INFO, never the exit status, never
counted as findings of disabled verification):

* ``WARNINGS_DISABLED``: urllib3's ``disable_warnings(...)``, ``warnings.filterwarnings`` /
  ``simplefilter`` ignoring ``InsecureRequestWarning`` turn no check off. Next to a finding they
  are that finding's evidence ("…; and InsecureRequestWarning is silenced (line N)"): a silencer
  in a function goes with the findings of that function, one at module level with every finding
  of the file. With no finding to go with (``verify=`` decided at run time) it is a hygiene note.
* ``CERT_OPTIONAL``: on a client it verifies exactly like CERT_REQUIRED (OpenSSL's
  SSL_VERIFY_PEER aborts the handshake on a chain that does not verify:
  tests/integration/test_lint_cert_optional.py), on a server it makes client certificates
  optional; so a client's (``create_default_context()``, ``PROTOCOL_TLS_CLIENT``, used with
  ``server_hostname=``...) and a server's are quiet, and one of unknown role is a hygiene note.

Quiet because it is only compared: ``expected = FakeConfig(verify_ssl=False)`` whose every use is
a comparison or an ``assert*`` argument, when the call is TLS only because the file imports an
HTTP client (a call known to be a client's, ``requests.Session(verify=False)``, is always found).

Quiet because it is not configuration: comparisons, dict keys and indexes; the arguments of
``assert*`` calls (``assertEqual(mode, CERT_NONE)``, ``mock.assert_called_with(...)``; not
``assertRaises``, which calls them); a dict or sequence literal holding two or more ssl
constants (``{"none": CERT_NONE, "required": CERT_REQUIRED}``, protocol-name tables) and
``table[PROTOCOL_TLSv1] = ...`` item assignments. A test that really sets CERT_NONE is found.

Not found: values computed at run time (``verify=flag()``), flows across modules or through
attributes other than ``self.X`` of the same class, and code in strings (``exec``).

Decoding: a file is decoded as Python decodes it (:func:`decode_source`: the coding cookie or
BOM, else UTF-8, strictly) *before* anything looks at it, so a ``# coding: utf-7`` file spelling
``=`` as ``+AD0-`` is seen as Python runs it; bytes Python would refuse are a note.

Speed: a text pre-filter (:func:`_may_have_findings`) clears most files without parsing them;
only files holding the text some rule needs are parsed and walked, once. So a syntax error in a
file that could not hold a finding anyway is not reported as a note.

Measured (tests/integration/test_lint_corpus.py, tests/data/lint_corpus/MANIFEST.json): every
``*.py`` of 45 pinned wheels (8,595 files): 43 findings, 41 true under the strict reading (the
line really turns a TLS client's certificate or hostname verification off or weakens it; judged
by reading the code), precision 0.953, and 4 hygiene notes (not findings).
"""

from __future__ import annotations

import ast
import enum
import gc
import os
import re
import dataclasses
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Sequence

from certdoctor.errors import InputError
from certdoctor.model import Actor, Finding, Location, Severity

#: Directory names never entered while walking a directory argument (an explicit argument
#: is always scanned, whatever its name).
DEFAULT_EXCLUDES: frozenset[str] = frozenset(
    {".venv", ".git", "node_modules", "__pycache__", ".hg", ".svn", ".tox", ".nox",
     ".mypy_cache", ".pytest_cache", ".ruff_cache"}
)
#: Suffixes picked up while walking directories; explicit files are scanned whatever theirs.
PY_SUFFIXES: tuple[str, ...] = (".py", ".pyw")
#: From this many files on, files are parsed in a process pool.
POOL_THRESHOLD = 200
#: Files larger than this are reported as a note and skipped (generated code, data).
MAX_FILE_BYTES = 8 * 1024 * 1024


class LintCode(str, enum.Enum):
    """Stable lint codes. Public API: values are never renamed or reused."""

    VERIFY_FALSE = "VERIFY_FALSE"
    VERIFY_FALSE_ATTR = "VERIFY_FALSE_ATTR"
    VERIFY_FALSE_FLOW = "VERIFY_FALSE_FLOW"
    UNVERIFIED_CONTEXT = "UNVERIFIED_CONTEXT"
    CERT_NONE = "CERT_NONE"
    CERT_OPTIONAL = "CERT_OPTIONAL"
    CHECK_HOSTNAME_OFF = "CHECK_HOSTNAME_OFF"
    WARNINGS_DISABLED = "WARNINGS_DISABLED"
    PYTHONHTTPSVERIFY_OFF = "PYTHONHTTPSVERIFY_OFF"
    CA_BUNDLE_EMPTY = "CA_BUNDLE_EMPTY"
    FAKE_PINNING = "FAKE_PINNING"
    WEAK_PROTOCOL = "WEAK_PROTOCOL"
    WEAK_CIPHERS = "WEAK_CIPHERS"
    TRUSTED_HOST = "TRUSTED_HOST"


@dataclass(frozen=True, slots=True)
class Rule:
    """What a code means: a title, why it is dangerous (one sentence) and the certdoctor fix."""

    code: LintCode
    severity: Severity
    title: str
    why: str
    fix: str


_DIAG = "Run `certdoctor diagnose URL` to see why verification fails"
_BUNDLE = "the bundle `certdoctor fix URL` writes"

RULES: dict[LintCode, Rule] = {
    r.code: r
    for r in (
        Rule(LintCode.VERIFY_FALSE, Severity.ERROR, "certificate verification turned off",
             "Without verification anyone on the network path can impersonate the server and "
             "read or change the traffic, credentials included.",
             f"{_DIAG}, then pass {_BUNDLE}: `verify='/path/ca-bundle.pem'` (httpx: "
             "`verify=ssl.create_default_context(cafile=...)`; aiohttp: `ssl=` that context), "
             "or use the OS store with `truststore.inject_into_ssl()`."),
        Rule(LintCode.VERIFY_FALSE_ATTR, Severity.ERROR, "verification turned off for a session",
             "Every request made through this session or client skips certificate checks, so "
             "anyone on the path can impersonate the server.",
             f"{_DIAG}; set `session.verify = '/path/ca-bundle.pem'` to {_BUNDLE}, or pass "
             "`verify=` per request (REQUESTS_CA_BUNDLE overrides `session.verify`, not it)."),
        Rule(LintCode.VERIFY_FALSE_FLOW, Severity.ERROR, "False reaches verify=",
             "A variable or **kwargs dict that can hold False is passed as verify=, so on that "
             "path certificates are not checked at all.",
             f"{_DIAG}; make the value a CA bundle path ({_BUNDLE}) or True, never False."),
        Rule(LintCode.UNVERIFIED_CONTEXT, Severity.ERROR, "unverified SSL context",
             "ssl._create_unverified_context() and ssl.wrap_socket() check neither the "
             "certificate nor the hostname; installed as ssl._create_default_https_context "
             "it turns verification off for urllib and http.client in the whole process.",
             f"{_DIAG}; use `ssl.create_default_context(cafile='/path/ca-bundle.pem')` with "
             f"{_BUNDLE}, or `truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)`."),
        Rule(LintCode.CERT_NONE, Severity.ERROR, "CERT_NONE",
             "With CERT_NONE the handshake accepts any certificate, so the peer is not "
             "authenticated at all.",
             f"{_DIAG}; keep `ssl.CERT_REQUIRED` (the default of ssl.create_default_context()) "
             f"and load the right CAs: `ctx.load_verify_locations(cafile=...)` with {_BUNDLE}."),
        Rule(LintCode.CERT_OPTIONAL, Severity.INFO, "CERT_OPTIONAL on a context of unknown role",
             "On a client CERT_OPTIONAL verifies exactly like CERT_REQUIRED (OpenSSL's "
             "SSL_VERIFY_PEER aborts on a bad chain) yet reads as if it did not; on a server it "
             "makes client certificates optional. Which one this context is could not be told.",
             "Say `ssl.CERT_REQUIRED` on clients; keep CERT_OPTIONAL only on servers that "
             "really accept clients without a certificate."),
        Rule(LintCode.CHECK_HOSTNAME_OFF, Severity.ERROR, "hostname check turned off",
             "Without a hostname check any certificate a trusted CA issued for any other site "
             "is accepted, so impersonation needs only one cheap certificate.",
             "Leave `check_hostname = True`; if the names really differ, `certdoctor diagnose "
             "URL` shows the certificate's names: reissue it with the right SAN or connect "
             "with a name it has (`server_hostname=`)."),
        Rule(LintCode.WARNINGS_DISABLED, Severity.INFO, "InsecureRequestWarning silenced",
             "Silencing urllib3's InsecureRequestWarning turns no check off by itself, but it "
             "hides every unverified request the process makes, so a verify=False decided at "
             "run time goes unnoticed.",
             f"Remove it and fix verification instead: {_DIAG[0].lower()}{_DIAG[1:]}; a verified "
             "request never raises that warning."),
        Rule(LintCode.PYTHONHTTPSVERIFY_OFF, Severity.ERROR, "PYTHONHTTPSVERIFY set to 0",
             "Setting PYTHONHTTPSVERIFY to 0 turns off the stdlib's certificate checks on "
             "interpreters that carry the PEP 493 patch (RHEL/CentOS Python 2.7 and other "
             "vendor builds); upstream Python 3 ignores it, so it is either an insecure switch "
             "or a silent no-op.",
             f"Remove it; give the interpreter the right CAs instead: SSL_CERT_FILE pointing "
             f"at {_BUNDLE} for urllib/httpx/aiohttp, REQUESTS_CA_BUNDLE for requests and pip."),
        Rule(LintCode.CA_BUNDLE_EMPTY, Severity.WARNING, "CA bundle variable set to empty",
             "An empty CURL_CA_BUNDLE turned verification off in requests before 2.28 "
             "(psf/requests#6071); requests 2.28+ treats an empty REQUESTS_CA_BUNDLE or "
             "CURL_CA_BUNDLE as unset and uses certifi, so this is an insecure hack on old "
             "installs and a no-op on new ones.",
             f"Point REQUESTS_CA_BUNDLE at {_BUNDLE} (or unset it); never empty it."),
        Rule(LintCode.FAKE_PINNING, Severity.WARNING, "pinning adapter that pins nothing",
             "The adapter only swaps the trust store (cafile / load_verify_locations), so any "
             "certificate from that CA is accepted: no fingerprint or key is compared.",
             "Mount `certdoctor.pinning.PinnedAdapter(pins=[...])`, which compares SPKI pins "
             "after normal verification (`certdoctor pin HOST` prints the pins and a backup), "
             "or pass urllib3's `assert_fingerprint=` in `init_poolmanager`."),
        Rule(LintCode.WEAK_PROTOCOL, Severity.ERROR, "obsolete SSL/TLS version",
             "SSLv2, SSLv3, TLS 1.0 and TLS 1.1 are broken or deprecated (RFC 8996); forcing "
             "them invites downgrade attacks and fails against modern servers.",
             "Use `ssl.PROTOCOL_TLS_CLIENT` (or ssl.create_default_context()) with "
             "`ctx.minimum_version = ssl.TLSVersion.TLSv1_2`."),
        Rule(LintCode.WEAK_CIPHERS, Severity.ERROR, "weak cipher string",
             "@SECLEVEL=0/1 and NULL/EXPORT/RC4 ciphers re-enable keys, signatures and ciphers "
             "that OpenSSL refuses by default (SHA-1 signatures, RSA under 2048 bits).",
             "Keep the default cipher string; if a server needs a weaker one, its key or "
             "signature is weak: `certdoctor diagnose URL` names it and the operator must "
             "reissue the certificate."),
        Rule(LintCode.TRUSTED_HOST, Severity.WARNING, "pip trusted-host",
             "pip's trusted-host option (PIP_TRUSTED_HOST) accepts any certificate, or plain "
             "HTTP, from that host, so packages can be swapped in transit.",
             f"Give pip the right CA instead: `pip --cert /path/ca-bundle.pem` (or PIP_CERT) "
             f"with {_BUNDLE}; pip 24.2+ also reads the OS store through truststore."),
    )
}


#: A lint result is a :class:`certdoctor.model.Finding` (the one finding shape): ``summary`` says
#: what was seen at this place, ``explanation`` (why it is dangerous) and ``fix`` come from the code's
#: :class:`Rule`, ``who`` is the code's author (``client-user``) and ``location`` holds ``path``,
#: ``line``, ``column`` (1-based, characters) and ``snippet`` (the stripped line). The old name
#: stays importable; the class is the same.
LintFinding = Finding


@dataclass(frozen=True, slots=True)
class LintNote:
    """A file that could not be scanned (unreadable, not Python, too deep): not a finding."""

    path: str
    message: str


@dataclass(frozen=True, slots=True)
class FileResult:
    """What one file gave: ``findings`` (verification really off or weakened), ``hygiene``
    (INFO :class:`Finding` objects that turn nothing off: a silenced InsecureRequestWarning with
    no finding for it to go with, CERT_OPTIONAL on a context of unknown role), the ``note``
    when it could not be scanned, and how many results ``# certdoctor: ignore`` ``suppressed``."""

    findings: tuple[Finding, ...] = ()
    hygiene: tuple[Finding, ...] = ()
    note: LintNote | None = None
    suppressed: int = 0


@dataclass(frozen=True, slots=True)
class LintReport:
    """All findings (sorted by path, line, column), notes, and what was scanned.

    ``files_scanned`` counts every file looked at, including those the text pre-filter cleared
    without parsing; ``suppressed`` counts findings silenced by ``# certdoctor: ignore``.
    ``hygiene`` holds the INFO results that are not findings of disabled verification (see
    :class:`FileResult`): they are shown, never change the exit status, and are not counted as
    findings.
    """

    findings: tuple[Finding, ...]
    notes: tuple[LintNote, ...]
    files_scanned: int
    suppressed: int = 0
    hygiene: tuple[Finding, ...] = ()

    @property
    def clean(self) -> bool:
        return not self.findings

    def counts(self) -> dict[str, int]:
        """Findings per code, most frequent first."""
        out: dict[str, int] = {}
        for f in self.findings:
            out[f.code.value] = out.get(f.code.value, 0) + 1
        return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))


# --------------------------------------------------------------------------- public functions

def lint_source(source: str | bytes, path: str = "<string>") -> tuple[Finding, ...]:
    """Lint one module's source: its findings (hygiene notes: :func:`scan_source`). Raises
    :class:`InputError` when it is not valid Python."""
    return scan_source(source, path).findings


def scan_source(source: str | bytes, path: str = "<string>") -> FileResult:
    """Lint one module's source: findings, hygiene notes and the suppressed count. Raises
    :class:`InputError` when it is not valid Python."""
    return _lint_text(source, path)


def lint_file(path: str | os.PathLike[str]) -> tuple[tuple[Finding, ...], LintNote | None, int]:
    """Lint one file, whatever its suffix: ``(findings, note, suppressed)``; never raises
    for unreadable or unparsable input (that is the note). Hygiene notes: :func:`scan_file`."""
    r = scan_file(path)
    return r.findings, r.note, r.suppressed


def scan_file(path: str | os.PathLike[str]) -> FileResult:
    """Lint one file, whatever its suffix, into a :class:`FileResult`; never raises."""
    return _lint_path(os.fspath(path))


def iter_python_files(paths: Iterable[str | os.PathLike[str]],
                      exclude: Iterable[str] = DEFAULT_EXCLUDES) -> Iterator[str]:
    """Explicit files as given; directories walked for ``*.py``/``*.pyw``, sorted, without
    entering excluded directory names or following symlinked directories.

    Raises :class:`InputError` for a path that does not exist.
    """
    from certdoctor.net.target import DIRECTORY, FILE, classify

    skip = frozenset(exclude)
    seen: set[str] = set()
    for p in paths:
        source = classify(p, kinds=(FILE, DIRECTORY))  # the one rule set: a missing path is an InputError
        p = source.input
        if source.kind == DIRECTORY:
            for f in _walk(p, skip):
                if f not in seen:
                    seen.add(f)
                    yield f
        elif p not in seen:
            seen.add(p)
            yield p


def lint_paths(paths: Sequence[str | os.PathLike[str]], *, jobs: int | None = None,
               exclude: Iterable[str] = DEFAULT_EXCLUDES,
               select: Iterable[LintCode] | None = None,
               ignore: Iterable[LintCode] = (), stdin: bytes | None = None) -> LintReport:
    """Lint files and directory trees. ``jobs`` caps worker processes (default: CPU count;
    a pool is used only from :data:`POOL_THRESHOLD` files on). ``select``/``ignore`` filter
    codes. Raises :class:`InputError` when a path does not exist (before scanning anything).
    ``stdin``: the bytes of one more source file, named ``-`` (``certdoctor lint -``).
    """
    files = list(iter_python_files(paths, exclude))
    workers = jobs if jobs is not None else (os.cpu_count() or 1)
    results: Iterable[FileResult]
    if workers > 1 and len(files) >= POOL_THRESHOLD:
        from concurrent.futures import ProcessPoolExecutor

        workers = min(workers, os.cpu_count() or 1)
        chunk = max(4, min(32, len(files) // (workers * 16)))
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(_lint_path, files, chunksize=chunk))
    else:
        results = [_lint_path(f) for f in files]
    if stdin is not None:
        results = list(results) + [scan_bytes(stdin, "-")]
    keep = set(select) if select is not None else set(LintCode)
    keep.difference_update(ignore)
    findings: list[Finding] = []
    hygiene: list[Finding] = []
    notes: list[LintNote] = []
    suppressed = 0
    for r in results:
        findings.extend(f for f in r.findings if f.code in keep)
        hygiene.extend(f for f in r.hygiene if f.code in keep)
        suppressed += r.suppressed
        if r.note is not None:
            notes.append(r.note)
    order = lambda f: (f.location.path, f.location.line, f.location.column, f.code.value)  # noqa: E731
    findings.sort(key=order)
    hygiene.sort(key=order)
    return LintReport(tuple(findings), tuple(notes), len(files) + (stdin is not None), suppressed, tuple(hygiene))


# --------------------------------------------------------------------------- files

def _walk(root: str, skip: frozenset[str]) -> list[str]:
    out: list[str] = []
    stack = [root]
    while stack:
        d = stack.pop()
        try:
            with os.scandir(d) as it:
                entries = list(it)
        except OSError:
            continue
        for e in entries:
            try:
                if e.is_dir(follow_symlinks=False):
                    if e.name not in skip:
                        stack.append(e.path)
                elif e.name.endswith(PY_SUFFIXES) and e.is_file():
                    out.append(e.path)
            except OSError:
                continue
    out.sort()
    return out


# The text every rule needs (a superset): a file without it is clean, and is never parsed.
# It runs on the text as Python decodes it (coding cookie, BOM), never on raw bytes: a
# ``# coding: utf-7`` file spells ``=`` as ``+AD0-`` on disk. Keep in step with the walker;
# tests/unit/test_lint.py checks every corpus snippet passes.
_ZERO = re.compile(r"(?:verify\w*|hostname)['\"]?\s*[:=,]\s*(?:0\b|''|\"\")")
_WEAK_CIPHER_TEXT = re.compile(r"NULL|EXPORT|RC4|DES-CBC3")
_NEEDLES = (
    "CERT_NONE", "CERT_OPTIONAL", "cert_reqs", "_create_unverified_context", "wrap_socket",
    "disable_warnings", "InsecureRequestWarning", "Unverified HTTPS request",
    "PYTHONHTTPSVERIFY", "_CA_BUNDLE", "trusted-host", "TRUSTED_HOST", "HTTPAdapter",
    "SSLv", "TLSv1", "SECLEVEL", "_create_stdlib_context", "VerifyMode", "SSLContext",
)


def _may_have_findings(data: str | bytes) -> bool:
    """Cheap text test run before parsing (most files fail it and are never parsed). Bytes are
    decoded as Python decodes source first (undecodable bytes never pass silently: they are
    decoded with replacement here, and :func:`_lint_path` reports them)."""
    if isinstance(data, bytes):
        data = _decode(data)
    if "verify" in data and ("False" in data or "None" in data):
        return True
    if "False" in data and ("hostname" in data or "aiohttp" in data):
        return True
    for needle in _NEEDLES:
        if needle in data:
            return True
    if ("ciphers" in data or "CIPHERS" in data) and _WEAK_CIPHER_TEXT.search(data):
        return True
    return ("verify" in data or "hostname" in data) and _ZERO.search(data) is not None


def _lint_path(path: str) -> FileResult:
    try:
        if os.path.getsize(path) > MAX_FILE_BYTES:
            return FileResult(note=LintNote(path, f"skipped: larger than {MAX_FILE_BYTES // 1048576} MiB"))
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        return FileResult(note=LintNote(path, f"unreadable: {exc.strerror or exc}"))
    return scan_bytes(data, path)


def lint_bytes(data: bytes, path: str) -> tuple[tuple[Finding, ...], LintNote | None, int]:
    """Lint one file's bytes (read from disk or from an archive): ``(findings, note,
    suppressed)``. The bytes are decoded as Python decodes source (coding cookie, UTF-8 BOM)
    *before* the pre-filter; bytes that do not decode are a note, never silence. Hygiene
    notes: :func:`scan_bytes`."""
    r = scan_bytes(data, path)
    return r.findings, r.note, r.suppressed


def scan_bytes(data: bytes, path: str) -> FileResult:
    """:func:`lint_bytes` as a :class:`FileResult` (hygiene notes included)."""
    try:
        text = decode_source(data)
    except InputError as exc:
        return FileResult(note=LintNote(path, exc.message))
    if not _may_have_findings(text):
        return FileResult()
    # an AST has no reference cycles: the collector would only rescan it, at ~2x the cost
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _lint_text(text, path)
    except InputError as exc:
        return FileResult(note=LintNote(path, exc.message))
    finally:
        if gc_was_enabled:
            gc.enable()


def decode_source(data: bytes) -> str:
    """The text Python runs for these bytes (``importlib.util.decode_source``'s rule: the
    coding cookie or BOM, UTF-8 otherwise), strictly. Raises :class:`InputError` when Python
    itself could not decode them."""
    import io
    import tokenize

    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:  # bad cookie, BOM and cookie disagree, invalid UTF-8 in line 1-2
        raise InputError(f"not decodable as Python source: {exc.msg if hasattr(exc, 'msg') else exc}",
                         hint="Python would refuse to run it, too") from None
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise InputError(f"not decodable as Python source ({encoding}): {exc}",
                         hint="Python would refuse to run it, too") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    return text


#: Findings a silenced InsecureRequestWarning goes with (the warning is about them).
_VERIFICATION_CODES = frozenset({
    LintCode.VERIFY_FALSE, LintCode.VERIFY_FALSE_ATTR, LintCode.VERIFY_FALSE_FLOW,
    LintCode.UNVERIFIED_CONTEXT, LintCode.CERT_NONE, LintCode.CHECK_HOSTNAME_OFF,
    LintCode.PYTHONHTTPSVERIFY_OFF, LintCode.CA_BUNDLE_EMPTY, LintCode.TRUSTED_HOST,
})


def _lint_text(source: str | bytes, path: str) -> FileResult:
    if isinstance(source, bytes):
        source = decode_source(source)
    try:
        tree = ast.parse(source, filename=path)
    except SyntaxError as exc:
        where = f" (line {exc.lineno})" if exc.lineno else ""
        raise InputError(f"not valid Python: {exc.msg}{where}",
                         hint="certdoctor lint reads Python 3 source") from exc
    except (ValueError, RecursionError, MemoryError) as exc:
        raise InputError(f"not parsable: {type(exc).__name__}: {exc}") from exc
    walker = _Walker(path)
    try:
        walker.run(tree)
    except RecursionError as exc:
        raise InputError("nested too deeply to analyse") from exc
    if not (walker.raw or walker.hygiene_raw or walker.silencers):
        return FileResult()
    # the tokenizer's line ends only: str.splitlines() would also split at \f, \v, \x1c…
    lines = _decode(source).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    suppressed = 0

    def build(raw: list) -> list[Finding]:
        nonlocal suppressed
        out: list[Finding] = []
        seen: set[tuple[int, LintCode]] = set()
        for line, col, code, message, severity in sorted(raw, key=lambda r: (r[0], r[1])):
            if (line, code) in seen:
                continue
            seen.add((line, code))
            text = lines[line - 1] if 0 < line <= len(lines) else ""
            if _suppressed(text, code):
                suppressed += 1
                continue
            rule = RULES[code]
            out.append(Finding(
                code=code, severity=severity or rule.severity, summary=message,
                explanation=rule.why, fix=rule.fix, who=Actor.CLIENT_USER,
                location=Location(path=path, line=line, column=_char_col(text, col) + 1,
                                  snippet=text.strip()),
            ))
        return out

    findings = build(walker.raw)
    hygiene = build(walker.hygiene_raw)
    # a silenced InsecureRequestWarning is evidence for the findings of its function (or of the
    # whole file, when it is silenced at module level); with none to go with, a hygiene note
    silencers = build([(line, col, LintCode.WARNINGS_DISABLED, message, None)
                       for line, col, message, _ in walker.silencers])
    spans = {line: span for line, _, _, span in walker.silencers}
    attached: dict[int, list[Finding]] = {}
    for s in silencers:
        lo, hi = spans.get(s.location.line) or (0, len(lines))
        targets = [i for i, f in enumerate(findings)
                   if f.code in _VERIFICATION_CODES and lo <= f.location.line <= hi]
        for i in targets:
            attached.setdefault(i, []).append(s)
        if not targets:
            hygiene.append(s)
    for i, with_ in attached.items():
        f = findings[i]
        at = ", ".join(str(s.location.line) for s in with_)
        findings[i] = dataclasses.replace(
            f, summary=f"{f.summary}; and InsecureRequestWarning is silenced (line {at})",
            evidence=(*f.evidence, *(f"line {s.location.line}: {s.summary}, so these unverified "
                                     "requests raise no warning either" for s in with_)))
    hygiene.sort(key=lambda f: (f.location.line, f.location.column))
    return FileResult(tuple(findings), tuple(hygiene), None, suppressed)



def _decode(source: str | bytes) -> str:
    if isinstance(source, str):
        return source
    import io
    import tokenize

    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(source).readline)
        return source.decode(encoding, "replace")
    except (SyntaxError, LookupError):
        return source.decode("utf-8", "replace")


def _char_col(line: str, byte_col: int) -> int:
    # ast columns count UTF-8 bytes
    if line.isascii():
        return byte_col
    return len(line.encode("utf-8")[:byte_col].decode("utf-8", "replace"))


_IGNORE = re.compile(r"#\s*certdoctor:\s*ignore(?:\[([^\]]*)\])?")


def _suppressed(line: str, code: LintCode) -> bool:
    if "certdoctor" not in line:
        return False
    for m in _IGNORE.finditer(line):
        if m.group(1) is None:
            return True
        if code.value in {c.strip() for c in m.group(1).split(",")}:
            return True
    return False


# --------------------------------------------------------------------------- the walk

_PROTO_WEAK = frozenset({
    "PROTOCOL_SSLv2", "PROTOCOL_SSLv3", "PROTOCOL_TLSv1", "PROTOCOL_TLSv1_1",
    "SSLv2_METHOD", "SSLv3_METHOD", "TLSv1_METHOD", "TLSv1_1_METHOD",
})
_TLSVERSION_WEAK = frozenset({"SSLv3", "TLSv1", "TLSv1_1"})
_SUBPROCESS_CALLS = frozenset({
    "run", "call", "check_call", "check_output", "Popen", "system", "popen", "getoutput",
    "getstatusoutput", "create_subprocess_exec", "create_subprocess_shell", "spawn",
    "execv", "execve", "execvp", "execvpe", "execl", "execlp", "spawnv", "spawnvp", "main",
})
_CA_ENV = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
_ENV_KEYS = frozenset({"PYTHONHTTPSVERIFY", "PIP_TRUSTED_HOST", *_CA_ENV})
_CMD_ENV = re.compile(r"(?:^|[\s;&|'\"])(PYTHONHTTPSVERIFY|REQUESTS_CA_BUNDLE|CURL_CA_BUNDLE)"
                      r"=(\"\"|''|0|\s|$|;)")
# a string that starts like a shell command setting one of those variables
_CMD_START = re.compile(r"\s*(?:export\s+|env\s+)?"
                        r"(?:PYTHONHTTPSVERIFY|REQUESTS_CA_BUNDLE|CURL_CA_BUNDLE)=")
_WEAK_CIPHER = re.compile(r"@SECLEVEL=([01])\b|(?:^|[:,\s+])(aNULL|eNULL|NULL|EXPORT\w*|RC4[\w-]*|"
                          r"DES-CBC3[\w-]*)(?=$|[:,\s+])")
_PIN_WORDS = frozenset({"pin", "pins", "pinned", "pinning", "pinner"})
_PIN_DOC = re.compile(r"(?i)\bpin(?:s|ned|ning)?\b")
_CTX_IDENTS = frozenset({"create_default_context", "SSLContext", "load_verify_locations",
                         "create_urllib3_context", "cafile", "ca_certs", "capath", "cadata",
                         "ssl_context"})
# the arguments of these name the CA to trust: a pin-named call there ("cafile=pinned_ca()")
# is still a trust-store swap, not a check
_CA_CALLS = frozenset({"create_default_context", "SSLContext", "load_verify_locations",
                       "create_urllib3_context"})
_CA_KEYWORDS = frozenset({"cafile", "ca_certs", "capath", "cadata"})
_CHECK_HINTS = ("fingerprint", "getpeercert", "spki", "compare_digest", "peer_cert",
                "verified_chain", "hashlib", "sha256", "digest", "public_key")


#: Packages whose ``verify=`` / ``verify_ssl=`` / ``.verify`` switch TLS verification: a call
#: into one of them (``requests.get``, ``httpx.Client``, ``boto3.client``...), or any call in a
#: file that imports one, is a TLS call.
_HTTP_ROOTS = frozenset({
    "requests", "httpx", "httpcore", "aiohttp", "urllib3", "botocore", "boto3", "aiobotocore",
    "s3transfer", "pip", "requests_toolbelt", "requests_oauthlib", "treq", "httplib2", "docker",
    "elasticsearch", "elastic_transport", "opensearchpy", "hvac", "zeep", "gitlab", "github",
    "jira", "proxmoxer", "minio", "slack_sdk", "kubernetes", "openai", "stripe", "twilio",
    "msal", "websocket", "tornado",
})
#: ``verify=`` of these is about signatures, not TLS (JWTs, SSH keys and certificates...): a
#: call whose dotted owner holds one of these names is never a TLS call.
_NON_TLS_PARTS = frozenset({
    "jwt", "jose", "jws", "jwk", "jwcrypto", "python_jwt", "josepy", "authlib", "paramiko",
    "asyncssh", "sshpubkeys", "itsdangerous", "gnupg", "pgpy", "ecdsa", "rsa", "nacl",
    "cryptography", "Crypto", "Cryptodome", "id_token",
})
#: Callee names that are HTTP calls whatever imports the file has (``session.get``...).
_HTTP_CALL_TAILS = frozenset({
    "get", "post", "put", "patch", "delete", "head", "options", "request", "send", "stream",
    "urlopen", "Session", "Client", "AsyncClient", "ClientSession", "TCPConnector",
    "HTTPTransport", "AsyncHTTPTransport", "PoolManager", "ProxyManager", "HTTPSConnectionPool",
    "cert_verify", "create_client",
})
#: Base classes whose ``verify`` class attribute is the TLS switch of every instance.
_CLIENT_BASES = frozenset({"Session", "Client", "AsyncClient", "ClientSession", "HTTPAdapter",
                           "BaseAdapter", "HTTPTransport"})
#: Keywords that hand an SSL context to a connection.
_CTX_KWARGS = frozenset({"ssl", "context", "ssl_context", "sslcontext", "ssl_ctx", "verify",
                         "tls_context"})
#: Calls whose ssl=/context= is a server's context.
_SERVER_CALLS = frozenset({"create_server", "start_server", "start_unix_server",
                           "create_unix_server", "serve", "serve_forever", "run_simple",
                           "make_server", "listen", "start_tls_server"})
#: unittest asserts that call their argument (the rest compare)
_CALLING_ASSERTS = frozenset({"assertRaises", "assertRaisesRegex", "assertWarns",
                              "assertWarnsRegex", "assertLogs", "assertNoLogs"})
_PIN_TEST = re.compile(r"(?i)fingerprint|thumbprint")
_BARE_PROTOCOLS = frozenset({"PROTOCOL_TLS", "PROTOCOL_SSLv23", "PROTOCOL_TLSv1_2"})
_CERT_CONSTS = frozenset({"CERT_NONE", "CERT_OPTIONAL", "CERT_REQUIRED"})
#: Names of functions that match hostnames or verify peer chains themselves: a module defining
#: one does its own checks after turning OpenSSL's off (urllib3, truststore).
_OWN_CHECK = ("match_hostname", "verify_peercert")


def _is_false(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and (node.value is False or
                                               (type(node.value) is int and node.value == 0))


def _is_off(node: ast.AST | None, none: bool = False) -> bool:
    """A ``verify`` value that turns verification off: ``False``, ``0``, ``""`` (requests
    treats any falsy value so) and, where asked, ``None``."""
    if _is_false(node):
        return True
    if isinstance(node, ast.Constant):
        return node.value == "" or (none and node.value is None)
    return False


def _cert_none_value(node: ast.AST | None) -> bool:
    """A ``cert_reqs`` value spelling CERT_NONE without the constant: ``"CERT_NONE"``,
    ``"NONE"`` (urllib3 resolves both names) or ``0``."""
    s = _str(node)
    if s is not None:
        return s.upper() in ("CERT_NONE", "NONE")
    return isinstance(node, ast.Constant) and type(node.value) is int and node.value == 0


def _str(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _dict_verify_false(node: ast.AST | None) -> ast.AST | None:
    """The ``"verify": False`` key node of a dict literal, if any."""
    if isinstance(node, ast.Dict):
        for k, v in zip(node.keys, node.values):
            if _str(k) in ("verify", "verify_ssl") and _is_false(v):
                return k
    return None


def _callee(call: ast.Call) -> str:
    return _short(call.func, 40)


def _camel_words(name: str) -> set[str]:
    return {w.lower() for w in re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])", name)}


def _short(node: ast.AST, limit: int = 60) -> str:
    try:
        text = ast.unparse(node)
    except Exception:  # pragma: no cover - unparse gaps on odd nodes
        return "…"
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _Scope:
    __slots__ = ("kind", "parent", "bound", "false_at", "dict_false_at", "globals", "n",
                 "name", "self_name", "client_class", "own_check", "span", "ctx_class")

    def __init__(self, kind: str, parent: "_Scope | None", n: int = 0, name: str = "") -> None:
        self.kind = kind
        self.parent = parent
        self.n = n                    # serial number: a key part that outlives the scope
        self.name = name              # the function's or class's name
        self.self_name = ""           # a method's first parameter
        self.client_class = False     # a class deriving from an HTTP client class
        self.own_check = False        # refers to a hostname matcher itself
        self.span: tuple[int, int] | None = None  # a function's first and last line
        self.ctx_class = False        # a class deriving from an SSLContext (a real context)
        self.bound: set[str] = set()
        self.false_at: dict[str, tuple[int, str]] = {}   # name -> (line, how)
        self.dict_false_at: dict[str, int] = {}          # name -> line of the "verify": False
        self.globals: set[str] = set()

    def lookup(self, name: str) -> "_Scope | None":
        s: _Scope | None = self
        if name in self.globals:
            while s is not None and s.parent is not None:
                s = s.parent
            return s
        first = True
        while s is not None:
            if s.kind == "class" and not first:
                s = s.parent
                continue
            if name in s.bound:
                return s
            first = False
            s = s.parent
        return None


class _AdapterFrame:
    __slots__ = ("node", "named_pin", "builds_ctx", "checks")

    def __init__(self, node: ast.ClassDef, named_pin: bool) -> None:
        self.node = node
        self.named_pin = named_pin
        self.builds_ctx = False
        self.checks = False


class _Walker:
    """One recursive pass; ``raw`` collects ``(line, byte_col, code, message, severity)``."""

    def __init__(self, path: str = "<string>") -> None:
        self.raw: list[tuple[int, int, LintCode, str, Severity | None]] = []
        self.n_scopes = 0
        self.http_import = False       # the file imports an HTTP client package
        self.imports_requests = False
        self.defines_own_check = False  # a function named like a peer-chain verifier
        self.matches_hostnames = False  # imports or defines a hostname matcher
        self.in_pinned_branch = 0       # > 0: inside `if ...fingerprint...:`
        # ssl contexts, by key (see _ctx_key): what built them, how they are used
        self.ctx_kind: dict[tuple[int, str], tuple[str, ast.AST]] = {}
        self.ctx_use: dict[tuple[int, str], set[str]] = {}
        # findings that hold only for a client context: (key, scope, raw entry)
        self.deferred: list[tuple[tuple[int, str], _Scope, tuple]] = []
        self.defer: tuple[tuple[int, str], _Scope] | None = None
        self.verify_ssl: list[tuple[ast.keyword, str]] = []
        self.wrap_calls: list[ast.Call] = []
        self.in_loop = 0
        self.aliases: dict[str, str] = {}
        self.scope = _Scope("module", None)
        # flows to check once every binding is known: (scope, name, "false"|"dict", node, text)
        self.pending: list[tuple[_Scope, str, str, ast.AST, Callable[[], str]]] = []
        self.in_loop_at: dict[int, bool] = {}  # id(pending node) -> used inside a loop
        self.ssl_false: list[tuple[ast.keyword, str]] = []
        self.imports_aiohttp = False
        self.in_compare = 0  # > 0: inside a comparison, dict key or index
        self.in_command = 0
        self.adapters: list[_AdapterFrame] = []
        self.in_ca_args = 0  # > 0: inside what names a CA (cafile=..., load_verify_locations(...))
        self.hygiene_raw: list[tuple[int, int, LintCode, str, Severity | None]] = []
        # calls silencing InsecureRequestWarning: (line, col, message, enclosing function's span)
        self.silencers: list[tuple[int, int, str, tuple[int, int] | None]] = []
        self.ctx_classes: set[str] = set()  # classes of this module deriving from a context
        # name (by its scope) -> [loads inside comparisons/asserts, other loads]
        self.loads: dict[tuple[int, str], list[int]] = {}
        self.assigned_call: tuple[int, str] | None = None  # id(call), the name it is bound to
        # keyword findings whose call's result, bound to a name, may be only compared:
        # (scope key of the name, what to do if it is used otherwise)
        self.expected_only: list[tuple[tuple[int, str], Callable[[], None]]] = []
        self.watched: set[str] = set()  # the names of those

    # -- plumbing
    def run(self, tree: ast.AST) -> None:
        self.visit(tree)
        self.resolve()

    def visit(self, node: ast.AST) -> None:
        cls = node.__class__
        h = _HANDLERS.get(cls)
        if h is not None and h(self, node):
            return
        names = _CHILD_FIELDS.get(cls)
        if names is None:
            names = _CHILD_FIELDS[cls] = tuple(
                f for f in cls._fields if f not in ("ctx", "op", "ops"))
        for name in names:
            child = getattr(node, name, None)
            if isinstance(child, list):
                for c in child:
                    if isinstance(c, ast.AST):
                        self.visit(c)
            elif isinstance(child, ast.AST):
                self.visit(child)

    def visit_all(self, nodes: Iterable[ast.AST | None]) -> None:
        for n in nodes:
            if n is not None:
                self.visit(n)

    def _visit_inside(self, context: str, nodes: Iterable[ast.AST | None]) -> None:
        """Visit ``nodes`` inside ``context``: the counter of that name (``in_compare``,
        ``in_command``, ``in_ca_args``) is raised while they are visited, whatever they raise."""
        setattr(self, context, getattr(self, context) + 1)
        try:
            self.visit_all(nodes)
        finally:
            setattr(self, context, getattr(self, context) - 1)

    def add(self, node: ast.AST, code: LintCode, message: str,
            severity: Severity | None = None) -> None:
        entry = (node.lineno, node.col_offset, code, message, severity)
        if self.in_pinned_branch and code in (LintCode.VERIFY_FALSE, LintCode.VERIFY_FALSE_ATTR,
                                              LintCode.CERT_NONE, LintCode.CHECK_HOSTNAME_OFF):
            return  # `if ...fingerprint:` branch: the chain check is replaced by a pin
        if code in (LintCode.CERT_NONE, LintCode.CERT_OPTIONAL, LintCode.CHECK_HOSTNAME_OFF):
            # judged at the end, once every context, import and function of the file is known
            self.deferred.append((*(self.defer or ((-2, ""), self.scope)), entry))
        else:
            self.raw.append(entry)

    def _silencer(self, node: ast.AST, message: str) -> None:
        """A call silencing InsecureRequestWarning: evidence for the verification findings of
        its function (module level: of the file), or a hygiene note when there are none."""
        sc: _Scope | None = self.scope
        while sc is not None and sc.span is None:
            sc = sc.parent
        self.silencers.append((node.lineno, node.col_offset, message,
                               sc.span if sc is not None else None))

    def _pend(self, item: tuple) -> None:
        """A flow to resolve once every binding is known (remembering if it sits in a loop)."""
        self.pending.append(item)
        self.in_loop_at[id(item[3])] = bool(self.in_loop)

    # -- library knowledge
    def tls_call(self, q: str | None) -> bool:
        """Is a call to ``q`` one whose ``verify=`` is TLS verification? (The rule in the
        module docstring.)"""
        parts = (q or "").replace("()", "").split(".")
        if any(p in _NON_TLS_PARTS for p in parts[:-1]):
            return False
        if parts[0] in _HTTP_ROOTS or self.http_import:
            return True
        return parts[-1] in _HTTP_CALL_TAILS

    def tls_object(self, node: ast.AST, none: bool = False) -> bool:
        """Is ``node.verify`` a TLS switch (``session.verify``)? ``none``: is ``None`` there
        "off" (requests' Session; elsewhere None means the default)?"""
        text = _short(node, 200)
        if any(p in _NON_TLS_PARTS for p in text.split(".")):
            return False
        last = text.rsplit(".", 1)[-1].lower()
        if none:
            return "session" in last or (self.imports_requests and "client" not in last)
        return self.http_import or any(w in last for w in ("session", "client", "http", "adapter",
                                                           "transport", "conn"))

    def self_class(self, node: ast.AST) -> "_Scope | None":
        """The class scope of ``self.X`` read in one of its methods (``self`` = the method's
        first parameter), else None."""
        if not (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)):
            return None
        sc: _Scope | None = self.scope
        while sc is not None and sc.kind == "function":
            if sc.self_name and sc.parent is not None and sc.parent.kind == "class":
                return sc.parent if sc.self_name == node.value.id else None
            sc = sc.parent
        return None

    def ctx_key(self, node: ast.AST) -> tuple[int, str]:
        """Where an SSL context lives: a name in the scope that binds it, ``self.X`` of a class,
        or any other expression by its text (module-wide)."""
        if isinstance(node, ast.Name):
            sc = self.scope.lookup(node.id) or self.scope
            return (sc.n, node.id)
        cs = self.self_class(node)
        if cs is not None:
            return (cs.n, "self." + node.attr)  # type: ignore[attr-defined]
        return (-1, _short(node, 200))

    def ctx_kind_of(self, value: ast.AST | None) -> str | None:
        """``server``, ``client`` or ``bare`` (``SSLContext(PROTOCOL_TLS)``: no certificate or
        hostname check until configured) for an expression building a context."""
        if not isinstance(value, ast.Call):
            return None
        q = self.qual(value.func) or ""
        tail = q.rsplit(".", 1)[-1]
        if q.split(".")[0] == "truststore":
            return "client"
        if tail == "SSLContext":
            proto = value.args[0] if value.args else next(
                (k.value for k in value.keywords if k.arg == "protocol"), None)
            if proto is None:
                return "bare"
            name = (self.qual(proto) or "").rsplit(".", 1)[-1]
            if name == "PROTOCOL_TLS_SERVER":
                return "server"
            if name == "PROTOCOL_TLS_CLIENT":
                return "client"
            return "bare" if name in _BARE_PROTOCOLS or name in _PROTO_WEAK else None
        if tail == "create_default_context":
            purpose = value.args[0] if value.args else next(
                (k.value for k in value.keywords if k.arg == "purpose"), None)
            if purpose is not None and (self.qual(purpose) or "").endswith("CLIENT_AUTH"):
                return "server"
            return "client"
        if tail == "create_urllib3_context":
            return "urllib3"
        return None

    def ctx_used(self, node: ast.AST, how: str) -> None:
        """Record that the context ``node`` is used as a ``client``/``server`` context (or
        ``configured``: its verify_mode is set); a bare context built right there and used by
        a client is a finding at once."""
        kind = self.ctx_kind_of(node)
        if kind == "bare" and how == "client":
            self._bare_finding(node)
            return
        if isinstance(node, (ast.Name, ast.Attribute)):
            self.ctx_use.setdefault(self.ctx_key(node), set()).add(how)

    def _bare_finding(self, node: ast.AST) -> None:
        self.raw.append((node.lineno, node.col_offset, LintCode.UNVERIFIED_CONTEXT,
                         f"{_short(node)} is used by a client: an SSLContext without "
                         "PROTOCOL_TLS_CLIENT checks no certificate and no hostname "
                         "(verify_mode CERT_NONE) until told to", None))

    def _own_check(self, scope: "_Scope") -> bool:
        sc: _Scope | None = scope
        while sc is not None and sc.kind != "module":
            if sc.own_check or sc.name == "create_urllib3_context" or any(
                    w in sc.name for w in _OWN_CHECK):
                return True
            sc = sc.parent
        return False

    def qual(self, node: ast.AST) -> str | None:
        """Dotted name with import aliases resolved (``u3.disable_warnings`` ->
        ``urllib3.disable_warnings``); ``None`` for anything but names and attributes."""
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if isinstance(node, ast.Name):
            parts.append(self.aliases.get(node.id, node.id))
        elif isinstance(node, ast.Call):
            inner = self.qual(node.func)
            if inner is None:
                return None
            parts.append(inner + "()")
        else:
            return None
        return ".".join(reversed(parts))

    def ident(self, name: str) -> None:
        """Feed an identifier to the pinning-adapter frames."""
        frame = self.adapters[-1]
        if name in _CTX_IDENTS:
            frame.builds_ctx = True
        low = name.lower()
        if any(h in low for h in _CHECK_HINTS):
            frame.checks = True

    def bind(self, name: str, line: int, value: ast.AST | None, param: bool = False) -> None:
        sc = self.scope
        if name in sc.globals:  # `global X; X = False` binds the module's X
            while sc.parent is not None:
                sc = sc.parent
        sc.bound.add(name)
        if value is None:
            return
        if isinstance(value, ast.Constant) and value.value is False:
            sc.false_at.setdefault(name, (line, f"parameter {name}=False" if param
                                          else f"{name} = False"))
        elif _dict_verify_false(value) is not None:
            sc.dict_false_at.setdefault(name, line)

    # -- imports
    def v_import(self, node: ast.Import) -> bool:
        for a in node.names:
            self._import_root(a.name)
            if a.name.split(".")[0] == "aiohttp":
                self.imports_aiohttp = True
            if a.asname:
                self.aliases[a.asname] = a.name
                self.scope.bound.add(a.asname)
            else:
                root = a.name.split(".")[0]
                self.aliases.setdefault(root, root)
                self.scope.bound.add(root)
        return True

    def v_importfrom(self, node: ast.ImportFrom) -> bool:
        mod = "." * node.level + (node.module or "")
        if not node.level:
            self._import_root(mod)
        if mod.split(".")[0] == "aiohttp":
            self.imports_aiohttp = True
        for a in node.names:
            local = a.asname or a.name
            self.aliases[local] = f"{mod}.{a.name}"
            if "match_hostname" in a.name:
                self.matches_hostnames = True
            self.scope.bound.add(local)
            if a.name == "CERT_NONE" and "ssl" in mod.lower():
                self.add(node, LintCode.CERT_NONE, f"CERT_NONE imported from {mod}")
            elif a.name in ("_create_unverified_context", "_create_stdlib_context"):
                self.add(node, LintCode.UNVERIFIED_CONTEXT,
                         f"_create_unverified_context imported from {mod}")
            elif a.name in _PROTO_WEAK:
                self.add(node, LintCode.WEAK_PROTOCOL, f"{a.name} imported from {mod}")
        return True

    def _import_root(self, mod: str) -> None:
        parts = mod.split(".")
        if parts[0] in _HTTP_ROOTS:
            self.http_import = True
        if "requests" in parts:
            self.imports_requests = True

    # -- scopes
    def v_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
        self.visit_all(node.decorator_list)
        self._args_outer(node.args)
        if node.returns is not None:
            self.visit(node.returns)
        self.scope.bound.add(node.name)
        if self.adapters:
            self.ident(node.name)
        if "verify_peercert" in node.name:
            self.defines_own_check = True
        if "match_hostname" in node.name:
            self.matches_hostnames = True
        self._in_scope("function", node.body, node.args, node.name,
                       span=(node.lineno, node.end_lineno or node.lineno))
        return True

    def v_lambda(self, node: ast.Lambda) -> bool:
        self._args_outer(node.args)
        self._in_scope("function", (node.body,), node.args)
        return True

    def _args_outer(self, args: ast.arguments) -> None:
        self.visit_all(args.defaults)
        self.visit_all(args.kw_defaults)
        for a in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg):
            if a is not None and a.annotation is not None:
                self.visit(a.annotation)

    def _bind_args(self, args: ast.arguments) -> None:
        positional = [*args.posonlyargs, *args.args]
        defaults: list[ast.AST | None] = [None] * (len(positional) - len(args.defaults))
        defaults += list(args.defaults)
        pairs = [*zip(positional, defaults), *zip(args.kwonlyargs, args.kw_defaults)]
        for a, d in pairs:
            self.bind(a.arg, a.lineno, d, param=True)
        for a in (args.vararg, args.kwarg):
            if a is not None:
                self.scope.bound.add(a.arg)

    def _in_scope(self, kind: str, body: Iterable[ast.AST], args: ast.arguments | None = None,
                  name: str = "", client_class: bool = False, span: tuple[int, int] | None = None,
                  ctx_class: bool = False) -> None:
        """Visit ``body`` in a new scope of ``kind`` (a function's, with its ``args`` bound there
        first, or a class's), then return to the enclosing scope."""
        self.n_scopes += 1
        self.scope = _Scope(kind, self.scope, self.n_scopes, name)
        self.scope.client_class = client_class
        self.scope.span = span
        self.scope.ctx_class = ctx_class
        if args is not None:
            self._bind_args(args)
            first = [*args.posonlyargs, *args.args]
            if first and self.scope.parent is not None and self.scope.parent.kind == "class":
                self.scope.self_name = first[0].arg
        self.visit_all(body)
        assert self.scope.parent is not None
        self.scope = self.scope.parent

    def v_class(self, node: ast.ClassDef) -> bool:
        self.visit_all(node.decorator_list)
        self.visit_all(node.bases)
        self.visit_all(node.keywords)
        self.scope.bound.add(node.name)
        frame = None
        if any((q := self.qual(b)) is not None and q.endswith("HTTPAdapter") for b in node.bases):
            doc = ast.get_docstring(node, clean=False) or ""
            named = bool(_camel_words(node.name) & _PIN_WORDS) or bool(_PIN_DOC.search(doc))
            frame = _AdapterFrame(node, named)
            self.adapters.append(frame)
        client = any((q := self.qual(b)) is not None and (
            q.rsplit(".", 1)[-1] in _CLIENT_BASES or q.split(".")[0] in _HTTP_ROOTS)
            for b in node.bases)
        # a real context: a base named like one (ssl.SSLContext, truststore.SSLContext,
        # MyContext) or a context class of this module
        ctx_class = any((q := self.qual(b)) is not None and (
            q.rsplit(".", 1)[-1].endswith("Context") or q in self.ctx_classes) for b in node.bases)
        if ctx_class:
            self.ctx_classes.add(node.name)
        self._in_scope("class", node.body, name=node.name, client_class=client,
                       ctx_class=ctx_class)
        if frame is not None:
            self.adapters.pop()
            if frame.named_pin and frame.builds_ctx and not frame.checks:
                self.add(node, LintCode.FAKE_PINNING,
                         f"{node.name} says it pins but only sets a CA file/context; no "
                         "fingerprint or key is ever compared")
            elif self.adapters:  # a nested adapter's checks count for the outer one too
                self.adapters[-1].checks |= frame.checks
                self.adapters[-1].builds_ctx |= frame.builds_ctx
        return True

    def v_global(self, node: ast.Global | ast.Nonlocal) -> bool:
        if isinstance(node, ast.Global):
            self.scope.globals.update(node.names)
        return True

    # -- assignments
    def v_assign(self, node: ast.Assign) -> bool:
        t = node.targets[0]
        saved = self.defer
        saved_call = self.assigned_call
        if len(node.targets) == 1 and isinstance(t, ast.Name) and isinstance(node.value, ast.Call):
            self.assigned_call = (id(node.value), t.id)
        if isinstance(t, ast.Attribute) and t.attr in ("verify_mode", "check_hostname"):
            # CERT_NONE / check_hostname off on a server's context is no finding: judged at the end
            self.defer = (self.ctx_key(t.value), self.scope)
        try:
            for target in node.targets:
                self._target(target, node.value, node)
            kind = self.ctx_kind_of(node.value)
            if kind is not None:
                for target in node.targets:
                    if isinstance(target, (ast.Name, ast.Attribute)):
                        self.ctx_kind.setdefault(self.ctx_key(target), (kind, node.value))
            if isinstance(t, ast.Subscript) and self._ssl_const(t.slice):
                # table[ssl.PROTOCOL_TLSv1] = "TLSv1": a translation table, not configuration
                self._visit_inside("in_compare", (node.value,))
            else:
                self.visit(node.value)
        finally:
            self.defer = saved
            self.assigned_call = saved_call
        return True

    def _ssl_const(self, node: ast.AST | None) -> bool:
        """A reference to one of ssl's verify modes or protocol constants."""
        if not isinstance(node, (ast.Name, ast.Attribute)):
            return False
        q = self.qual(node) or ""
        tail = q.rsplit(".", 1)[-1]
        return (tail in _CERT_CONSTS or tail.startswith("PROTOCOL_") or tail.endswith("_METHOD")
                or ".TLSVersion." in f".{q}" or q.endswith("VerifyMode." + tail))

    def v_annassign(self, node: ast.AnnAssign) -> bool:
        self._target(node.target, node.value, node)
        self.visit(node.annotation)
        if node.value is not None:
            self.visit(node.value)
        return True

    def v_augassign(self, node: ast.AugAssign) -> bool:
        self._cipher_target(node.target, node.value)
        self.visit(node.target)
        self.visit(node.value)
        return True

    def _target(self, target: ast.AST, value: ast.AST | None, stmt: ast.AST) -> None:
        if isinstance(target, ast.Name):
            if (target.id == "verify" and self.scope.kind == "class" and self.scope.client_class
                    and _is_off(value, none=True)):
                self.add(target, LintCode.VERIFY_FALSE_ATTR,
                         f"class attribute verify = {_short(value)} of {self.scope.name}, an HTTP "
                         "client class: every instance skips verification")
            self.bind(target.id, target.lineno, value)
            self._cipher_target(target, value)
            return
        if isinstance(target, (ast.Tuple, ast.List)):
            if isinstance(value, (ast.Tuple, ast.List)) and len(value.elts) == len(target.elts):
                for t, v in zip(target.elts, value.elts):
                    self._target(t, v, stmt)
            else:
                for t in target.elts:
                    self._target(t, None, stmt)
            return
        if isinstance(target, ast.Starred):
            self._target(target.value, None, stmt)
            return
        if isinstance(target, ast.Attribute):
            self.visit(target.value)
            if self.adapters:
                self.ident(target.attr)
            attr = target.attr
            if attr == "verify_mode" and value is not None:
                self.ctx_used(target.value, "configured")
            if attr == "verify" and value is not None:
                if _is_off(value) and self.tls_object(target.value) or (
                        _is_off(value, none=True) and self.tls_object(target.value, none=True)):
                    self.add(target, LintCode.VERIFY_FALSE_ATTR,
                             f"{_short(target)} = {_short(value)} turns verification off")
                elif isinstance(value, ast.Name) and self.tls_object(target.value):
                    self._pend((self.scope, value.id, "false", target,
                                         lambda: f"{_short(target)} = {value.id}"))
                elif (cs := self.self_class(value)) is not None and self.tls_object(target.value):
                    self._pend((cs, value.attr, "classattr", target,  # type: ignore[attr-defined]
                                         lambda: f"{_short(target)} = {_short(value)}"))
            elif attr == "check_hostname" and _is_false(value):
                cs = self.self_class(target)
                if cs is not None and not cs.ctx_class:
                    # self.check_hostname of a class that is no SSLContext: a field of that
                    # object (urllib3's PyOpenSSLContext emulation), not a context's switch
                    return
                self.add(target, LintCode.CHECK_HOSTNAME_OFF,
                         f"{_short(target)} = {_short(value)}")
            elif attr == "verify_mode" and isinstance(value, ast.Constant) and value.value == 0 \
                    and type(value.value) is int:
                self.add(target, LintCode.CERT_NONE, f"{_short(target)} = 0 (CERT_NONE)")
            self._cipher_target(target, value)
            return
        if isinstance(target, ast.Subscript):
            self.v_subscript(target)
            key = _str(target.slice)
            if key is None:
                return
            holder = target.value
            if key == "verify" and (
                    (isinstance(holder, ast.Attribute) and holder.attr == "__dict__") or
                    (isinstance(holder, ast.Call) and isinstance(holder.func, ast.Name)
                     and holder.func.id == "vars" and len(holder.args) == 1)):
                owner = holder.value if isinstance(holder, ast.Attribute) else holder.args[0]
                if _is_off(value, none=True) and self.tls_object(owner, none=not _is_off(value)):
                    self.add(target, LintCode.VERIFY_FALSE_ATTR,
                             f"{_short(target)} = {_short(value)} writes the verify attribute "
                             "behind the object's back")
                return
            if key.endswith("cert_reqs") and _cert_none_value(value):
                self.add(target, LintCode.CERT_NONE, f"{_short(target)} = {_short(value)}")
                return
            if key == "verify" and _is_false(value) and isinstance(target.value, ast.Name):
                self.scope.dict_false_at.setdefault(target.value.id, target.lineno)
            else:
                self._env(target, key, value, lambda: f"{_short(target)} = {_short(value)}")

    def _env(self, node: ast.AST, key: str | None, value: ast.AST | None,
             text: Callable[[], str]) -> None:
        if key is None or value is None or key not in _ENV_KEYS:
            return
        if key == "PYTHONHTTPSVERIFY":
            v = value.value if isinstance(value, ast.Constant) else None
            if v in ("0", 0) and v is not False:
                self.add(node, LintCode.PYTHONHTTPSVERIFY_OFF, text())
        elif key in _CA_ENV:
            if _str(value) is not None and not _str(value).strip():
                self.add(node, LintCode.CA_BUNDLE_EMPTY, _ca_message(key, text()))
        elif key == "PIP_TRUSTED_HOST":
            self.add(node, LintCode.TRUSTED_HOST, text())

    def _cipher_target(self, target: ast.AST, value: ast.AST | None) -> None:
        name = target.attr if isinstance(target, ast.Attribute) else (
            target.id if isinstance(target, ast.Name) else "")
        if name.upper().endswith("CIPHERS"):
            self._ciphers(target, value)

    def _ciphers(self, node: ast.AST, value: ast.AST | None) -> None:
        s = _str(value)
        if s is None and isinstance(value, ast.JoinedStr):
            s = "".join(_str(v) or "" for v in value.values)
        if s is None:
            return
        m = _WEAK_CIPHER.search(s)
        if m is None:
            return
        if m.group(1) is not None:
            sev = Severity.ERROR if m.group(1) == "0" else Severity.WARNING
            self.add(node, LintCode.WEAK_CIPHERS, f"cipher string lowers OpenSSL to "
                     f"@SECLEVEL={m.group(1)}", sev)
        else:
            self.add(node, LintCode.WEAK_CIPHERS, f"cipher string enables {m.group(2)}")

    # -- expressions
    def v_loop(self, node: ast.AST) -> bool:
        self.in_loop += 1
        try:
            for name in node._fields:
                child = getattr(node, name, None)
                if isinstance(child, list):
                    self.visit_all(c for c in child if isinstance(c, ast.AST))
                elif isinstance(child, ast.AST):
                    self.visit(child)
        finally:
            self.in_loop -= 1
        return True

    def v_if(self, node: ast.If) -> bool:
        self.visit(node.test)
        pinned = bool(_PIN_TEST.search(_short(node.test, 400)))
        self.in_pinned_branch += pinned
        try:
            self.visit_all(node.body)
        finally:
            self.in_pinned_branch -= pinned
        self.visit_all(node.orelse)
        return True

    def v_expr(self, node: ast.Expr) -> bool:
        # a bare string statement is a docstring or a comment: never a finding
        return _str(node.value) is not None

    def v_compare(self, node: ast.Compare) -> bool:
        self._visit_inside("in_compare", (node.left, *node.comparators))
        return True

    def v_name(self, node: ast.Name) -> bool:
        if isinstance(node.ctx, ast.Store):
            self.scope.bound.add(node.id)
            return True
        if node.id in self.watched:
            key = ((self.scope.lookup(node.id) or self.scope).n, node.id)
            self.loads.setdefault(key, [0, 0])[0 if self.in_compare else 1] += 1
        if "match_hostname" in node.id:
            self.scope.own_check = True
        if self.adapters:
            self.ident(node.id)
        q = self.aliases.get(node.id)
        if q is not None and not self.in_compare:
            self._constant_ref(node, q.rsplit(".", 1)[-1], q)
        return True

    def v_attribute(self, node: ast.Attribute) -> bool:
        if "match_hostname" in node.attr:
            self.scope.own_check = True
        if self.adapters:
            self.ident(node.attr)
        if not self.in_compare:
            self._constant_ref(node, node.attr, None)
        self.visit(node.value)
        return True

    def _constant_ref(self, node: ast.AST, name: str, q: str | None) -> None:
        if name in ("CERT_NONE", "CERT_OPTIONAL") and not self._ssl_owner(node, q):
            return
        if name == "CERT_NONE":
            self.add(node, LintCode.CERT_NONE, f"{q or _short(node)} used")
        elif name == "CERT_OPTIONAL":
            self.add(node, LintCode.CERT_OPTIONAL, f"{q or _short(node)} used")
        elif name == "_create_unverified_context":
            self.add(node, LintCode.UNVERIFIED_CONTEXT, f"{q or _short(node)} used")
        elif name == "_create_stdlib_context":
            self.add(node, LintCode.UNVERIFIED_CONTEXT, f"{q or _short(node)} used (ssl's alias "
                     "of _create_unverified_context)")
        elif name in _PROTO_WEAK:
            self.add(node, LintCode.WEAK_PROTOCOL, f"{q or _short(node)} used")
        elif name in _TLSVERSION_WEAK:
            owner = q.rsplit(".", 1)[0] if q else (
                self.qual(node.value) if isinstance(node, ast.Attribute) else None)
            if owner and owner.endswith("TLSVersion"):
                self.add(node, LintCode.WEAK_PROTOCOL, f"{q or _short(node)} used")

    def _ssl_owner(self, node: ast.AST, q: str | None) -> bool:
        """Is ``X.CERT_NONE`` the ssl module's (``ssl.``, ``_ssl.``, ``VerifyMode.``, an
        unresolvable owner), not some enum of the same name?"""
        owner = q.rsplit(".", 1)[0] if q and "." in q else (
            self.qual(node.value) if isinstance(node, ast.Attribute) else None)
        if owner is None:
            return True
        last = owner.rsplit(".", 1)[-1].lower()
        return "ssl" in last or last == "verifymode"

    def v_keyword(self, node: ast.keyword) -> bool:
        if not (self.adapters and node.arg):
            return False
        self.ident(node.arg)
        if node.arg not in _CA_KEYWORDS:
            return False
        self._visit_inside("in_ca_args", (node.value,))
        return True

    def v_dict(self, node: ast.Dict) -> bool:
        if sum(self._ssl_const(v) for v in node.values) >= 2:
            # {"none": ssl.CERT_NONE, "required": ssl.CERT_REQUIRED}: a table of names, not a setting
            self._visit_inside("in_compare", node.keys)
            self._visit_inside("in_compare", node.values)
            return True
        for k, v in zip(node.keys, node.values):
            key = _str(k)
            if key is not None and k is not None:
                self._env(k, key, v, lambda: f"{key!r}: {_short(v)}")
                if key.endswith("cert_reqs") and _cert_none_value(v):
                    self.add(v, LintCode.CERT_NONE, f"{key!r}: {_short(v)} (CERT_NONE)")
            if k is not None:  # a key is a lookup (a translation table), like a comparison
                self._visit_inside("in_compare", (k,))
            self.visit(v)
        return True

    def v_subscript(self, node: ast.Subscript) -> bool:
        self.visit(node.value)
        self._visit_inside("in_compare", (node.slice,))
        return True

    def v_seq(self, node: ast.List | ast.Tuple) -> bool:
        if isinstance(node.ctx, ast.Store):
            return False
        if sum(self._ssl_const(e) for e in node.elts) >= 2:
            self._visit_inside("in_compare", node.elts)  # (PROTOCOL_TLSv1, PROTOCOL_TLSv1_1): a table
            return True
        looks_like_command = any(
            (s := _str(e)) is not None and ("pip" in s or s in ("env", "-m")) for e in node.elts)
        if not looks_like_command:
            return False
        self._visit_inside("in_command", node.elts)
        return True

    def v_constant(self, node: ast.Constant) -> bool:
        if isinstance(node.value, str):
            self._string(node, node.value)
        return True

    def v_joinedstr(self, node: ast.JoinedStr) -> bool:
        # one text for the whole f-string; "\0" stands for each {value}, so that
        # f"CURL_CA_BUNDLE={path}" does not read as an empty assignment
        text = "".join(v.value if isinstance(v, ast.Constant) and isinstance(v.value, str)
                       else "\0" for v in node.values)
        self._string(node, text)
        for v in node.values:
            if isinstance(v, ast.FormattedValue):
                self.visit(v)
        return True

    def _string(self, node: ast.AST, s: str) -> None:
        if len(s) < 6:
            return
        if "trusted-host" in s and (self.in_command or (
                "pip" in s and ("--trusted-host" in s or ".trusted-host" in s))):
            self.add(node, LintCode.TRUSTED_HOST, f"pip trusted-host in {_short(node)}")
        if "=" in s and (self.in_command or _CMD_START.match(s)):
            for m in _CMD_ENV.finditer(s):
                key, val = m.group(1), m.group(2)
                if key == "PYTHONHTTPSVERIFY":
                    if val == "0":
                        self.add(node, LintCode.PYTHONHTTPSVERIFY_OFF,
                                 f"{key}=0 in {_short(node)}")
                elif val != "0":
                    self.add(node, LintCode.CA_BUNDLE_EMPTY,
                             _ca_message(key, f"{key}= (empty) in {_short(node)}"))

    def v_call(self, node: ast.Call) -> bool:
        func = node.func
        q = self.qual(func)
        tail = func.attr if isinstance(func, ast.Attribute) else (
            func.id if isinstance(func, ast.Name) else "")
        if tail.startswith("assert") and tail not in _CALLING_ASSERTS:
            # assertEqual(ctx.verify_mode, CERT_NONE), mock.assert_called_with(...): comparisons
            self.visit(func)
            self._visit_inside("in_compare", (*node.args, *node.keywords))
            return True
        for kw in node.keywords:
            self._call_keyword(node, kw, q)
            if kw.arg in _CTX_KWARGS:
                self.ctx_used(kw.value, "server" if tail in _SERVER_CALLS else "client")
        if isinstance(func, ast.Attribute) and tail in ("wrap_socket", "wrap_bio"):
            kws = {k.arg: k.value for k in node.keywords}
            if "server_side" in kws and not _is_false(kws["server_side"]):
                self.ctx_used(func.value, "server")
            elif "server_hostname" in kws:
                self.ctx_used(func.value, "client")
        if tail == "VerifyMode" and node.args and isinstance(node.args[0], ast.Constant) \
                and type(node.args[0].value) is int and node.args[0].value == 0:
            self.add(node, LintCode.CERT_NONE, f"{_short(node)} is CERT_NONE")
        if tail == "disable_warnings":
            mentions = any(self._mentions_insecure_warning(a) for a in node.args)
            if (q and "urllib3" in q) or mentions:
                what = ("(...) silences InsecureRequestWarning" if mentions else
                        "() silences all urllib3 warnings, InsecureRequestWarning too")
                self._silencer(node, f"{_callee(node)}{what}")
        elif tail in ("filterwarnings", "simplefilter"):
            action = _str(node.args[0]) if node.args else None
            for kw in node.keywords:
                if kw.arg == "action":
                    action = _str(kw.value)
            rest = [*node.args[1:], *(kw.value for kw in node.keywords)]
            if action == "ignore" and any(self._mentions_insecure_warning(a) for a in rest):
                self._silencer(node, f"{_callee(node)}('ignore', ...) hides InsecureRequestWarning")
        elif tail in ("setdefault", "putenv") and len(node.args) >= 2:
            key = _str(node.args[0])
            self._env(node, key, node.args[1],
                      lambda: f"{_callee(node)}({key!r}, {_short(node.args[1])})")
        elif tail == "set_ciphers" and node.args:
            self._ciphers(node, node.args[0])
        elif tail in ("setattr", "getattr") and isinstance(func, ast.Name) and len(node.args) >= 2:
            attr = _str(node.args[1])
            value = node.args[2] if len(node.args) >= 3 else None
            if attr == "_create_unverified_context" and tail == "getattr":
                self.add(node, LintCode.UNVERIFIED_CONTEXT, f"getattr(..., {attr!r})")
            elif tail == "setattr" and attr == "verify" and _is_off(value) \
                    and self.tls_object(node.args[0]):
                self.add(node, LintCode.VERIFY_FALSE_ATTR, "setattr(..., 'verify', False)")
            elif tail == "setattr" and attr == "check_hostname" and _is_false(value):
                self.add(node, LintCode.CHECK_HOSTNAME_OFF, "setattr(..., 'check_hostname', False)")
        elif q == "ssl.wrap_socket" and self._ssl_is_module(func):
            self.wrap_calls.append(node)
        command = tail in _SUBPROCESS_CALLS
        ca_call = False
        if self.adapters:
            ca_call = tail in _CA_CALLS
            name = ".".join((q or tail).split(".")[-2:]).lower()  # PinSet.of, self.check_pins
            if not ca_call and not self.in_ca_args and "pin" in name:
                # a call such as check_pins(...) / PinSet.of(...): the adapter does compare
                self.adapters[-1].checks = True
        self.visit(func)
        self.in_command += command
        self.in_ca_args += ca_call
        try:
            self.visit_all(node.args)
            self.visit_all(node.keywords)
        finally:
            self.in_command -= command
            self.in_ca_args -= ca_call
        return True

    def _ssl_is_module(self, func: ast.AST) -> bool:
        """``ssl.wrap_socket``: is ``ssl`` the module here (not a parameter holding a context)?"""
        if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)):
            return True
        owner = self.scope.lookup(func.value.id)
        return owner is None or owner.kind == "module"

    def _call_keyword(self, call: ast.Call, kw: ast.keyword, q: str | None) -> None:
        arg, value = kw.arg, kw.value
        if arg in ("verify", "verify_ssl") or arg is None:
            if not self.tls_call(q):
                return
        if arg is None:  # **mapping
            key = _dict_verify_false(value)
            if key is not None:
                self.add(key, LintCode.VERIFY_FALSE,
                         f"**{{{_str(key)!r}: False}} passed to {_callee(call)}()")
            elif isinstance(value, ast.Name):
                self._pend((self.scope, value.id, "dict", kw,
                                     lambda: f"**{value.id} passed to {_callee(call)}()"))
            return
        if arg in ("verify", "verify_ssl") and self._expected_value(call, q, kw, arg, value):
            return
        if arg == "verify":
            if _is_off(value):
                self.add(kw, LintCode.VERIFY_FALSE,
                         f"verify={_short(value)} passed to {_callee(call)}()")
            elif isinstance(value, ast.Name):
                self._pend((self.scope, value.id, "false", kw,
                                     lambda: f"verify={value.id} passed to {_callee(call)}()"))
            elif (cs := self.self_class(value)) is not None:
                self._pend((cs, value.attr, "classattr", kw,  # type: ignore[attr-defined]
                                     lambda: f"verify={_short(value)} passed to {_callee(call)}()"))
            elif isinstance(value, ast.Subscript) and _str(value.slice) == "verify" \
                    and isinstance(value.value, ast.Name):
                self._pend((self.scope, value.value.id, "dict", kw,
                                     lambda: f"verify={_short(value)} passed to {_callee(call)}()"))
        elif arg == "verify_ssl" and _is_false(value):
            self.verify_ssl.append((kw, f"verify_ssl=False passed to {_callee(call)}()"))
        elif arg == "ssl" and _is_false(value):
            self.ssl_false.append((kw, f"ssl=False passed to {_callee(call)}() (aiohttp)"))
            if q and q.startswith("aiohttp"):
                self.imports_aiohttp = True
        elif arg is not None and arg.endswith("cert_reqs") and _cert_none_value(value):
            self.add(kw, LintCode.CERT_NONE,
                     f"{arg}={_short(value)} (CERT_NONE) passed to {_callee(call)}()")
        elif arg in ("check_hostname", "assert_hostname") and _is_false(value):
            self.add(kw, LintCode.CHECK_HOSTNAME_OFF, f"{arg}=False passed to {_callee(call)}()")
        elif arg == "ciphers":
            self._ciphers(kw, value)
        elif arg in _ENV_KEYS:
            self._env(kw, arg, value,
                      lambda: f"{arg}={_short(value)} passed to {_callee(call)}()")

    def _expected_value(self, call: ast.Call, q: str | None, kw: ast.keyword, arg: str,
                        value: ast.AST) -> bool:
        """``expected = FakeConfig(verify_ssl=False)`` then only ``assertEqual(expected, ...)``:
        a value a test compares, not a connection. Taken when the call is TLS only because
        the file imports an HTTP client (a call *known* to be a client's is always found) and
        its result is bound to a name; judged once every use of the name is known."""
        if self.assigned_call is None or self.assigned_call[0] != id(call):
            return False
        if not (_is_off(value) if arg == "verify" else _is_false(value)):
            return False
        parts = (q or "").replace("()", "").split(".")
        if parts[0] in _HTTP_ROOTS or parts[-1] in _HTTP_CALL_TAILS:
            return False
        name = self.assigned_call[1]
        key = ((self.scope.lookup(name) or self.scope).n, name)
        self.watched.add(name)
        if arg == "verify":
            def emit() -> None:
                self.add(kw, LintCode.VERIFY_FALSE, f"verify={_short(value)} passed to {_callee(call)}()")
        else:
            def emit() -> None:
                self.verify_ssl.append((kw, f"verify_ssl=False passed to {_callee(call)}()"))
        self.expected_only.append((key, emit))
        return True

    def _mentions_insecure_warning(self, node: ast.AST) -> bool:
        for n in ast.walk(node):
            if isinstance(n, ast.Name) and n.id.endswith("InsecureRequestWarning"):
                return True
            if isinstance(n, ast.Attribute) and n.attr.endswith("InsecureRequestWarning"):
                return True
            s = _str(n)
            if s is not None and "Unverified HTTPS request" in s:
                return True
        return False

    # -- after the walk: flows and aiohttp's ssl=False
    def resolve(self) -> None:
        for key, emit in self.expected_only:
            compared, other = self.loads.get(key, (0, 0))
            if not (compared and not other):
                emit()  # used for more than a comparison (or not at all): a real setting
        for key, scope, entry in self.deferred:
            kind = self.ctx_kind.get(key, ("", None))[0]
            uses = self.ctx_use.get(key, set())
            if kind == "server" or ("server" in uses and "client" not in uses):
                continue  # a server's context: CERT_NONE there means "ask no client certificate"
            if entry[2] is LintCode.CERT_OPTIONAL:
                if kind in ("client", "urllib3") or "client" in uses:
                    continue  # on a client CERT_OPTIONAL verifies like CERT_REQUIRED
                self.hygiene_raw.append(entry)  # a context of unknown role: worth a word, no more
                continue
            if entry[2] is LintCode.CHECK_HOSTNAME_OFF and (
                    kind == "urllib3" or self.matches_hostnames or self._own_check(scope)):
                continue  # the code (or urllib3, whose context it is) matches names itself
            if self.defines_own_check and entry[2] is not LintCode.CERT_OPTIONAL:
                continue  # the module verifies the peer's chain itself: truststore
            self.raw.append(entry)
        for key, (kind, node) in self.ctx_kind.items():
            uses = self.ctx_use.get(key, set())
            if kind == "bare" and "client" in uses and "configured" not in uses:
                self._bare_finding(node)
        for call in self.wrap_calls:
            reqs = next((k.value for k in call.keywords if k.arg == "cert_reqs"), None)
            if reqs is not None and self.matches_hostnames and not (
                    (self.qual(reqs) or "").endswith("CERT_NONE") or _is_false(reqs)):
                continue  # cert_reqs given, names matched by the module itself (ldap3)
            self.raw.append((call.lineno, call.col_offset, LintCode.UNVERIFIED_CONTEXT,
                             "ssl.wrap_socket() defaults to CERT_NONE and checks no hostname "
                             "(removed in Python 3.12)", None))
        for kw, text in self.verify_ssl:
            self.add(kw, LintCode.VERIFY_FALSE, text + (" (aiohttp)" if self.imports_aiohttp else ""))
        for scope, name, kind, node, text in self.pending:
            if kind == "classattr":
                if name in scope.false_at:
                    line, how = scope.false_at[name]
                    self.add(node, LintCode.VERIFY_FALSE_FLOW,
                             f"{text()}; class attribute {how} (line {line})")
                continue
            owner = scope.lookup(name)
            if owner is None:
                continue
            if owner is scope and owner.kind == "function" and not self.in_loop_at.get(id(node)):
                # in one function body, outside loops, a binding below the use cannot reach it
                at = owner.false_at.get(name) if kind == "false" else owner.dict_false_at.get(name)
                at_line = at[0] if isinstance(at, tuple) else at
                if at_line is not None and at_line > node.lineno:  # type: ignore[attr-defined]
                    continue
            if kind == "false" and name in owner.false_at:
                line, how = owner.false_at[name]
                self.add(node, LintCode.VERIFY_FALSE_FLOW, f"{text()}; {how} (line {line})")
            elif kind == "dict" and name in owner.dict_false_at:
                line = owner.dict_false_at[name]
                self.add(node, LintCode.VERIFY_FALSE_FLOW,
                         f"{text()}; it holds \"verify\": False (line {line})")
        if self.imports_aiohttp:
            for kw, text in self.ssl_false:
                self.add(kw, LintCode.VERIFY_FALSE, text)


_W = _Walker
# node class -> the fields that can hold child nodes worth visiting (not ctx/op singletons)
_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}
# node class -> handler; a handler returns True when it has visited the children itself
_HANDLERS = {
    ast.Import: _W.v_import, ast.ImportFrom: _W.v_importfrom,
    ast.FunctionDef: _W.v_function, ast.AsyncFunctionDef: _W.v_function,
    ast.Lambda: _W.v_lambda, ast.ClassDef: _W.v_class,
    ast.Global: _W.v_global, ast.Nonlocal: _W.v_global,
    ast.Assign: _W.v_assign, ast.AnnAssign: _W.v_annassign, ast.AugAssign: _W.v_augassign,
    ast.Call: _W.v_call, ast.Attribute: _W.v_attribute, ast.Name: _W.v_name,
    ast.Compare: _W.v_compare, ast.Dict: _W.v_dict, ast.List: _W.v_seq, ast.Tuple: _W.v_seq,
    ast.Constant: _W.v_constant, ast.JoinedStr: _W.v_joinedstr, ast.Expr: _W.v_expr,
    ast.keyword: _W.v_keyword,
    ast.Subscript: _W.v_subscript, ast.If: _W.v_if,
    ast.For: _W.v_loop, ast.AsyncFor: _W.v_loop, ast.While: _W.v_loop,
}


def _ca_message(key: str, text: str) -> str:
    if key == "CURL_CA_BUNDLE":
        return (f"{text}: an empty CURL_CA_BUNDLE disabled verification in requests < 2.28 "
                "and is ignored since")
    return (f"{text}: an empty REQUESTS_CA_BUNDLE counts as unset (certifi is used); it never "
            "disabled verification by itself")


__all__ = [
    "LintCode",
    "Rule",
    "RULES",
    "LintFinding",
    "LintNote",
    "LintReport",
    "DEFAULT_EXCLUDES",
    "POOL_THRESHOLD",
    "lint_source",
    "lint_file",
    "lint_bytes",
    "decode_source",
    "lint_paths",
    "iter_python_files",
]
