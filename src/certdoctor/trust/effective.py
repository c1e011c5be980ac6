"""The trust store a Python HTTPS client really uses here, and why.

    >>> from certdoctor.trust.effective import effective_trust
    >>> t = effective_trust("requests", environ={"REQUESTS_CA_BUNDLE": "/etc/corp.pem"})  # doctest: +SKIP
    >>> t.source, t.cafile                                  # doctest: +SKIP
    ('REQUESTS_CA_BUNDLE', '/etc/corp.pem')
    >>> [f.summary for f in t.findings]                     # doctest: +SKIP
    ['REQUESTS_CA_BUNDLE replaces certifi for requests, and beats session.verify']
    >>> ctx = t.ssl_context(python="3.13")                  # requests' real context, 3.13 flags  # doctest: +SKIP

Each client reads different knobs (failure catalogue §8, checked on 3.11.7 and 3.13.0):

============================  ==========  ==========  ==============  ================================
knob                          requests    httpx       urllib          pip (truststore default)
============================  ==========  ==========  ==============  ================================
default store                 certifi     certifi     OpenSSL paths   OS store (truststore) + certifi
REQUESTS_CA_BUNDLE            used        ignored     ignored         used, beats PIP_CERT
CURL_CA_BUNDLE                if no R_C_B ignored     ignored         used, beats PIP_CERT
SSL_CERT_FILE / SSL_CERT_DIR  ignored     FILE > DIR  both (OpenSSL)  used by truststore on Linux
PIP_CERT / pip.conf ``cert``  n/a         n/a         n/a             used (added to the store)
============================  ==========  ==========  ==============  ================================

An empty ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE``/``SSL_CERT_*`` counts as unset for
requests and httpx (``os.environ.get(X) or …``); OpenSSL (urllib, truststore) takes an
empty ``SSL_CERT_FILE`` as "a file named ''", which loads nothing. ``environ`` is read,
never ``os.environ`` directly, so any environment can be examined; the one exception is
what OpenSSL reads itself when a *context* is built for urllib/pip on the real process.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

from certdoctor._text import shell
from certdoctor.errors import InputError, UsageError
from certdoctor.model import CLIENTS, Actor, Code, Finding, Severity
from certdoctor.x509.pem import openssl_certificates

if TYPE_CHECKING:  # pragma: no cover
    import ssl

    from cryptography import x509


# every variable that changes some client's trust, in the order they are reported
CA_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR", "PIP_CERT",
                "PIP_CONFIG_FILE", "PIP_USE_DEPRECATED")

_REQUESTS_MISSING = "OSError: Could not find a suitable TLS CA certificate bundle, invalid path: {path}"
_VERIFY_FAILS = ("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local "
                 "issuer certificate (_ssl.c:N)")
_HASHED_RE = re.compile(r"^[0-9a-fA-F]{8}\.[0-9]+$")
_STRICT_313 = (3, 13)
_TRUSTSTORE_CANDIDATES = (  # truststore/_openssl.py, when OpenSSL's defaults hold nothing
    "/etc/ssl/cert.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/pki/tls/cert.pem",
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/ssl/ca-bundle.pem",
)


@dataclass(frozen=True, slots=True)
class EffectiveTrust:
    """Where one client finds its trust anchors in one environment, and the reasons.

    ``cafile``/``capath`` are what the client is pointed at (a bundle file, a hashed
    directory; ``None`` when not used). ``uses_os_store`` is ``True`` when the operating
    system's store takes part (urllib's OpenSSL default paths, truststore, an injected
    truststore); ``os_cafile``/``os_capath`` name where OpenSSL/truststore read it from on
    Linux (``None`` elsewhere or when not used). ``extra_cafiles`` are loaded on top
    (pip's truststore context always holds pip's certifi as well).

    ``source`` is the knob that decided: ``"argument"`` (``ca_file``: ``verify=``,
    ``cafile=``, pip ``--cert``), ``"REQUESTS_CA_BUNDLE"``, ``"CURL_CA_BUNDLE"``,
    ``"SSL_CERT_FILE"``, ``"SSL_CERT_DIR"``, ``"PIP_CERT"``, ``"pip.conf"``,
    ``"certifi"``, ``"openssl-default"`` or ``"truststore"``. ``reasons`` say why, in
    words; ``env`` lists every CA variable that is set (empty ones too); ``findings`` are
    ``CA_BUNDLE_ENV`` findings (ERROR: the client will fail because of a variable or file).

    ``context_kind`` is how the client builds its context: ``"urllib3"``
    (``create_urllib3_context``), ``"stdlib"`` (``ssl.create_default_context``) or
    ``"truststore"``; ``strict`` is whether it carries Python 3.13's
    ``VERIFY_X509_STRICT | VERIFY_X509_PARTIAL_CHAIN`` for ``python``.
    """

    client: str
    cafile: str | None
    capath: str | None
    uses_os_store: bool
    source: str
    reasons: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    certifi_path: str | None
    certifi_version: str | None
    findings: tuple[Finding, ...]
    os_cafile: str | None = None
    os_capath: str | None = None
    extra_cafiles: tuple[str, ...] = ()
    truststore_injected: bool = False
    context_kind: str = "stdlib"
    strict: bool = False
    python: str = ""
    pip_config_files: tuple[str, ...] = ()

    # ----------------------------------------------------------------------- anchors
    def locations(self) -> tuple[tuple[str, str], ...]:
        """Every ``("file"|"dir", path)`` the client loads anchors from, in load order."""
        out: list[tuple[str, str]] = []
        for kind, path in (("file", self.os_cafile), ("dir", self.os_capath)):
            if path:
                out.append((kind, path))
        for path in self.extra_cafiles:
            out.append(("file", path))
        if self.cafile:
            out.append(("file", self.cafile))
        if self.capath:
            for part in self.capath.split(os.pathsep):
                if part:
                    out.append(("dir", part))
        seen: set[tuple[str, str]] = set()
        return tuple(x for x in out if not (x in seen or seen.add(x)))

    def anchors(self) -> "tuple[x509.Certificate, ...]":
        """The trust anchors, parsed (duplicates removed, load order kept).

        Files are PEM bundles (``TRUSTED CERTIFICATE`` blocks too); directories are read
        the way OpenSSL does, through their ``<hash>.N`` names. Each location is cached
        per (path, mtime, size), so a changed file is re-read. On Windows the system
        ``ROOT`` store is added when the OS store is in use; the macOS keychain is not
        listed (truststore asks the OS to verify instead).
        """
        from cryptography.hazmat.primitives import serialization

        seen: set[bytes] = set()
        out: list[x509.Certificate] = []
        groups = [(_load_location(kind, path)) for kind, path in self.locations()]
        if self.uses_os_store and sys.platform == "win32":  # pragma: no cover - Windows only
            groups.append(_windows_roots())
        for group in groups:
            for cert in group:
                der = cert.public_bytes(serialization.Encoding.DER)
                if der not in seen:
                    seen.add(der)
                    out.append(cert)
        return tuple(out)

    # ----------------------------------------------------------------------- context
    def ssl_context(self, python: str | tuple[int, ...] | None = None) -> "ssl.SSLContext":
        """The ``SSLContext`` this client builds here (verification on, hostname checks on).

        requests: ``urllib3.util.ssl_.create_urllib3_context()`` + the bundle; httpx and
        urllib: ``ssl.create_default_context`` with the file/dir they read; pip: a
        ``truststore.SSLContext`` + pip's certifi + ``--cert``/env bundle (or urllib3's, with
        ``legacy-certs``). ``python="3.13"`` (or running on 3.13+) adds
        ``VERIFY_X509_STRICT | VERIFY_X509_PARTIAL_CHAIN`` where that Python's client does
        (not to pip's truststore context); an older ``python`` removes them.

        Raises ``InputError`` when the client itself would fail before any handshake (a
        bundle path that does not exist, a file with no certificate), with its message.
        """
        import ssl

        strict = self.strict if python is None else _strict_for(
            self.client, self.context_kind, _python_version(python))
        if self.context_kind == "urllib3":
            from urllib3.util.ssl_ import create_urllib3_context

            ctx = create_urllib3_context()
            self._load(ctx, strict_errors=True)
        elif self.context_kind == "truststore":
            import truststore

            ctx = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            self._load(ctx, strict_errors=True)
        else:
            # ssl.create_default_context(cafile=…, capath=…) for httpx; the default paths
            # (as resolved from ``environ``) for urllib. ssl.SSLContext is looked up now, so
            # an injected truststore is honoured, as it is in the real client.
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            if self.client == "urllib" and self.source == "openssl-default" and sys.platform == "win32":
                ctx.load_default_certs()  # pragma: no cover - Windows store
            self._load(ctx, strict_errors=self.client != "urllib")
        flags = ssl.VERIFY_X509_STRICT | ssl.VERIFY_X509_PARTIAL_CHAIN
        if strict:
            ctx.verify_flags |= flags
        else:
            ctx.verify_flags &= ~flags
        return ctx

    def _load(self, ctx: "ssl.SSLContext", *, strict_errors: bool) -> None:
        """Load every location; ``strict_errors``: fail as the client does, else as OpenSSL."""
        for kind, path in self.locations():
            if self.context_kind == "truststore" and path in (self.os_cafile, self.os_capath):
                continue  # truststore loads the OS store itself (OpenSSL's default paths on Linux)
            try:
                if kind == "dir":
                    ctx.load_verify_locations(capath=path)
                else:
                    ctx.load_verify_locations(cafile=path)
            except (OSError, ValueError) as exc:
                if not strict_errors:
                    continue  # OpenSSL's default paths: a broken file just loads nothing
                if isinstance(exc, FileNotFoundError) and self.client in ("requests", "pip"):
                    raise InputError(f"Could not find a suitable TLS CA certificate bundle, invalid path: {path}",
                                     "point the variable or argument at an existing bundle, or unset it") from exc
                raise InputError(f"{self.client} cannot load the CA bundle {path}: {exc}",
                                 "the file must hold PEM certificates (-----BEGIN CERTIFICATE-----)") from exc


# --------------------------------------------------------------------------- helpers

def _python_version(python: str | tuple[int, ...] | None) -> tuple[int, int]:
    if python is None:
        return sys.version_info[:2]
    if isinstance(python, tuple):
        return (int(python[0]), int(python[1]) if len(python) > 1 else 0)
    m = re.fullmatch(r"\s*(\d+)\.(\d+)(?:\.\d+)?\s*", str(python))
    if not m:
        raise UsageError(f"python={python!r} is not a version like '3.13'", "pass e.g. python='3.13'")
    return int(m.group(1)), int(m.group(2))


def _dist_major(name: str) -> int | None:
    try:
        from importlib.metadata import version

        return int(version(name).split(".")[0])
    except Exception:
        return None


def _strict_for(client: str, kind: str, pyver: tuple[int, int]) -> bool:
    """Does this client's context get 3.13's strict flags on Python ``pyver``?"""
    if pyver < _STRICT_313:
        return False
    if kind == "truststore":
        return False  # truststore.SSLContext builds on ssl.SSLContext(): flags 32768 only
    if kind == "urllib3":
        if client == "pip":
            major = _pip_vendored_urllib3_major()
        else:
            major = _dist_major("urllib3")
        return major is None or major >= 2  # urllib3 2.x copies 3.13's flags
    return True  # ssl.create_default_context on 3.13


def _truststore_injected() -> bool:
    import ssl

    return "truststore" in getattr(ssl.SSLContext, "__module__", "")


def _openssl_defaults(env: Mapping[str, str]) -> dict[str, Any]:
    """``ssl.get_default_verify_paths()`` computed with ``env`` instead of ``os.environ``."""
    import ssl

    p = ssl.get_default_verify_paths()
    file_set = p.openssl_cafile_env in env
    dir_set = p.openssl_capath_env in env
    cafile = env[p.openssl_cafile_env] if file_set else p.openssl_cafile
    capath = env[p.openssl_capath_env] if dir_set else p.openssl_capath
    return {
        "cafile": cafile, "capath": capath, "file_set": file_set, "dir_set": dir_set,
        "cafile_ok": bool(cafile) and os.path.isfile(cafile),
        "capath_ok": bool(capath) and os.path.isdir(capath),
        "default_cafile": p.openssl_cafile, "default_capath": p.openssl_capath,
    }


def _dir_has_hashed(path: str) -> bool:
    try:
        return any(_HASHED_RE.match(n) for n in os.listdir(path))
    except OSError:
        return False


def _same_file(a: str | None, b: str | None) -> bool:
    if not a or not b:
        return False
    try:
        return os.path.realpath(a) == os.path.realpath(b)
    except OSError:  # pragma: no cover
        return False


def _certifi() -> tuple[str | None, str | None]:
    try:
        import certifi
    except ImportError:  # pragma: no cover - a declared dependency
        return None, None
    return certifi.where(), getattr(certifi, "__version__", None)


def _pip_dir() -> str | None:
    import importlib.util

    try:
        spec = importlib.util.find_spec("pip")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return list(spec.submodule_search_locations)[0]


def _pip_certifi() -> tuple[str | None, str | None]:
    """pip's vendored certifi (``pip/_vendor/certifi``), found without importing pip."""
    base = _pip_dir()
    if not base:
        return None, None
    path = os.path.join(base, "_vendor", "certifi", "cacert.pem")
    version = None
    try:
        with open(os.path.join(base, "_vendor", "certifi", "__init__.py"), encoding="utf-8") as fh:
            m = re.search(r"__version__\s*=\s*[\"']([^\"']+)", fh.read())
            version = m.group(1) if m else None
    except OSError:
        pass
    return (path if os.path.isfile(path) else None), version


def _pip_vendored_urllib3_major() -> int | None:
    base = _pip_dir()
    if not base:
        return None
    for name in ("_version.py", "__init__.py"):
        try:
            with open(os.path.join(base, "_vendor", "urllib3", name), encoding="utf-8") as fh:
                m = re.search(r"__version__\s*=\s*(?:version\s*=\s*)?[\"'](\d+)\.", fh.read())
            if m:
                return int(m.group(1))
        except OSError:
            continue
    return None


#: ``rule`` ids of the CA_BUNDLE_ENV findings that say the store a client is given cannot be used
#: at all (the client fails before any handshake, or loads nothing from it): after one of these, a
#: chain finding that only repeats "not in your store" is left out (:mod:`certdoctor.checks.runner`)
#: (listed in docs/JSON.md, like every module's ``RULES``)
STORE_UNUSABLE_RULES = {
    "store_missing": "the file or directory does not exist (or the variable is empty where OpenSSL reads it)",
    "store_is_directory": "a directory where the client needs a file",
    "store_unhashed_directory": "a directory without <subject-hash>.N names (run `openssl rehash`)",
    "store_der": "a DER (binary) file: OpenSSL reads only PEM from a CA file (`certdoctor convert`)",
    "store_pkcs7": "a PKCS#7 file (.p7b/.p7c): not a PEM bundle (`certdoctor convert`)",
    "store_pkcs12": "a PKCS#12 file (.p12/.pfx): not a PEM bundle (`certdoctor convert`)",
    "store_private_key": "a private key, not a certificate",
    "store_not_pem": "anything else that holds no PEM certificate (empty, text, damaged)",
}


def _finding(severity: Severity, summary: str, explanation: str, evidence: tuple[str, ...], fix: str,
             who: Actor = Actor.CLIENT_USER, rule: str | None = None) -> Finding:
    return Finding(code=Code.CA_BUNDLE_ENV, severity=severity, summary=summary, explanation=explanation,
                   evidence=tuple(e for e in evidence if e), fix=fix, who=who, rule=rule)


def _what_is(path: str, origin: str) -> tuple[str, str, str]:
    """What a file OpenSSL cannot load as a PEM bundle holds, told by its content
    (:mod:`certdoctor.x509.load`): ``(rule, words, fix)``; ``fix`` names the command that
    turns it into what the client needs (``certdoctor convert``)."""
    from certdoctor.x509.load import load_bundle_file

    base, ext = os.path.splitext(path)
    pem = base + (".converted.pem" if ext.lower() == ".pem" else ".pem")  # never onto itself
    convert = f"`{shell('certdoctor', 'convert', path, pem)}`"
    from certdoctor.errors import PasswordError

    try:
        loaded = load_bundle_file(path)
    except PasswordError:
        return ("store_pkcs12", "a password-protected PKCS#12 (.p12/.pfx) file, which no Python client reads "
                "as a trust store", f"Convert it to PEM: {convert} --password …, and point {origin} at the .pem.")
    except InputError as exc:
        text = exc.message
        if "private key" in text.lower():
            return ("store_private_key", "a private key, not a CA certificate",
                    "A private key is never a trust store: give the CA certificate (the root your server's "
                    "chain ends at), e.g. the bundle `certdoctor fix URL --out DIR` writes.")
        return ("store_not_pem", f"no certificate OpenSSL can load ({text.split(': ', 1)[-1]})",
                f"Point {origin} at a PEM bundle (-----BEGIN CERTIFICATE----- blocks), e.g. the one "
                "`certdoctor fix URL --out DIR` writes, or unset it.")
    n = len(loaded.certificates)
    what = f"{n} certificate{'s' if n != 1 else ''}"
    if loaded.format == "der":
        return ("store_der", f"DER (binary), not PEM: {what} that OpenSSL does not read from a CA file",
                f"Convert it to PEM: {convert}, and point {origin} at the .pem.")
    if loaded.format.startswith("pkcs7"):
        return ("store_pkcs7", f"PKCS#7 ({loaded.format.split('-')[1].upper()}), not a PEM bundle: {what} that "
                "OpenSSL does not read from a CA file", f"Convert it to PEM: {convert}, and point {origin} at the .pem.")
    if loaded.format == "pkcs12":
        return ("store_pkcs12", f"a PKCS#12 (.p12/.pfx) file with {what}, which no Python client reads as a "
                "trust store", f"Convert it to PEM: {convert}, and point {origin} at the .pem.")
    return ("store_not_pem", f"{what} OpenSSL does not load",
            f"Point {origin} at a PEM bundle (-----BEGIN CERTIFICATE----- blocks), or unset it.")


def _try_load(path: str) -> BaseException | None:
    """Load ``path`` into a throwaway context the way every client does; the error, if any."""
    import ssl

    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=path)
    except (OSError, ValueError) as exc:
        return exc
    return None


# --------------------------------------------------------------------------- pip config

def _pip_config_files(env: Mapping[str, str]) -> tuple[list[str], str | None]:
    """pip's config files in load order (later wins), and a note; [] for PIP_CONFIG_FILE=devnull."""
    pcf = env.get("PIP_CONFIG_FILE")
    if pcf == os.devnull:
        return [], f"PIP_CONFIG_FILE={os.devnull}: pip reads no configuration file"
    home = env.get("HOME") or os.path.expanduser("~")
    files: list[str] = []
    if sys.platform in ("win32", "darwin"):  # pragma: no cover - pip's own rules there
        try:
            from pip._internal.configuration import Kind, get_configuration_files

            cf = get_configuration_files()
            files += cf[Kind.GLOBAL]
            if not (pcf and os.path.exists(pcf)):
                files += cf[Kind.USER]
            files += cf[Kind.SITE]
        except Exception:
            pass
    else:
        xdg_dirs = (env.get("XDG_CONFIG_DIRS") or "/etc/xdg").split(os.pathsep)
        files += [os.path.join(d, "pip", "pip.conf") for d in xdg_dirs if d] + ["/etc/pip.conf"]
        if not (pcf and os.path.exists(pcf)):  # pip skips user files when PIP_CONFIG_FILE exists
            files.append(os.path.join(home, ".pip", "pip.conf"))
            xdg_home = (env.get("XDG_CONFIG_HOME") or "").strip() or os.path.join(home, ".config")
            files.append(os.path.join(xdg_home, "pip", "pip.conf"))
        files.append(os.path.join(sys.prefix, "pip.conf"))
    if pcf:
        files.append(pcf)
    return files, None


def _pip_settings(env: Mapping[str, str], command: str = "install") -> dict[str, Any]:
    """``cert`` and ``use-deprecated`` as pip resolves them (files, then PIP_* variables)."""
    import configparser

    files, note = _pip_config_files(env)
    merged: dict[str, dict[str, tuple[str, str]]] = {}
    read: list[str] = []
    problems: list[str] = []
    for path in files:
        if not os.path.isfile(path):
            continue
        parser = configparser.RawConfigParser()
        parser.optionxform = lambda s: s.lower().replace("_", "-").removeprefix("--")  # type: ignore[method-assign]
        try:
            parser.read(path, encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError, OSError) as exc:
            problems.append(f"{path}: {exc}")
            continue
        read.append(path)
        for section in parser.sections():
            for key, value in parser.items(section):
                merged.setdefault(section, {})[key] = (value, f"{path} [{section}]")
    for key, value in env.items():
        if key.startswith("PIP_") and key not in ("PIP_VERSION", "PIP_HELP"):
            name = key[4:].lower().replace("_", "-")
            merged.setdefault(":env:", {})[name] = (value, f"environment variable {key}")

    def resolve(option: str) -> tuple[str, str] | None:
        found = None
        for section in ("global", command, ":env:"):
            item = merged.get(section, {}).get(option)
            if item and item[0]:
                found = item
        return found

    return {"cert": resolve("cert"), "use_deprecated": resolve("use-deprecated"),
            "files": tuple(read), "note": note, "problems": tuple(problems)}


# --------------------------------------------------------------------------- the builder

class _Build:
    """Collects the answer for one client; every rule of §8 lives in one method."""

    def __init__(self, client: str, env: Mapping[str, str], ca_file: str | None, pyver: tuple[int, int]):
        self.client, self.env, self.ca_file, self.pyver = client, env, ca_file, pyver
        self.reasons: list[str] = []
        self.findings: list[Finding] = []
        self.cafile: str | None = None
        self.capath: str | None = None
        self.os_cafile: str | None = None
        self.os_capath: str | None = None
        self.extra: list[str] = []
        self.uses_os = False
        self.source = ""
        self.kind = "stdlib"
        self.pip_files: tuple[str, ...] = ()
        self.injected = _truststore_injected()
        self.certifi_path, self.certifi_version = _certifi()

    # -- small pieces ---------------------------------------------------------------------
    def var(self, name: str) -> str | None:
        """requests/httpx style: an empty value is unset."""
        return self.env.get(name) or None

    def point_at(self, path: str, *, allow_dir: bool) -> None:
        if allow_dir and os.path.isdir(path):
            self.capath = path
        else:
            self.cafile = path

    def ca_file_argument(self, reason: str, *, origin: str = "cafile", how: str | None = None) -> None:
        """The client is given ``ca_file`` (``origin`` names the parameter; ``reason`` says what it
        replaces): it is the store, and what is wrong with it is a finding. ``how`` is as for
        :meth:`check_location`; ``None``: an ssl context's ``cafile=``, which fails like httpx's."""
        self.source = "argument"
        self.point_at(self.ca_file, allow_dir=True)
        self.reasons.append(reason)
        if how is None:
            how = "httpx-dir" if os.path.isdir(self.ca_file) else "httpx-file"
        self.check_location(self.ca_file, origin, how=how)

    def os_store(self, why: str) -> None:
        """truststore on Linux: OpenSSL's default paths if they hold anything, else candidates."""
        self.uses_os = True
        if sys.platform in ("win32", "darwin"):  # pragma: no cover - the platform verifier
            self.reasons.append(f"{why}: the {('Windows' if sys.platform == 'win32' else 'macOS')} "
                                "certificate store, through the platform verifier")
            return
        d = _openssl_defaults(self.env)
        if d["cafile_ok"] or (d["capath_ok"] and _dir_has_hashed(d["capath"])):
            self.os_cafile = d["cafile"] if d["cafile_ok"] else None
            self.os_capath = d["capath"] if d["capath_ok"] else None
            self.reasons.append(f"{why}: OpenSSL's default paths, file {self.os_cafile or '(none)'} and "
                                f"directory {self.os_capath or '(none)'}"
                                + (" (SSL_CERT_FILE/SSL_CERT_DIR taken into account)"
                                   if d["file_set"] or d["dir_set"] else ""))
        else:
            for cand in _TRUSTSTORE_CANDIDATES:
                if os.path.isfile(cand):
                    self.os_cafile = cand
                    self.reasons.append(f"{why}: OpenSSL's default paths hold nothing, so truststore "
                                        f"falls back to {cand}")
                    break
            else:
                self.reasons.append(f"{why}: no system CA bundle was found (OpenSSL's default paths are "
                                    "empty and none of truststore's candidates exists)")

    def check_location(self, path: str, origin: str, *, how: str) -> None:
        """Findings for a file/dir a variable or argument points at.

        ``how`` says what the client does with a broken location: ``"requests"`` (OSError /
        SSLError at the first request), ``"httpx-file"``, ``"httpx-dir"``, ``"openssl"``
        (silently loads nothing).
        """
        ev = (f"{origin}={path}" if origin.isupper() or origin.startswith("PIP") else f"{origin}: {path}",
              f"client: {self.client}")
        if how == "openssl":
            return self._check_openssl(path, origin, ev)
        if not os.path.exists(path):
            if how == "requests":
                error = _REQUESTS_MISSING.format(path=path)
                when = "at the first HTTPS request"
            elif how == "httpx-file":
                error = "FileNotFoundError: [Errno 2] No such file or directory"
                when = "when the client is created"
            else:
                error = f"httpx.ConnectError: {_VERIFY_FAILS}"
                when = "at every HTTPS request (OpenSSL finds no certificate there)"
            self._unusable_location(
                "store_missing", f"{origin} points at {path}, which does not exist",
                f"{self.client} fails {when} with: {error}. Typical causes: a moved virtualenv, a bundle "
                "deleted by an image slimmer, a path from another machine (a Windows path in WSL).",
                ev, error,
                f"Point {origin} at an existing PEM bundle, or unset it "
                f"(unset {origin} / remove it from the configuration).")
            return
        if os.path.isdir(path):
            if how == "httpx-file":
                error = "IsADirectoryError: [Errno 21] Is a directory"
                self._unusable_location(
                    "store_is_directory", f"{origin} points at a directory, {path}",
                    f"httpx passes it as cafile= and fails when the client is created with: {error}.", ev, error,
                    f"Set SSL_CERT_DIR={path} instead (a c_rehash'ed directory), or point {origin} at a file.")
                return
            if not _dir_has_hashed(path):
                self._unusable_location(
                    "store_unhashed_directory",
                    f"{origin} points at {path}, a directory with no hashed certificate names",
                    "OpenSSL only finds certificates in a directory through <subject-hash>.N names (symbolic "
                    "links `openssl rehash` makes), so it loads nothing from this one and every verification "
                    f"fails with {_VERIFY_FAILS}.", ev, "no <hash>.N entries in the directory",
                    f"Run `{shell('openssl', 'rehash', path)}` (or c_rehash), or point {origin} at a PEM bundle file "
                    "(`certdoctor bundle --add CA.pem --out bundle.pem` makes one).")
            return
        exc = _try_load(path)
        if exc is None:
            return
        inner = f"{type(exc).__name__}({', '.join(repr(a) for a in exc.args)})"
        if how == "requests":
            error = ("requests.exceptions.SSLError: HTTPSConnectionPool(host='H', port=P): Max retries exceeded "
                     f"with url: / (Caused by SSLError({inner}))")
            when = "at the first HTTPS request"
        else:
            mod = type(exc).__module__
            error = f"{'' if mod == 'builtins' else mod + '.'}{type(exc).__name__}: {exc}"
            when = "when the client is created"
        rule, holds, fix = _what_is(path, origin)
        self._unusable_location(
            rule, f"{origin} points at {path}, which holds no usable certificate: {holds}",
            f"{self.client} fails {when} with: {error}. A CA file must hold PEM certificates "
            "(-----BEGIN CERTIFICATE----- blocks); certdoctor read what this one holds instead.", ev, error,
            fix)

    def check_variable(self, path: str, origin: str, *, how: str) -> None:
        """:meth:`check_location` for a variable whose finding (what it changes) was just added:
        when the location itself is broken, that finding says it all, so the variable is
        reported once (the broken location), not twice."""
        n = len(self.findings)
        self.check_location(path, origin, how=how)
        if n and len(self.findings) > n and self.findings[n - 1].code is Code.CA_BUNDLE_ENV:
            del self.findings[n - 1]

    def _uses(self, path: str) -> bool:
        """Does ``path`` name trust this client has anyway: the same file or directory, or one
        whose every certificate is in what the client loads (Debian's ``SSL_CERT_DIR=/etc/ssl/certs``
        next to ``REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt``)? Then ignoring it changes
        nothing."""
        if any(_same_file(path, p) for p in (self.cafile, self.capath, self.ca_file)):
            return True
        from cryptography.hazmat.primitives import serialization

        def ders(kind: str, where: str) -> set[bytes]:
            return {c.public_bytes(serialization.Encoding.DER) for c in _load_location(kind, where)}

        theirs = ders("dir" if os.path.isdir(path) else "file", path)
        if not theirs:
            return False
        ours: set[bytes] = set()
        for p in (self.cafile, self.capath):
            if p:
                ours |= ders("dir" if os.path.isdir(p) else "file", p)
        return theirs <= ours

    def _unusable_location(self, rule: str, summary: str, explanation: str, ev: tuple[str, ...], error: str,
                           fix: str) -> None:
        """The ERROR of a location the client cannot use (``rule``: one of
        :data:`STORE_UNUSABLE_RULES`): ``ev`` names it, ``error`` is what the client fails with
        (the last line of the evidence)."""
        self.findings.append(_finding(Severity.ERROR, summary, explanation, ev + (f"error: {error}",), fix,
                                      rule=rule))

    def _check_openssl(self, path: str, origin: str, ev: tuple[str, ...]) -> None:
        """SSL_CERT_FILE/DIR as OpenSSL reads them: a broken one silently loads nothing."""
        is_dir = origin == "SSL_CERT_DIR"
        d = _openssl_defaults(self.env)
        other_ok = (d["capath_ok"] and _dir_has_hashed(d["capath"])) if not is_dir else d["cafile_ok"] and _try_load(d["cafile"]) is None
        rule, fix = None, ""
        if is_dir:
            bad = None if not path else (None if os.path.isdir(path) and _dir_has_hashed(path) else
                                         ("does not exist" if not os.path.exists(path) else
                                          "has no <hash>.N certificate names"))
            rule = None if bad is None else ("store_missing" if bad == "does not exist" else "store_unhashed_directory")
        else:
            if not path:
                bad = "is empty (OpenSSL then loads no file at all)"
                rule = "store_missing"
            elif not os.path.exists(path):
                bad, rule = "does not exist", "store_missing"
            elif os.path.isdir(path):
                bad, rule = "is a directory", "store_is_directory"
            else:
                exc = _try_load(path)
                bad = None
                if exc is not None:
                    rule, holds, fix = _what_is(path, origin)
                    bad = f"holds no usable certificate: {holds} ({exc})"
        if bad is None:
            return
        other = "SSL_CERT_DIR/the default directory" if not is_dir else "SSL_CERT_FILE/the default file"
        sev = Severity.WARNING if other_ok else Severity.ERROR
        consequence = (f"OpenSSL silently loads nothing from it; {other} still provides certificates, so "
                       "only what is there is trusted" if other_ok else
                       f"OpenSSL silently loads nothing from it and {other} holds nothing either, so every "
                       f"verification fails with {_VERIFY_FAILS}")
        self.findings.append(_finding(
            sev, f"{origin}={path!r} {bad}",
            f"{self.client} reads {origin} through OpenSSL: {consequence}.",
            ev + (f"effect: {'partial store' if other_ok else 'empty store'}",),
            (fix + " Or: " if "certdoctor convert" in fix else "")
            + f"Point {origin} at a valid {'hashed directory' if is_dir else 'PEM bundle'}, or unset it "
            "(the OS bundle is then used).", rule=rule))

    def ignored(self, names: tuple[str, ...], why: str, severity: Severity = Severity.INFO,
                fix: str = "") -> None:
        for name in names:
            if self.env.get(name):
                self.reasons.append(f"{name} is set and ignored by {self.client} ({why})")
                if self.ca_file:
                    continue  # the client is given its store explicitly: the variable never comes into play
                if self._uses(self.env[name]):
                    # it names trust the client has anyway: ignoring it changes nothing
                    self.reasons.append(f"{name} names {self.env[name]}, whose certificates {self.client} "
                                        "trusts anyway")
                    continue
                self.findings.append(_finding(
                    severity, f"{name} is set but {self.client} ignores it",
                    f"{self.client} does not read {name}: {why}.",
                    (f"{name}={self.env[name]}", f"client: {self.client}"),
                    fix or f"Nothing to do for {self.client}; other clients may read it."))

    # -- the clients ------------------------------------------------------------------------
    def requests(self) -> None:
        self.kind = "urllib3"
        rcb, ccb = self.var("REQUESTS_CA_BUNDLE"), self.var("CURL_CA_BUNDLE")
        for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
            if name in self.env and not self.env[name]:
                self.reasons.append(f"{name} is set to an empty string, which requests treats as unset")
        if self.ca_file:
            self.ca_file_argument(f"verify={self.ca_file!r} per request: requests uses it instead of certifi "
                                  "and the environment", origin="verify", how="requests")
            for name, val in (("REQUESTS_CA_BUNDLE", rcb), ("CURL_CA_BUNDLE", ccb)):
                if val and _same_file(val, self.ca_file):
                    break  # the variable names the verify= file itself: nothing changes
                if val:
                    self.findings.append(_finding(
                        Severity.INFO, f"{name} is set; a per-request verify= wins, session.verify would not",
                        f"requests applies {name} whenever the per-request verify is None or True, before it "
                        "looks at session.verify; a verify= passed to get()/request() escapes it, "
                        "session.verify = path does not (psf/requests#3829).",
                        (f"{name}={val}", f"verify={self.ca_file}"),
                        "Keep passing verify= per request, or set session.trust_env = False "
                        "(which also drops proxy variables and .netrc)."))
                    break
        elif rcb or ccb:
            name, path = ("REQUESTS_CA_BUNDLE", rcb) if rcb else ("CURL_CA_BUNDLE", ccb)
            self.source = name
            self.point_at(path, allow_dir=True)
            self.reasons.append(f"{name}={path} replaces certifi for every requests call without a "
                                "per-request verify=")
            if rcb and ccb:
                self.reasons.append(f"CURL_CA_BUNDLE={ccb} is shadowed: REQUESTS_CA_BUNDLE wins when both are set")
            same = _same_file(path, self.certifi_path)
            self.findings.append(_finding(
                Severity.INFO if same else Severity.WARNING,
                f"{name} replaces certifi for requests, and beats session.verify",
                f"requests uses {path} instead of certifi ({self.certifi_path}) for every request that doesn't "
                "pass verify= itself. It is applied before session.verify, so `session.verify = 'ca.pem'` is "
                "silently ignored, and `session.verify = False` still verifies (psf/requests#3829); pip's "
                "--cert/PIP_CERT loses to it too. It replaces certifi, it does not add to it"
                + (" (here it is certifi's own file)." if same else "."),
                (f"{name}={path}",) + ((f"CURL_CA_BUNDLE={ccb} (shadowed)",) if rcb and ccb else ()),
                f"If intended, make sure {path} also holds the public roots you need. Otherwise unset "
                f"{name}; in code, pass verify= per request or set session.trust_env = False (which also "
                "drops proxy variables and .netrc)."))
            self.check_variable(path, name, how="requests")
        else:
            self.source = "certifi"
            if self.certifi_path:
                self.point_at(self.certifi_path, allow_dir=False)
                self.reasons.append(f"no REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE: requests uses certifi "
                                    f"{self.certifi_version} ({self.certifi_path})")
                self.check_location(self.certifi_path, "certifi", how="requests")
        self.ignored(("SSL_CERT_FILE", "SSL_CERT_DIR"),
                     "requests always passes certifi or REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE to OpenSSL, so "
                     "OpenSSL's own variables never come into play",
                     Severity.WARNING,
                     "Set REQUESTS_CA_BUNDLE to the same bundle as well (or use truststore), if requests "
                     "should trust it.")
        self.injected_note()

    def injected_note(self) -> None:
        if self.injected:
            self.os_store("truststore.inject_into_ssl() is active in this process, so ssl.SSLContext "
                          "also consults the OS store")

    def httpx(self) -> None:
        self.kind = "stdlib"
        sfile, sdir = self.var("SSL_CERT_FILE"), self.var("SSL_CERT_DIR")
        if self.ca_file:
            self.ca_file_argument(f"verify=ssl.create_default_context(cafile={self.ca_file!r}): SSL_CERT_FILE "
                                  "and SSL_CERT_DIR are not read")
            self.ignored(("SSL_CERT_FILE", "SSL_CERT_DIR"), "an explicit verify=<context> wins")
        elif sfile:
            self.source = "SSL_CERT_FILE"
            self.cafile = sfile
            self.reasons.append(f"SSL_CERT_FILE={sfile}: httpx (trust_env=True) uses it instead of certifi")
            if sdir:
                self.reasons.append(f"SSL_CERT_DIR={sdir} is ignored by httpx: SSL_CERT_FILE wins")
            self._httpx_override("SSL_CERT_FILE", sfile)
            self.check_variable(sfile, "SSL_CERT_FILE", how="httpx-file")
        elif sdir:
            self.source = "SSL_CERT_DIR"
            self.capath = sdir
            self.reasons.append(f"SSL_CERT_DIR={sdir}: httpx (trust_env=True) uses it instead of certifi")
            self._httpx_override("SSL_CERT_DIR", sdir)
            self.check_variable(sdir, "SSL_CERT_DIR", how="httpx-dir")
        else:
            self.source = "certifi"
            self.cafile = self.certifi_path
            self.reasons.append(f"httpx uses certifi {self.certifi_version} ({self.certifi_path})")
        self.ignored(("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"), "those are requests' variables")
        self.injected_note()

    def _httpx_override(self, name: str, path: str) -> None:
        same = _same_file(path, self.certifi_path)
        self.findings.append(_finding(
            Severity.INFO if same else Severity.WARNING, f"{name} replaces certifi for httpx",
            f"httpx 0.28 reads {name} when trust_env=True (the default) and uses it instead of certifi; "
            "its 0.28 documentation says the opposite, and httpx 1.0 may drop it "
            "(encode/httpx#3663). trust_env=False ignores it.",
            (f"{name}={path}",),
            "Be explicit and future-proof: httpx.Client(verify=ssl.create_default_context(cafile=bundle)) "
            "or verify=truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)."))

    def urllib(self) -> None:
        self.kind = "stdlib"
        if self.ca_file:
            self.ca_file_argument(f"ssl.create_default_context(cafile={self.ca_file!r}): the default paths and "
                                  "SSL_CERT_FILE/SSL_CERT_DIR are not loaded")
        else:
            d = _openssl_defaults(self.env)
            self.source = ("SSL_CERT_FILE" if d["file_set"] else "SSL_CERT_DIR" if d["dir_set"]
                           else "openssl-default")
            self.cafile, self.capath = d["cafile"] or None, d["capath"] or None
            self.uses_os = ((not d["file_set"] and d["cafile_ok"]) or
                            (not d["dir_set"] and d["capath_ok"] and _dir_has_hashed(d["capath"])) or
                            sys.platform == "win32")
            self.reasons.append(f"urllib uses ssl.create_default_context(): OpenSSL's default file "
                                f"{d['cafile']} and directory {d['capath']}, both loaded")
            for name, key, default in (("SSL_CERT_FILE", "cafile", d["default_cafile"]),
                                       ("SSL_CERT_DIR", "capath", d["default_capath"])):
                if name not in self.env:
                    continue
                val = self.env[name]
                self.reasons.append(f"{name}={val!r} replaces OpenSSL's default {default}")
                same = _same_file(val, default)
                self.findings.append(_finding(
                    Severity.INFO if same else Severity.WARNING,
                    f"{name} replaces OpenSSL's default {'file' if key == 'cafile' else 'directory'} for urllib",
                    f"OpenSSL reads {name} in place of {default}" + (
                        " (the same file here)." if same else
                        "; the other default location is still loaded, so OS certificates found there stay "
                        "trusted."),
                    (f"{name}={val}", f"default: {default}"),
                    f"If intended, nothing to do; otherwise unset {name}."))
                self.check_variable(val, name, how="openssl")
            if not (d["cafile_ok"] or (d["capath_ok"] and _dir_has_hashed(d["capath"]))) and not any(
                    f.severity is Severity.ERROR for f in self.findings):
                self.findings.append(_finding(
                    Severity.ERROR, "urllib's default trust store is empty here",
                    f"OpenSSL's default file {d['cafile']} does not exist and directory {d['capath']} holds "
                    f"no certificates, so every urllib/aiohttp verification fails with {_VERIFY_FAILS} "
                    "(a container image without ca-certificates, typically).",
                    (f"cafile: {d['cafile']}", f"capath: {d['capath']}"),
                    "Install the OS CA bundle (apt-get install ca-certificates / apk add ca-certificates), or "
                    "pass cafile=certifi.where()."))
        self.ignored(("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"), "those are requests' variables")
        self.injected_note()

    def pip(self) -> None:
        settings = _pip_settings(self.env)
        self.pip_files = settings["files"]
        if settings["note"]:
            self.reasons.append(settings["note"])
        elif self.pip_files:
            self.reasons.append("pip configuration read from " + ", ".join(self.pip_files))
        for problem in settings["problems"]:
            self.reasons.append(f"pip cannot parse its configuration: {problem}")
        self.certifi_path, self.certifi_version = _pip_certifi()
        if not self.certifi_path:
            self.certifi_path, self.certifi_version = _certifi()
            self.reasons.append("pip is not installed in this interpreter: its vendored certifi could not be "
                                "read, the installed certifi is shown instead")
        legacy = bool(settings["use_deprecated"]) and "legacy-certs" in settings["use_deprecated"][0].replace(",", " ").split()
        cert: tuple[str, str] | None = None
        if self.ca_file:
            cert = (self.ca_file, "--cert")
        elif settings["cert"]:
            value, origin = settings["cert"]
            cert = (os.path.expanduser(value), origin)
        rcb, ccb = self.var("REQUESTS_CA_BUNDLE"), self.var("CURL_CA_BUNDLE")
        env_name, env_path = (("REQUESTS_CA_BUNDLE", rcb) if rcb else ("CURL_CA_BUNDLE", ccb) if ccb else (None, None))
        if env_name and env_path:
            verify, source = env_path, env_name
            self.reasons.append(f"{env_name}={env_path} is applied by pip's requests before pip's own setting")
            if cert:
                same = _same_file(env_path, cert[0])
                self.findings.append(_finding(
                    Severity.INFO if same else Severity.WARNING, f"{env_name} overrides pip's cert ({cert[0]})",
                    f"pip sets session.verify to its cert ({cert[1]}), but requests applies {env_name} first, so "
                    f"pip uses {env_path} and ignores {cert[0]} (pypa/pip#10147)"
                    + (": the same file here, so no harm today." if same else "."),
                    (f"{env_name}={env_path}", f"pip cert: {cert[0]} from {cert[1]}"),
                    f"Point pip's cert and {env_name} at the same combined bundle, or unset {env_name}."))
            else:
                self.findings.append(_finding(
                    Severity.WARNING if legacy else Severity.INFO,
                    f"{env_name} is used by pip",
                    f"pip's requests picks up {env_name}={env_path}" + (
                        ", which replaces pip's certifi (legacy-certs)." if legacy else
                        "; it is loaded on top of the OS store and pip's certifi."),
                    (f"{env_name}={env_path}",),
                    f"If pip should not use it, unset {env_name}."))
            self.check_variable(env_path, env_name, how="requests")
        elif cert:
            verify, source = cert[0], ("argument" if cert[1] == "--cert" else
                                       "PIP_CERT" if "PIP_CERT" in cert[1] else "pip.conf")
            self.reasons.append(f"pip's cert is {cert[0]} (from {cert[1]})")
            self.check_location(cert[0], "PIP_CERT" if source == "PIP_CERT" else
                              ("--cert" if source == "argument" else f"pip.conf cert ({cert[1]})"), how="requests")
        else:
            verify, source = None, ("certifi" if legacy else "truststore")
        if legacy:
            self.kind = "urllib3"
            self.reasons.append("pip runs with --use-deprecated=legacy-certs "
                                f"(from {settings['use_deprecated'][1]}): no truststore, only one bundle")
            path = verify or self.certifi_path
            if path:
                self.point_at(path, allow_dir=True)
            if not verify:
                self.reasons.append(f"pip uses its vendored certifi {self.certifi_version} ({self.certifi_path})")
            self.ignored(("SSL_CERT_FILE", "SSL_CERT_DIR"), "legacy-certs hands pip's bundle to urllib3 directly")
        else:
            self.kind = "truststore"
            self.os_store("pip >= 24.2 verifies with truststore (the OS store)")
            if self.certifi_path:
                self.extra.append(self.certifi_path)
                self.reasons.append(f"pip's truststore context also loads its vendored certifi "
                                    f"{self.certifi_version} ({self.certifi_path})")
            if verify and not _same_file(verify, self.certifi_path):
                self.point_at(verify, allow_dir=True)
                self.reasons.append(f"{verify} is loaded on top (urllib3 adds it to pip's context)")
            if self.env.get("SSL_CERT_FILE") or self.env.get("SSL_CERT_DIR"):
                self.reasons.append("SSL_CERT_FILE/SSL_CERT_DIR are read by truststore on Linux through "
                                    "OpenSSL's default paths (they replace the OS bundle's location)")
        self.source = source


# --------------------------------------------------------------------------- public API

def effective_trust(client: str = "requests", *, ca_file: str | os.PathLike[str] | None = None,
                    environ: Mapping[str, str] | None = None,
                    python: str | tuple[int, ...] | None = None) -> EffectiveTrust:
    """Which CA file/dir ``client`` would use in ``environ`` (default ``os.environ``), and why.

    ``client`` is ``"requests"``, ``"httpx"``, ``"urllib"`` or ``"pip"``. ``ca_file`` is an
    explicit per-call bundle (requests ``verify=``, httpx/urllib ``cafile=``, pip
    ``--cert``). ``python`` (e.g. ``"3.13"``) says which Python's context flags to report and
    build; default: the running one.

        >>> effective_trust("httpx", environ={"SSL_CERT_FILE": "/etc/ssl/certs/ca-certificates.crt"}).source
        'SSL_CERT_FILE'
    """
    if client not in CLIENTS:
        raise UsageError(f"unknown client {client!r}", f"choose one of: {', '.join(CLIENTS)}")
    env: Mapping[str, str] = os.environ if environ is None else environ
    pyver = _python_version(python)
    b = _Build(client, env, os.fspath(ca_file) if ca_file is not None else None, pyver)
    getattr(b, client)()
    strict = _strict_for(client, b.kind, pyver)
    if strict:
        b.reasons.append(f"Python {pyver[0]}.{pyver[1]}: the context carries VERIFY_X509_STRICT and "
                         "VERIFY_X509_PARTIAL_CHAIN")
    elif client == "pip" and b.kind == "truststore" and pyver >= _STRICT_313:
        b.reasons.append("pip's truststore context does not get Python 3.13's strict flags")
    shown = tuple((name, env[name]) for name in CA_VARIABLES if name in env)
    return EffectiveTrust(
        client=client, cafile=b.cafile, capath=b.capath, uses_os_store=b.uses_os, source=b.source,
        reasons=tuple(b.reasons), env=shown, certifi_path=b.certifi_path, certifi_version=b.certifi_version,
        findings=tuple(b.findings), os_cafile=b.os_cafile, os_capath=b.os_capath, extra_cafiles=tuple(b.extra),
        truststore_injected=b.injected, context_kind=b.kind, strict=strict, python=f"{pyver[0]}.{pyver[1]}",
        pip_config_files=b.pip_files,
    )


# --------------------------------------------------------------------------- parsing anchors

_CACHE: "OrderedDict[tuple, tuple]" = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_MAX = 32


def _cache_get(key: tuple, load) -> tuple:
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
            return hit
    value = load()
    with _CACHE_LOCK:
        _CACHE[key] = value
        while len(_CACHE) > _CACHE_MAX:
            _CACHE.popitem(last=False)
    return value


def _read(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def _load_location(kind: str, path: str) -> "tuple[x509.Certificate, ...]":
    """A file or a hashed directory, through the (path, mtime, size) cache; missing → ()."""
    try:
        if kind == "file":
            st = os.stat(path)
            key = ("file", os.path.realpath(path), st.st_mtime_ns, st.st_size)
            return _cache_get(key, lambda: openssl_certificates(_read(path)))
        entries = []
        for name in sorted(os.listdir(path)):
            if _HASHED_RE.match(name):
                try:
                    st = os.stat(os.path.join(path, name))
                except OSError:
                    continue
                entries.append((name, st.st_mtime_ns, st.st_size))
        key = ("dir", os.path.realpath(path), tuple(entries))

        def load_dir() -> tuple:
            certs = []
            for name, _m, _s in entries:
                try:
                    certs.extend(openssl_certificates(_read(os.path.join(path, name))))
                except OSError:
                    continue
            return tuple(certs)
        return _cache_get(key, load_dir)
    except OSError:
        return ()


def _windows_roots() -> tuple:  # pragma: no cover - Windows only
    import ssl

    from cryptography import x509

    out = []
    for der, encoding, trust in ssl.enum_certificates("ROOT"):
        if encoding != "x509_asn":
            continue
        if trust is not True and "1.3.6.1.5.5.7.3.1" not in trust:
            continue
        try:
            out.append(x509.load_der_x509_certificate(der))
        except Exception:
            continue
    return tuple(out)


def clear_cache() -> None:
    """Forget every parsed location (tests; long-running monitors after a bundle update)."""
    with _CACHE_LOCK:
        _CACHE.clear()


__all__ = [
    "CLIENTS",
    "CA_VARIABLES",
    "STORE_UNUSABLE_RULES",
    "EffectiveTrust",
    "effective_trust",
    "clear_cache",
]
