"""What ``certdoctor renew`` renews: a TOML file of ``[defaults]`` and ``[[certificate]]`` entries.

    >>> cfg = parse_config('''
    ... [defaults]
    ... directory = "https://acme.example/dir"
    ... [[certificate]]
    ... name = "web"
    ... domains = ["example.org", "www.example.org"]
    ... install = { lineage = "/etc/certdoctor" }
    ... ''', "renew.toml")
    >>> cfg.certificates[0].challenge.type, cfg.certificates[0].key.reuse
    ('http-01', False)

docs/RENEW.md has the whole reference. Every entry key may also stand in ``[defaults]`` (except
``name``, ``domains``, ``ips``, ``install`` and ``verify``, which belong to one certificate); an
entry's own value wins, tables (``account``, ``challenge``, ``key``, ``timeouts``) are merged key by
key. Top-level ``state = PATH`` names the attempt record (default
``$XDG_DATA_HOME/certdoctor/renew.sqlite``).

Every problem is one :class:`~certdoctor.errors.UsageError` naming the file, the line (tomllib's
for a syntax error; the entry's or the key's line otherwise) and the key path
(``renew.toml:14: [[certificate]] #2 (web): challenge.listen: …``). Commands (``deploy_hook``,
``challenge.hook``) are argv lists run without a shell; a string is split like a shell would
(:func:`shlex.split`) but still run without one: no ``|``, ``&&``, ``$VAR`` or globbing (write
``["sh", "-c", "…"]`` for that).
"""

from __future__ import annotations

import ipaddress
import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from certdoctor import policy
from certdoctor._toml import loads as toml_loads
from certdoctor.errors import UsageError

CHALLENGE_TYPES = ("http-01", "dns-01")
#: keys of a ``[[certificate]]`` entry
CERT_KEYS = ("name", "domains", "ips", "directory", "ca_file", "account", "challenge", "key", "profile",
             "install", "deploy_hook", "verify", "servername", "timeouts")
#: keys ``[defaults]`` may set (every one an entry may override)
DEFAULT_KEYS = ("directory", "ca_file", "account", "challenge", "key", "profile", "deploy_hook", "servername",
                "timeouts")
ACCOUNT_KEYS = ("key", "contact", "eab_kid", "eab_hmac_key", "eab_hmac_key_file")
CHALLENGE_KEYS = ("type", "listen", "webroot", "hook", "timeout")
KEY_KEYS = ("type", "reuse")
INSTALL_KEYS = ("cert", "chain", "fullchain", "key", "lineage")
TIMEOUT_KEYS = ("acme", "order", "hook", "verify")
VERIFY_KEYS = ("endpoint", "servername")
TOP_KEYS = ("state", "defaults", "certificate")
KEY_TYPES_FALLBACK = ("ec256", "ec384", "rsa2048", "rsa3072", "rsa4096")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


class _Bad(Exception):
    """A bad value at ``path`` (the key path inside the entry); located and worded by the loader."""

    def __init__(self, path: str, message: str, hint: str) -> None:
        super().__init__(message)
        self.path, self.message, self.hint = path, message, hint


# --------------------------------------------------------------------------- the parsed config

@dataclass(frozen=True, slots=True)
class Account:
    """The ACME account: its key file (created 0600 when missing), contacts, External Account
    Binding (``eab_hmac_key`` is a secret: never shown)."""

    key: Path | None = None
    contact: tuple[str, ...] = ()
    eab_kid: str | None = None
    eab_hmac_key: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Challenge:
    """``http-01`` on certdoctor's own server (``listen``) or written to a ``webroot``; ``dns-01``
    through ``hook`` (an argv)."""

    type: str = "http-01"
    listen: str | None = None
    webroot: Path | None = None
    hook: tuple[str, ...] = ()
    timeout: float = policy.RENEW_HOOK_TIMEOUT_SECONDS


@dataclass(frozen=True, slots=True)
class KeyPolicy:
    type: str = "ec256"
    #: reuse the installed key (``True``) or make a new one each renewal (``False``, the default)
    reuse: bool = False


@dataclass(frozen=True, slots=True)
class InstallTo:
    """Flat files (any of ``cert``/``chain``/``fullchain``/``key``) or a certbot-like ``lineage``
    root (``root/live/NAME/…`` → ``root/archive/NAME/…N.pem``)."""

    cert: Path | None = None
    chain: Path | None = None
    fullchain: Path | None = None
    key: Path | None = None
    lineage: Path | None = None

    def destination(self, name: str):
        """The :mod:`certdoctor.renew.install` destination (``Files`` or ``Lineage``)."""
        from certdoctor.renew import install

        if self.lineage is not None:
            return install.Lineage(self.lineage, name)
        return install.Files(self.cert, self.chain, self.fullchain, self.key)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A ``verify`` endpoint: probed after the deploy hook until it serves the new leaf."""

    host: str
    port: int
    servername: str | None

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Timeouts:
    acme: float = policy.RENEW_ACME_TIMEOUT_SECONDS
    order: float = policy.RENEW_ORDER_TIMEOUT_SECONDS
    hook: float = policy.RENEW_HOOK_TIMEOUT_SECONDS
    verify: float = policy.RENEW_VERIFY_TIMEOUT_SECONDS


@dataclass(frozen=True, slots=True)
class CertConfig:
    """One ``[[certificate]]``. ``origin`` is where it was written (``renew.toml:12``)."""

    name: str
    domains: tuple[str, ...]
    directory: str
    install: InstallTo
    ips: tuple[str, ...] = ()
    ca_file: str | None = None
    account: Account = Account()
    challenge: Challenge = Challenge()
    key: KeyPolicy = KeyPolicy()
    profile: str | None = None
    deploy_hook: tuple[str, ...] = ()
    verify: tuple[Endpoint, ...] = ()
    timeouts: Timeouts = Timeouts()
    origin: str = ""

    @property
    def identifiers(self) -> tuple[str, ...]:
        return (*self.domains, *self.ips)


@dataclass(frozen=True, slots=True)
class RenewConfig:
    path: str
    certificates: tuple[CertConfig, ...]
    #: the attempt record (SQLite); ``None``: :func:`certdoctor.renew.record.default_path`
    state: Path | None = None

    def select(self, names) -> tuple[CertConfig, ...]:
        """The certificates named (all when ``names`` is empty); an unknown name is a UsageError."""
        names = tuple(names)
        if not names:
            return self.certificates
        known = {c.name: c for c in self.certificates}
        missing = [n for n in names if n not in known]
        if missing:
            raise UsageError(f"{self.path}: no certificate named {', '.join(map(repr, missing))}",
                             f"Known names: {', '.join(known) or '(none)'}.")
        return tuple(known[n] for n in dict.fromkeys(names))


# --------------------------------------------------------------------------- values

def _table(value: Any, path: str, keys: tuple[str, ...], example: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _Bad(path, f"must be a table, not {_show(value)}", f"e.g. {path} = {example}")
    for k in value:
        if k not in keys:
            raise _Bad(f"{path}.{k}", "unknown key", f"{path} takes: {', '.join(keys)}.")
    return value


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _str(value: Any, path: str, example: str = '"…"') -> str:
    if not isinstance(value, str) or not value.strip() or "\x00" in value:
        raise _Bad(path, f"must be a non-empty string, not {_show(value)}", f"e.g. {path.split('.')[-1]} = {example}")
    return value


def _bool(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise _Bad(path, f"must be true or false, not {_show(value)}", f"e.g. {path.split('.')[-1]} = true")
    return value


def _seconds(value: Any, path: str) -> float:
    lo, hi = policy.RENEW_TIMEOUT_MIN_SECONDS, policy.RENEW_TIMEOUT_MAX_SECONDS
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (lo <= value <= hi):
        raise _Bad(path, f"must be seconds from {lo:g} to {hi:g}, not {_show(value)}",
                   f"e.g. {path.split('.')[-1]} = 60")
    return float(value)


def _path(value: Any, path: str, base: Path) -> Path:
    p = Path(os.path.expanduser(_str(value, path, '"/etc/ssl/example.pem"')))
    return p if p.is_absolute() else base / p


def _argv(value: Any, path: str) -> tuple[str, ...]:
    """A command: an argv list, or a string split like a shell would (and run without one)."""
    if isinstance(value, str):
        try:
            words = shlex.split(value)
        except ValueError as exc:
            raise _Bad(path, f"cannot be split into words ({exc})",
                       f'Write it as a list: {path.split(".")[-1]} = ["systemctl", "reload", "nginx"].') from None
    elif isinstance(value, list) and all(isinstance(w, str) for w in value):
        words = list(value)
    else:
        raise _Bad(path, f"must be a command (a list of strings), not {_show(value)}",
                   f'e.g. {path.split(".")[-1]} = ["systemctl", "reload", "nginx"]')
    if not words or not words[0] or any("\x00" in w for w in words):
        raise _Bad(path, "must name a program to run", f'e.g. {path.split(".")[-1]} = ["systemctl", "reload", "nginx"]')
    return tuple(words)


def _host_port(text: Any, path: str, default_port: int | None) -> tuple[str, int]:
    text = _str(text, path, '"127.0.0.1:443"')
    m = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\](?::(\d{1,5}))?|([^\s:\[\]/]+)(?::(\d{1,5}))?", text.strip())
    if not m:
        raise _Bad(path, f"{text!r} is not host:port", 'e.g. "127.0.0.1:443" or "[::1]:443"')
    host = m.group(1) or m.group(3)
    port_text = m.group(2) or m.group(4)
    if port_text is None:
        if default_port is None:
            raise _Bad(path, f"{text!r} has no port", 'e.g. "127.0.0.1:80"')
        port = default_port
    else:
        port = int(port_text)
    if not 0 <= port <= 65535 or (port == 0 and default_port is not None):
        raise _Bad(path, f"port {port} is out of range", "A port is 1 to 65535.")
    if m.group(1):
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise _Bad(path, f"{host!r} is not an IPv6 address", 'e.g. "[::1]:443"') from None
    return host, port


def _domain(value: Any, path: str) -> str:
    """A DNS name as the CSR will hold it (:func:`certdoctor.renew.csr.normalise_name` when present)."""
    name = _str(value, path, '"example.org"')
    try:
        from certdoctor.renew.csr import normalise_name
    except ImportError:  # pragma: no cover - renew/csr.py not merged yet
        normalise_name = None
    if normalise_name is not None:
        try:
            return normalise_name(name)
        except UsageError as exc:
            message = exc.message.split(": ", 1)[1] if exc.message.startswith("--name ") else exc.message
            raise _Bad(path, f"{name!r}: {message}", 'A DNS name such as example.org or *.example.org (IP addresses '
                       'go in ips): e.g. domains = ["example.org", "www.example.org"]') from None
    low = name.strip().rstrip(".").lower()
    labels = low.split(".")
    if low.startswith("*."):
        labels = labels[1:]
    if not labels or not all(_LABEL.fullmatch(label) for label in labels) or len(low) > 253:
        raise _Bad(path, f"{name!r} is not a DNS name", 'e.g. domains = ["example.org", "www.example.org"]')
    return low


def _ip(value: Any, path: str) -> str:
    text = _str(value, path, '"192.0.2.1"')
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        raise _Bad(path, f"{text!r} is not an IP address", 'e.g. ips = ["192.0.2.1"]') from None


def _list(value: Any, path: str, example: str) -> list[Any]:
    if not isinstance(value, list):
        raise _Bad(path, f"must be a list, not {_show(value)}", f"e.g. {path} = {example}")
    return value


def _key_types() -> tuple[str, ...]:
    try:
        from certdoctor.renew.keys import KEY_TYPES
    except ImportError:  # pragma: no cover - renew/keys.py not merged yet
        return KEY_TYPES_FALLBACK
    return tuple(KEY_TYPES)


# --------------------------------------------------------------------------- one entry

def _merge(defaults: Mapping[str, Any], entry: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(defaults)
    for k, v in entry.items():
        if k in ("account", "challenge", "key", "timeouts") and isinstance(v, Mapping) \
                and isinstance(merged.get(k), Mapping):
            merged[k] = {**merged[k], **v}
        else:
            merged[k] = v
    return merged


def _certificate(raw: Mapping[str, Any], base: Path, origin: str) -> CertConfig:
    for k in raw:
        if k not in CERT_KEYS:
            raise _Bad(k, "unknown key", f"A [[certificate]] takes: {', '.join(CERT_KEYS)}.")
    if "name" not in raw:
        raise _Bad("name", "is missing", 'Every [[certificate]] needs a name: name = "web".')
    name = _str(raw["name"], "name", '"web"')
    if not _NAME.fullmatch(name):
        raise _Bad("name", f"{name!r} must be 1-64 letters, digits, '.', '_' or '-' (it names files)",
                   'e.g. name = "example.org"')
    domains = tuple(dict.fromkeys(_domain(d, f"domains[{i}]")
                                  for i, d in enumerate(_list(raw.get("domains", []), "domains", '["example.org"]'))))
    ips = tuple(dict.fromkeys(_ip(a, f"ips[{i}]")
                              for i, a in enumerate(_list(raw.get("ips", []), "ips", '["192.0.2.1"]'))))
    if not domains and not ips:
        raise _Bad("domains", "is missing or empty (a certificate needs at least one name)",
                   'e.g. domains = ["example.org", "www.example.org"]')
    if "directory" not in raw:
        raise _Bad("directory", "is missing (the ACME directory URL)",
                   'e.g. directory = "https://acme-v02.api.letsencrypt.org/directory" (here or in [defaults]).')
    directory = _str(raw["directory"], "directory", '"https://acme.example/directory"')
    if not re.fullmatch(r"https://[^\s/?#]+(/[^\s]*)?", directory):
        raise _Bad("directory", f"{directory!r} is not an https:// URL",
                   "ACME is spoken over TLS only: give the directory's https:// URL.")
    ca_file = None
    if raw.get("ca_file") is not None:
        ca_file = str(_path(raw["ca_file"], "ca_file", base))
    account = _account(raw.get("account", {}), base)
    challenge = _challenge(raw.get("challenge", {}), base)
    key = _key(raw.get("key", {}))
    profile = _str(raw["profile"], "profile", '"tlsserver"') if "profile" in raw else None
    if "install" not in raw:
        raise _Bad("install", "is missing (where the certificate goes)",
                   'e.g. install = { lineage = "/etc/certdoctor" } or '
                   'install = { fullchain = "/etc/ssl/web.pem", key = "/etc/ssl/web.key" }')
    install = _install(raw["install"], base)
    hook = _argv(raw["deploy_hook"], "deploy_hook") if raw.get("deploy_hook") not in (None, []) else ()
    servername = _str(raw["servername"], "servername", '"example.org"') if "servername" in raw else None
    verify = tuple(_endpoint(v, f"verify[{i}]", servername, domains)
                   for i, v in enumerate(_list(raw.get("verify", []), "verify", '["127.0.0.1:443"]')))
    timeouts = _timeouts(raw.get("timeouts", {}))
    if challenge.type == "http-01" and challenge.listen is None and challenge.webroot is None:
        challenge = Challenge("http-01", listen=policy.RENEW_HTTP01_LISTEN, timeout=challenge.timeout)
    return CertConfig(name=name, domains=domains, ips=ips, directory=directory, ca_file=ca_file, account=account,
                      challenge=challenge, key=key, profile=profile, install=install, deploy_hook=hook, verify=verify,
                      timeouts=timeouts, origin=origin)


def _account(value: Any, base: Path) -> Account:
    t = _table(value, "account", ACCOUNT_KEYS, '{ key = "/etc/certdoctor/account.key" }')
    key = _path(t["key"], "account.key", base) if "key" in t else None
    contact_raw = t.get("contact", [])
    if isinstance(contact_raw, str):
        contact_raw = [contact_raw]
    contacts = []
    for i, c in enumerate(_list(contact_raw, "account.contact", '["mailto:ops@example.org"]')):
        c = _str(c, f"account.contact[{i}]", '"mailto:ops@example.org"')
        if not re.fullmatch(r"mailto:[^\s@]+@[^\s@]+", c):
            if re.fullmatch(r"[^\s@:]+@[^\s@]+", c):
                c = "mailto:" + c
            else:
                raise _Bad(f"account.contact[{i}]", f"{c!r} is not a mailto: address",
                           'e.g. contact = ["mailto:ops@example.org"]')
        contacts.append(c)
    kid = _str(t["eab_kid"], "account.eab_kid") if "eab_kid" in t else None
    if "eab_hmac_key" in t and "eab_hmac_key_file" in t:
        raise _Bad("account.eab_hmac_key_file", "and eab_hmac_key are both given", "Keep one of the two.")
    hmac = None
    if "eab_hmac_key" in t:
        hmac = _str(t["eab_hmac_key"], "account.eab_hmac_key", '"(base64url from your CA)"')
    elif "eab_hmac_key_file" in t:
        p = _path(t["eab_hmac_key_file"], "account.eab_hmac_key_file", base)
        try:
            data = p.read_bytes()[: 64 * 1024]
        except OSError as exc:
            raise _Bad("account.eab_hmac_key_file", f"{p}: cannot be read ({exc.strerror or exc})",
                       "Give the file your CA's EAB HMAC key is in (readable by this user).") from None
        hmac = data.decode("ascii", "replace").strip()
        if not hmac:
            raise _Bad("account.eab_hmac_key_file", f"{p} is empty", "Put the EAB HMAC key in it.")
    if (kid is None) != (hmac is None):
        raise _Bad("account.eab_kid" if kid is None else "account.eab_hmac_key",
                   "External Account Binding needs both eab_kid and eab_hmac_key (or eab_hmac_key_file)",
                   "Give both, as your CA shows them, or neither.")
    if hmac is not None and not re.fullmatch(r"[A-Za-z0-9_\-=]+", hmac):
        raise _Bad("account.eab_hmac_key", "is not base64url", "Copy the HMAC key exactly as your CA shows it.")
    return Account(key=key, contact=tuple(contacts), eab_kid=kid, eab_hmac_key=hmac)


def _challenge(value: Any, base: Path) -> Challenge:
    t = _table(value, "challenge", CHALLENGE_KEYS, '{ type = "http-01", listen = "0.0.0.0:80" }')
    ctype = t.get("type", "http-01")
    if ctype not in CHALLENGE_TYPES:
        raise _Bad("challenge.type", f"{_show(ctype)} is not a challenge type certdoctor answers",
                   f"Choose one of: {', '.join(CHALLENGE_TYPES)}.")
    timeout = _seconds(t["timeout"], "challenge.timeout") if "timeout" in t else policy.RENEW_HOOK_TIMEOUT_SECONDS
    if ctype == "http-01":
        if "hook" in t:
            raise _Bad("challenge.hook", "is for dns-01", 'Drop it, or set type = "dns-01".')
        if "listen" in t and "webroot" in t:
            raise _Bad("challenge.webroot", "and listen are both given",
                       "http-01 is served by certdoctor (listen) or written to a webroot: keep one.")
        if "webroot" in t:
            return Challenge("http-01", webroot=_path(t["webroot"], "challenge.webroot", base), timeout=timeout)
        if "listen" in t:
            host, port = _host_port(t["listen"], "challenge.listen", None)
            return Challenge("http-01", listen=f"[{host}]:{port}" if ":" in host else f"{host}:{port}", timeout=timeout)
        return Challenge("http-01", timeout=timeout)
    for k in ("listen", "webroot"):
        if k in t:
            raise _Bad(f"challenge.{k}", "is for http-01", 'Drop it, or set type = "http-01".')
    if "hook" not in t:
        raise _Bad("challenge.hook", "is missing: dns-01 needs a hook that sets and clears the TXT record",
                   'e.g. challenge = { type = "dns-01", hook = ["/usr/local/bin/dns-txt"] } (docs/RENEW.md).')
    return Challenge("dns-01", hook=_argv(t["hook"], "challenge.hook"), timeout=timeout)


def _key(value: Any) -> KeyPolicy:
    t = _table(value, "key", KEY_KEYS, '{ type = "ec256", reuse = false }')
    types = _key_types()
    ktype = t.get("type", "ec256")
    if ktype not in types:
        raise _Bad("key.type", f"{_show(ktype)} is not a key type certdoctor makes", f"Choose one of: {', '.join(types)}.")
    return KeyPolicy(type=ktype, reuse=_bool(t["reuse"], "key.reuse") if "reuse" in t else False)


def _install(value: Any, base: Path) -> InstallTo:
    t = _table(value, "install", INSTALL_KEYS, '{ lineage = "/etc/certdoctor" }')
    if "lineage" in t:
        others = [k for k in t if k != "lineage"]
        if others:
            raise _Bad(f"install.{others[0]}", "cannot be given with lineage",
                       "A lineage holds cert, chain, fullchain and privkey itself: keep lineage, or the files.")
        return InstallTo(lineage=_path(t["lineage"], "install.lineage", base))
    paths = {k: _path(t[k], f"install.{k}", base) for k in ("cert", "chain", "fullchain", "key") if k in t}
    if "cert" not in paths and "fullchain" not in paths:
        raise _Bad("install", "names no certificate file (cert or fullchain)",
                   'e.g. install = { fullchain = "/etc/ssl/web.pem", key = "/etc/ssl/web.key" }')
    if "key" not in paths:
        raise _Bad("install.key", "is missing (where the private key goes)", 'e.g. key = "/etc/ssl/web.key"')
    seen: dict[Path, str] = {}
    for k, p in paths.items():
        if p in seen:
            raise _Bad(f"install.{k}", f"is the same file as install.{seen[p]} ({p})", "Give each file its own path.")
        seen[p] = k
    return InstallTo(**paths)


def _endpoint(value: Any, path: str, servername: str | None, domains: tuple[str, ...]) -> Endpoint:
    own = None
    if isinstance(value, Mapping):
        t = _table(value, path, VERIFY_KEYS, '{ endpoint = "127.0.0.1:443", servername = "example.org" }')
        if "endpoint" not in t:
            raise _Bad(f"{path}.endpoint", "is missing", 'e.g. { endpoint = "127.0.0.1:443" }')
        text = t["endpoint"]
        own = _str(t["servername"], f"{path}.servername") if "servername" in t else None
    else:
        text = value
    host, port = _host_port(text, path, 443)
    sni = own or servername
    if sni is None:
        try:
            ipaddress.ip_address(host)
            is_ip = True
        except ValueError:
            is_ip = False
        # an address serves the certificate's first name (SNI), a name itself
        sni = next((d for d in domains if not d.startswith("*.")), None) if is_ip else host
    return Endpoint(host, port, sni)


def _timeouts(value: Any) -> Timeouts:
    t = _table(value, "timeouts", TIMEOUT_KEYS, "{ order = 300, verify = 60 }")
    return Timeouts(**{k: _seconds(t[k], f"timeouts.{k}") for k in TIMEOUT_KEYS if k in t})


# --------------------------------------------------------------------------- the file

def _lines(text: str) -> list[str]:
    return text.splitlines()


def _header_lines(text: str) -> list[int]:
    pat = re.compile(r"^\s*\[\[\s*certificate\s*\]\]")
    return [i for i, line in enumerate(_lines(text), 1) if pat.match(line)]


def _key_line(text: str, start: int | None, key: str) -> int | None:
    """The line of ``key = …`` (its first word) in the table whose header is at ``start``."""
    lines = _lines(text)
    first = key.split(".")[0].split("[")[0]
    pat = re.compile(r"^\s*" + re.escape(first) + r"\s*[=.]")
    begin = start if start is not None else 0
    for i in range(begin, len(lines)):
        if i > begin and start is not None and re.match(r"^\s*\[", lines[i]):
            break
        if pat.match(lines[i]):
            return i + 1
    return None


def parse_config(text: str, name: str = "renew.toml", *, base: Path | None = None) -> RenewConfig:
    """A renew config from its TOML text (``name`` is how errors call it; relative paths are taken
    from ``base``, default the current directory). Every problem is one UsageError."""
    base = base if base is not None else Path.cwd()
    doc = toml_loads(text, name)
    for key in doc:
        if key not in TOP_KEYS:
            raise UsageError(f"{name}:{_key_line(text, None, key) or 1}: unknown top-level key or table {key!r}",
                             "A renew config has state = PATH, [defaults] and [[certificate]] tables (docs/RENEW.md).")
    state = None
    if "state" in doc:
        try:
            state = _path(doc["state"], "state", base)
        except _Bad as bad:
            raise UsageError(f"{name}:{_key_line(text, None, 'state') or 1}: state {bad.message}", bad.hint) from None
    defaults: Mapping[str, Any] = {}
    if "defaults" in doc:
        d = doc["defaults"]
        dline = next((i for i, ln in enumerate(_lines(text), 1) if re.match(r"^\s*\[\s*defaults\s*\]", ln)), None)
        if not isinstance(d, Mapping):
            raise UsageError(f"{name}: defaults must be a table", "Write [defaults] on a line of its own.")
        for k in d:
            if k not in DEFAULT_KEYS:
                hint = (f"{k} belongs to one certificate: move it to its [[certificate]]." if k in CERT_KEYS
                        else f"[defaults] takes: {', '.join(DEFAULT_KEYS)}.")
                line = _key_line(text, dline, k) or dline
                raise UsageError(f"{name}:{line}: [defaults]: {k}: unknown key" if k not in CERT_KEYS
                                 else f"{name}:{line}: [defaults]: {k}: cannot be a default", hint)
        defaults = d
    entries = doc.get("certificate", [])
    if isinstance(entries, Mapping):
        raise UsageError(f"{name}: certificate must be an array of tables",
                         "Write [[certificate]] (two brackets) before each entry.")
    if not isinstance(entries, list):
        raise UsageError(f"{name}: certificate must be an array of tables",
                         "Write [[certificate]] before each entry.")
    if not entries:
        raise UsageError(f"{name}: no [[certificate]] entry", "Add one (docs/RENEW.md has an example).")
    headers = _header_lines(text)
    certs: list[CertConfig] = []
    seen: dict[str, str] = {}
    for n, entry in enumerate(entries):
        line = headers[n] if n < len(headers) else None
        label = f"[[certificate]] #{n + 1}"
        if isinstance(entry, Mapping) and isinstance(entry.get("name"), str):
            label += f" ({entry['name']})"
        origin = f"{name}:{line}" if line is not None else name
        try:
            if not isinstance(entry, Mapping):
                raise _Bad("", "must be a table", "Write [[certificate]] before each entry.")
            cert = _certificate(_merge(defaults, entry), base, origin)
        except _Bad as bad:
            top = bad.path.split(".")[0].split("[")[0]
            in_entry = isinstance(entry, Mapping) and top in entry
            if in_entry or not isinstance(entry, Mapping) or top not in defaults:
                at = (_key_line(text, line, bad.path) if in_entry else None) or line
                where = f"{name}:{at}" if at is not None else name
                raise UsageError(f"{where}: {label}: {bad.path + ': ' if bad.path else ''}{bad.message}",
                                 bad.hint) from None
            dline = next((i for i, ln in enumerate(_lines(text), 1) if re.match(r"^\s*\[\s*defaults\s*\]", ln)), None)
            at = _key_line(text, dline, bad.path) or dline
            raise UsageError(f"{name}:{at}: [defaults] (for {label}): {bad.path}: {bad.message}", bad.hint) from None
        if cert.name in seen:
            raise UsageError(f"{origin}: {label}: name {cert.name!r} is used by {seen[cert.name]} too",
                             "Give every certificate its own name (it names its lineage, lock and record).")
        seen[cert.name] = origin
        certs.append(cert)
    return RenewConfig(path=name, certificates=tuple(certs), state=state)


def default_config_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME/certdoctor/renew.toml`` (``~/.config/certdoctor/renew.toml``)."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "certdoctor" / "renew.toml"


def load_config(path: "str | os.PathLike[str] | None" = None) -> RenewConfig:
    """Read the renew config at ``path`` (default :func:`default_config_path`). Relative paths in it
    are taken from the file's directory."""
    p = Path(os.path.expanduser(str(path))) if path is not None else default_config_path()
    try:
        with open(p, "rb") as fh:
            raw = fh.read(policy.MAX_INPUT_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"cannot read the config {p}: {exc.strerror or exc}",
                         "Give --config a renew TOML file (docs/RENEW.md shows one).") from None
    if len(raw) > policy.MAX_INPUT_BYTES:
        raise UsageError(f"the config {p} is larger than {policy.MAX_INPUT_BYTES} bytes",
                         "A renew config is a few lines per certificate.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{p}: not UTF-8 text (byte {exc.start})", "TOML files are UTF-8.") from None
    return parse_config(text, str(p), base=p.parent.resolve())


__all__ = ["RenewConfig", "CertConfig", "Account", "Challenge", "KeyPolicy", "InstallTo", "Endpoint", "Timeouts",
           "parse_config", "load_config", "default_config_path", "CHALLENGE_TYPES"]
