"""What to monitor: targets from the command line, a TOML file and a streamed ``--targets`` file.

    >>> d = Defaults(warn_days=21)
    >>> parse_line("example.org:8443 servername=www.example.org  # the shop", "t.txt:3", d).servername
    'www.example.org'

A target is a :class:`TargetSpec`: an endpoint (``https://`` URL or ``host[:port]``) or a
certificate source (a file, a directory or a glob). Every option a target has falls back on the
run's :class:`Defaults` (the TOML ``[defaults]`` table, itself under the command line's
``--ca-file``/``--client``/``--timeout``/``--warn-days``/``--crit-days``/``--proxy``).

The TOML file (docs/MONITOR.md has the whole reference)::

    [defaults]
    warn_days = 30
    labels = { team = "web" }

    [[endpoint]]
    target = "https://shop.example.org/"
    address = "192.0.2.10"            # connect here, send SNI shop.example.org
    pins = ["sha256/…"]

    [[file]]
    path = "/etc/letsencrypt/live/*/fullchain.pem"

A bad entry is a :class:`~certdoctor.errors.UsageError` naming the file and line
(``monitor.toml:12: [[endpoint]] #2: unknown key 'servrname'``): tomllib gives the line of a
syntax error; for a semantic one the line of the entry's ``[[…]]`` header (or of the key) is
found in the text. A ``--targets`` file is never loaded whole: :func:`stream_targets` is a
generator the engine pulls from as it has room (bounded look-ahead), and a bad line there becomes
that target's row (status ``unknown``, the error naming the line), since the run is already going.
"""

from __future__ import annotations

import glob as _glob
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from certdoctor import policy
from certdoctor._toml import loads as toml_loads
from certdoctor.errors import CertdoctorError, UsageError

ENDPOINT = "endpoint"
FILE = "file"

#: keys of a ``[[endpoint]]`` entry
ENDPOINT_KEYS = ("target", "servername", "address", "ca_file", "client", "proxy", "pins", "warn_days",
                 "crit_days", "timeout", "labels", "revocation", "confirm", "cert_file", "webhook")
#: keys of a ``[[file]]`` entry
FILE_KEYS = ("path", "password", "warn_days", "crit_days", "labels", "webhook")
#: keys of ``[defaults]``
DEFAULT_KEYS = ("ca_file", "client", "proxy", "warn_days", "crit_days", "timeout", "labels", "revocation",
                "confirm", "password", "webhook")
#: ``key=value`` options a ``--targets`` line may carry after its target
LINE_KEYS = ("servername", "address", "warn_days", "crit_days")
_GLOB = re.compile(r"[*?\[]")
_LABEL = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


@dataclass(frozen=True, slots=True)
class Defaults:
    """The options every target inherits unless it sets its own."""

    ca_file: str | None = None
    client: str = "requests"
    proxy: str | None = None
    warn_days: int = policy.EXPIRING_SOON_DAYS
    crit_days: int = policy.CRITICAL_DAYS
    timeout: float = policy.TIMEOUT_SECONDS
    labels: tuple[tuple[str, str], ...] = ()
    revocation: bool = False
    confirm: bool = False
    password: str | None = None
    #: webhook URLs every target posts its transitions to (``--webhook``, ``[defaults] webhook``);
    #: never shown unredacted (:func:`certdoctor.monitor.alerts.redact_url`)
    webhooks: tuple[str, ...] = field(default=(), repr=False)


@dataclass(frozen=True, slots=True)
class TargetSpec:
    """One thing to check. ``kind`` is ``endpoint`` or ``file``; ``input`` as written (a URL,
    ``host[:port]``, a path or glob); ``origin`` where it was written (``argv``,
    ``monitor.toml:12``, ``targets.txt:7``). ``error`` is set for an entry that could not be
    read (a bad ``--targets`` line): it is reported as its row, nothing is checked."""

    kind: str
    input: str
    origin: str = "argv"
    servername: str | None = None
    address: str | None = None
    ca_file: str | None = None
    client: str = "requests"
    proxy: str | None = None
    pins: tuple[str, ...] = ()
    warn_days: int = policy.EXPIRING_SOON_DAYS
    crit_days: int = policy.CRITICAL_DAYS
    timeout: float = policy.TIMEOUT_SECONDS
    labels: tuple[tuple[str, str], ...] = ()
    revocation: bool = False
    confirm: bool = False
    password: str | None = field(default=None, repr=False)
    error: str | None = None
    #: endpoint: the certificate file the server should be serving (``cert_file = …``); a newer
    #: certificate in it than the one served is ``NOT_DEPLOYED``
    cert_file: str | None = None
    #: the webhook URLs of this target (the run's and its own), never shown unredacted
    webhooks: tuple[str, ...] = field(default=(), repr=False)


# --------------------------------------------------------------------------- values

def _where(origin: str, what: str) -> str:
    return f"{origin}: {what}" if what else origin


def _int(value: Any, key: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = int(str(value), 10)
        except ValueError:
            raise UsageError(f"{where}: {key} must be a whole number of days, not {value!r}",
                             f"e.g. {key} = 30") from None
    if value < 0:
        raise UsageError(f"{where}: {key} must not be negative ({value})", f"e.g. {key} = 30")
    return value


def _float(value: Any, key: str, where: str) -> float:
    try:
        out = float(value) if not isinstance(value, bool) else None
    except (TypeError, ValueError):
        out = None
    if out is None or not policy.TIMEOUT_MIN_SECONDS <= out <= policy.TIMEOUT_MAX_SECONDS:
        raise UsageError(f"{where}: {key} must be seconds from {policy.TIMEOUT_MIN_SECONDS:g} to "
                         f"{policy.TIMEOUT_MAX_SECONDS:g}, not {value!r}", f"e.g. {key} = 10")
    return out


def _str(value: Any, key: str, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise UsageError(f"{where}: {key} must be a non-empty string, not {value!r}", f'e.g. {key} = "…"')
    return value.strip()


def _bool(value: Any, key: str, where: str) -> bool:
    if not isinstance(value, bool):
        raise UsageError(f"{where}: {key} must be true or false, not {value!r}", f"e.g. {key} = true")
    return value


def _labels(value: Any, where: str, base: tuple[tuple[str, str], ...] = ()) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, Mapping):
        raise UsageError(f"{where}: labels must be a table of strings, not {value!r}",
                         'e.g. labels = { team = "web", env = "prod" }')
    out = dict(base)
    for k, v in value.items():
        if not _LABEL.fullmatch(str(k)) or not isinstance(v, (str, int, float)) or isinstance(v, bool):
            raise UsageError(f"{where}: label {k!r} = {v!r}: names are [A-Za-z_][A-Za-z0-9_]*, values strings",
                             'e.g. labels = { team = "web" }')
        out[str(k)] = str(v)
    return tuple(sorted(out.items()))


def _client(value: Any, where: str) -> str:
    from certdoctor.model import CLIENTS

    if value not in CLIENTS:
        raise UsageError(f"{where}: unknown client {value!r}", f"Choose one of: {', '.join(CLIENTS)}.")
    return value


def _address(value: Any, where: str) -> str:
    import ipaddress

    text = _str(value, "address", where).strip("[]")
    try:
        ipaddress.ip_address(text)
    except ValueError:
        raise UsageError(f"{where}: address {value!r} is not an IP address",
                         'address is the IP to connect to, e.g. address = "192.0.2.10"') from None
    return text


def _thresholds(warn: int, crit: int, where: str) -> None:
    if warn < crit:
        raise UsageError(f"{where}: warn_days ({warn}) must not be below crit_days ({crit})",
                         "warn_days is the earlier alarm, e.g. warn_days = 30, crit_days = 7")


def _apply(defaults: Defaults, entry: Mapping[str, Any], keys: Iterable[str], where: str) -> dict[str, Any]:
    """The options of ``entry`` (only ``keys``), checked, over ``defaults``."""
    allowed = set(keys)
    for key in entry:
        if key not in allowed:
            raise UsageError(f"{where}: unknown key {key!r}", f"Known keys: {', '.join(sorted(allowed))}.")
    out: dict[str, Any] = {}
    for key in ("ca_file", "proxy", "password"):
        if key in allowed:
            out[key] = _str(entry[key], key, where) if key in entry else getattr(defaults, key)
    if "client" in allowed:
        out["client"] = _client(entry["client"], where) if "client" in entry else defaults.client
    for key in ("warn_days", "crit_days"):
        out[key] = _int(entry[key], key, where) if key in entry else getattr(defaults, key)
    _thresholds(out["warn_days"], out["crit_days"], where)
    if "timeout" in allowed:
        out["timeout"] = _float(entry["timeout"], "timeout", where) if "timeout" in entry else defaults.timeout
    for key in ("revocation", "confirm"):
        if key in allowed:
            out[key] = _bool(entry[key], key, where) if key in entry else getattr(defaults, key)
    out["labels"] = _labels(entry["labels"], where, defaults.labels) if "labels" in entry else defaults.labels
    if "webhook" in allowed:
        own = _webhooks(entry["webhook"], where) if "webhook" in entry else ()
        out["webhooks"] = tuple(dict.fromkeys((*defaults.webhooks, *own)))
    return out


def _webhooks(value: Any, where: str) -> tuple[str, ...]:
    """``webhook = "https://…"`` or a list of them: each an http(s) URL with a host (the URL is
    never echoed unredacted, also not in this error)."""
    from certdoctor.monitor.alerts import check_webhook_url

    raw = [value] if isinstance(value, str) else value
    if not isinstance(raw, (list, tuple)) or not raw:
        raise UsageError(f"{where}: webhook must be a URL or a list of URLs",
                         'e.g. webhook = "https://hooks.example.org/certdoctor"')
    try:
        return tuple(check_webhook_url(u) for u in raw)
    except UsageError as exc:
        raise UsageError(f"{where}: {exc.message}", exc.hint) from None


def endpoint(text: str, defaults: Defaults = Defaults(), origin: str = "argv", **options: Any) -> TargetSpec:
    """An endpoint target, checked (a bad URL, address, pin or option is a ``UsageError``)."""
    from certdoctor.net.target import parse_target

    where = _where(origin, "")
    text = _str(text, "target", where)
    opts = _apply(defaults, options, (*ENDPOINT_KEYS, "password"), where)
    servername = _str(options["servername"], "servername", where) if options.get("servername") is not None else None
    address = _address(options["address"], where) if options.get("address") is not None else None
    try:
        parse_target(text, servername)
    except UsageError as exc:
        raise UsageError(f"{where}: {exc.message}", exc.hint) from None
    pins: tuple[str, ...] = ()
    if options.get("pins"):
        raw = options["pins"]
        if isinstance(raw, str):
            raw = [raw]
        if not isinstance(raw, (list, tuple)):
            raise UsageError(f"{where}: pins must be a list of sha256/… pins", 'e.g. pins = ["sha256/AAAA…="]')
        from certdoctor.pinning.pins import parse_pins

        try:
            pins = parse_pins(raw)
        except CertdoctorError as exc:
            raise UsageError(f"{where}: {exc.message}", exc.hint) from None
    opts.pop("target", None)
    cert_file = (os.path.expanduser(_str(options["cert_file"], "cert_file", where))
                 if options.get("cert_file") is not None else None)
    return TargetSpec(ENDPOINT, text, origin, servername=servername, address=address, pins=pins,
                      cert_file=cert_file, **opts)


def source(text: str, defaults: Defaults = Defaults(), origin: str = "argv", **options: Any) -> TargetSpec:
    """A certificate source (file, directory or glob; expanded when checked, see :func:`expand`)."""
    where = _where(origin, "")
    text = _str(text, "path", where)
    opts = _apply(defaults, options, FILE_KEYS, where)
    return TargetSpec(FILE, text, origin, **opts)


def is_source(text: str) -> bool:
    """A command-line TARGET names files when it exists as a path or is a glob (``*?[``) without
    ``://``; anything else is an endpoint."""
    if "://" in text:
        return False
    return os.path.lexists(text) or bool(_GLOB.search(text))


def from_argument(text: str, defaults: Defaults = Defaults(), origin: str = "argv") -> TargetSpec:
    return source(text, defaults, origin) if is_source(text) else endpoint(text, defaults, origin)


# --------------------------------------------------------------------------- TOML

def _headers(text: str, table: str) -> list[int]:
    """The line numbers (1-based) of each ``[[table]]`` header, in order."""
    pat = re.compile(r"^\s*\[\[\s*" + re.escape(table) + r"\s*\]\]")
    return [i for i, line in enumerate(text.splitlines(), 1) if pat.match(line)]


def _key_line(text: str, start: int, key: str) -> int | None:
    """The line of ``key = …`` in the entry whose header is at line ``start``."""
    pat = re.compile(r"^\s*" + re.escape(key) + r"\s*=")
    lines = text.splitlines()
    for i in range(start, len(lines)):
        if i > start - 1 and lines[i].lstrip().startswith("["):
            break
        if pat.match(lines[i]):
            return i + 1
    return None


def _located(exc: UsageError, text: str, name: str, line: int | None, label: str) -> UsageError:
    """``exc`` re-worded to name ``name:line`` (the key's own line when the message names a key)."""
    msg = exc.message.split(": ", 1)[1] if exc.message.startswith("@") else exc.message
    m = re.search(r"unknown key '([^']+)'", msg)
    keys = sorted(set(ENDPOINT_KEYS) | set(FILE_KEYS) | set(DEFAULT_KEYS) | {"labels", "label"})
    named = [(k.start(), k.group(0)) for k in
             (re.search(r"\b" + re.escape(key) + r"\b", msg) for key in keys) if k is not None]
    key = m.group(1) if m else (min(named)[1] if named else None)
    if line is not None and key:
        line = _key_line(text, line, "labels" if key == "label" else key) or line
    where = f"{name}:{line}" if line is not None else name
    return UsageError(f"{where}: {label}: {msg}", exc.hint)


def load_config(path: str | os.PathLike[str], cli: Defaults = Defaults()) -> tuple[Defaults, list[TargetSpec]]:
    """Read a monitor TOML file: its ``[defaults]`` over ``cli``, and its targets (files and
    globs not yet expanded). Every problem is one ``UsageError`` naming ``path:line``."""
    name = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read the config {name}: {exc.strerror or exc}",
                         "Give --config an existing TOML file (docs/MONITOR.md shows one).") from None
    if len(raw) > policy.MAX_INPUT_BYTES:
        raise UsageError(f"the config {name} is larger than {policy.MAX_INPUT_BYTES} bytes",
                         "Put large inventories in a --targets file (one target per line, streamed).")
    text = raw.decode("utf-8", "replace")
    doc = toml_loads(text, name)
    known = {"defaults", "endpoint", "file"}
    for key in doc:
        if key not in known:
            raise UsageError(f"{name}: unknown top-level key or table {key!r}",
                             "A monitor config has [defaults], [[endpoint]] and [[file]] tables.")
    defaults = cli
    if "defaults" in doc:
        table = doc["defaults"]
        line = next((i for i, ln in enumerate(text.splitlines(), 1) if re.match(r"^\s*\[\s*defaults\s*\]", ln)),
                    None)
        if not isinstance(table, Mapping):
            raise UsageError(f"{name}: defaults must be a table", "Write [defaults] on a line of its own.")
        try:
            opts = _apply(cli, table, DEFAULT_KEYS, "@")
        except UsageError as exc:
            raise _located(exc, text, name, line, "[defaults]") from None
        defaults = replace(cli, **opts)
    specs: list[TargetSpec] = []
    for table, build, key in (("endpoint", endpoint, "target"), ("file", source, "path")):
        entries = doc.get(table, [])
        if not isinstance(entries, list):
            raise UsageError(f"{name}: {table} must be an array of tables", f"Write [[{table}]] before each entry.")
        lines = _headers(text, table)
        for n, entry in enumerate(entries):
            line = lines[n] if n < len(lines) else None
            label = f"[[{table}]] #{n + 1}"
            origin = f"{name}:{line}" if line is not None else f"{name} {label}"
            try:
                if not isinstance(entry, Mapping):
                    raise UsageError(f"@: {table} entries must be tables", f"Write [[{table}]] before each.")
                if key not in entry:
                    raise UsageError(f"@: the entry has no {key!r}", f'e.g. {key} = "…"')
                opts = {k: v for k, v in entry.items() if k != key}
                spec = build(entry[key], defaults, "@", **opts)
            except UsageError as exc:
                raise _located(exc, text, name, line, label) from None
            specs.append(replace(spec, origin=origin))
    return defaults, specs


# --------------------------------------------------------------------------- --targets

def _strip_comment(text: str) -> str:
    """A line without its comment: ``#`` at the start or after whitespace (a URL's ``#frag`` stays)."""
    m = re.search(r"(^|\s)#", text)
    return text[: m.start()] if m else text


def parse_line(text: str, origin: str, defaults: Defaults = Defaults()) -> TargetSpec | None:
    """One ``--targets`` line: ``TARGET [servername=NAME] [address=IP] [warn_days=N] [crit_days=N]``
    (``#`` comments, blank lines: ``None``). TARGET is an endpoint, or a path/glob when it exists
    or has ``*?[``. A bad line raises ``UsageError`` naming ``origin``."""
    body = _strip_comment(text).strip()
    if not body:
        return None
    if len(body) > policy.MONITOR_TARGET_LINE_MAX:
        raise UsageError(f"{origin}: line longer than {policy.MONITOR_TARGET_LINE_MAX} characters",
                         "One target per line: TARGET [servername=NAME] [address=IP] [warn_days=N] [crit_days=N].")
    first, *rest = body.split()
    options: dict[str, Any] = {}
    for token in rest:
        key, sep, value = token.partition("=")
        if not sep or key not in LINE_KEYS or not value:
            raise UsageError(f"{origin}: {token!r} is not one of {', '.join(k + '=…' for k in LINE_KEYS)}",
                             "One target per line: TARGET [servername=NAME] [address=IP] [warn_days=N] [crit_days=N].")
        if key in options:
            raise UsageError(f"{origin}: {key} given twice", "Give each option once.")
        options[key] = value
    if is_source(first):
        if "servername" in options or "address" in options:
            raise UsageError(f"{origin}: servername= and address= apply to endpoints, not files",
                             "Drop them, or give host[:port] or an https:// URL.")
        return source(first, defaults, origin, **options)
    return endpoint(first, defaults, origin, **options)


def stream_targets(path: str | os.PathLike[str], defaults: Defaults = Defaults()) -> Iterator[TargetSpec]:
    """The targets of a ``--targets`` file (``-``: stdin), one line at a time, never the whole
    file in memory. A bad line is yielded as a spec with ``error`` set (its row says why)."""
    import sys

    name = str(path)
    if name == "-":
        handle = sys.stdin
        close = False
    else:
        try:
            handle = open(path, encoding="utf-8", errors="replace", newline="")
        except OSError as exc:
            raise UsageError(f"cannot read --targets {name}: {exc.strerror or exc}",
                             "Give an existing file with one target per line (or - for stdin).") from None
        close = True
    try:
        number = 0
        while True:
            line = handle.readline(policy.MONITOR_TARGET_LINE_MAX + 2)
            if not line:
                return
            number += 1
            origin = f"{name}:{number}"
            if not line.endswith("\n") and len(line) > policy.MONITOR_TARGET_LINE_MAX:
                while line and not line.endswith("\n"):  # skip the rest of an over-long line
                    line = handle.readline(65536)
                yield TargetSpec(ENDPOINT, "(over-long line)", origin,
                                 error=f"{origin}: line longer than {policy.MONITOR_TARGET_LINE_MAX} characters")
                continue
            try:
                spec = parse_line(line.rstrip("\r\n"), origin, defaults)
            except UsageError as exc:
                shown = line.strip()[:80]
                yield TargetSpec(ENDPOINT, shown or "(empty)", origin, error=exc.message)
                continue
            if spec is not None:
                yield spec
    finally:
        if close:
            handle.close()


# --------------------------------------------------------------------------- certificate sources

CERT_SUFFIXES = (".pem", ".crt", ".cer", ".der", ".p7b", ".p7c", ".p12", ".pfx")
#: certbot's live/NAME/: fullchain.pem holds cert.pem and chain.pem; privkey.pem is a key
CERTBOT_FILES = ("cert.pem", "chain.pem", "fullchain.pem", "privkey.pem")


def _dir_files(directory: str) -> Iterator[str]:
    """The certificate files under ``directory`` (recursively, sorted): in a certbot ``live/NAME``
    directory only ``fullchain.pem`` (followed through its symlink); elsewhere every file with a
    certificate suffix whose name does not say it is a key."""
    for root, dirs, files in os.walk(directory, followlinks=False):
        dirs.sort()
        names = set(files)
        if "fullchain.pem" in names and names & {"cert.pem", "privkey.pem"}:
            yield os.path.join(root, "fullchain.pem")
            continue
        for f in sorted(files):
            low = f.lower()
            if low.endswith(CERT_SUFFIXES) and "key" not in low and f != "README":
                yield os.path.join(root, f)


def expand(spec: TargetSpec) -> Iterator[TargetSpec]:
    """A file spec as one spec per file (a directory or glob expanded, lazily, at most
    :data:`~certdoctor.policy.MONITOR_MAX_FILES_PER_SOURCE`); an endpoint as itself. A source that
    names nothing is one spec with ``error``."""
    if spec.kind != FILE or spec.error:
        yield spec
        return
    text = os.path.expanduser(spec.input)
    if _GLOB.search(text) and not os.path.lexists(text):
        paths: Iterable[str] = (p for p in sorted(_glob.iglob(text, recursive=True)))
    elif os.path.lexists(text):
        paths = [text]
    else:
        yield replace(spec, error=f"{spec.origin}: {spec.input} does not exist")
        return
    count = 0
    for p in paths:
        items = _dir_files(p) if os.path.isdir(p) else iter([p])
        for item in items:
            count += 1
            if count > policy.MONITOR_MAX_FILES_PER_SOURCE:
                yield replace(spec, input=spec.input, error=f"{spec.origin}: {spec.input} names more than "
                              f"{policy.MONITOR_MAX_FILES_PER_SOURCE} files; the rest were not checked")
                return
            yield replace(spec, input=item)
    if count == 0:
        what = "matches no file" if _GLOB.search(text) else (
            "holds no certificate file" if os.path.isdir(text) else "does not exist")
        yield replace(spec, error=f"{spec.origin}: {spec.input} {what}")


def expand_all(specs: Iterable[TargetSpec]) -> Iterator[TargetSpec]:
    for spec in specs:
        yield from expand(spec)


__all__ = ["Defaults", "TargetSpec", "ENDPOINT", "FILE", "endpoint", "source", "from_argument", "is_source",
           "load_config", "parse_line", "stream_targets", "expand", "expand_all", "ENDPOINT_KEYS", "FILE_KEYS",
           "DEFAULT_KEYS", "LINE_KEYS"]
