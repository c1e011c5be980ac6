"""Options shared by commands, declared once: the same name, default, range and help everywhere.

Every command that connects (diagnose, fix, inspect, pin, expiry, revocation) takes
:func:`connection_options` (``--timeout``, ``--proxy``, ``--servername``, ``--resolve``,
``--ca-file``) and every command takes :func:`json_option`. diagnose and fix take :func:`canary_option` (``--canary``). Every command that reads a certificate file
(inspect, convert, pin, expiry, revocation, bundle, fix --intermediate) takes
:func:`password_option` (``--password``, ``CERTDOCTOR_PASSWORD``). A command that needs a different
*behaviour* derives it from the one option (revocation's per-request timeout is a share of
``--timeout``), it does not declare its own.

Values are checked when the command line is parsed (bad input exits 2 — 3 for ``expiry`` — with
``error:``/``hint:`` before any work): numbers by :class:`Seconds`, :class:`Days` and
:func:`count`, fingerprints by :class:`Fingerprint`, pins by :class:`Pin`, ``--resolve`` rules by
:func:`resolve_option`; a file input is an :class:`InputFile`, where ``-`` is standard input.

This module imports click and :mod:`certdoctor.policy` only: the lazy command table stays cheap.
"""

from __future__ import annotations

from typing import Callable

import math

import click

from certdoctor import policy


class BadValue(click.BadParameter):
    """click's bad-parameter error with a ``hint`` (printed by :func:`certdoctor.cli.common.run`
    as the ``hint:`` line instead of the generic one)."""

    def __init__(self, message: str, hint: str | None = None, ctx: click.Context | None = None,
                 param: click.Parameter | None = None) -> None:
        super().__init__(message, ctx=ctx, param=param)
        self.hint = hint


class Seconds(click.FloatRange):
    """A finite number of seconds from ``low`` to ``high`` (both included): ``nan``, ``inf``,
    a negative number or one out of range is bad usage, said when the command line is read
    (click's ``FloatRange`` lets ``nan`` through: every comparison with it is false)."""

    name = "seconds"

    def __init__(self, low: float, high: float) -> None:
        super().__init__(float(low), float(high))
        self.low, self.high = float(low), float(high)

    def convert(self, value, param, ctx):
        hint = f"Give a number of seconds from {self.low:g} to {self.high:g}."
        try:
            seconds = float(value.strip() if isinstance(value, str) else value)
        except (TypeError, ValueError, OverflowError):
            raise BadValue(f"{value!r} is not a number of seconds", hint, ctx, param) from None
        if not math.isfinite(seconds):
            raise BadValue(f"{value!r} is not a finite number of seconds", hint, ctx, param)
        if not self.low <= seconds <= self.high:
            raise BadValue(f"{value!r} is out of range ({self.low:g} to {self.high:g} seconds)", hint, ctx, param)
        return seconds


class Days(click.ParamType):
    """Whole days from 0 to :data:`~certdoctor.policy.MAX_DAYS`: a negative number, a fraction or
    a number past a century is bad usage (a date that far away leaves ``datetime``'s range)."""

    name = "days"

    def convert(self, value, param, ctx):
        hint = f"Give whole days from 0 to {policy.MAX_DAYS}."
        if isinstance(value, int) and not isinstance(value, bool):
            days = value
        else:
            import re

            text = str(value).strip()
            if not re.fullmatch(r"[+-]?[0-9]{1,12}", text):
                raise BadValue(f"{value!r} is not a valid integer number of days", hint, ctx, param)
            days = int(text)
        if days < 0:
            raise BadValue(f"{value!r}: days must not be negative", hint, ctx, param)
        if days > policy.MAX_DAYS:
            raise BadValue(f"{value!r} is more than {policy.MAX_DAYS} days", hint, ctx, param)
        return days


def count(high: int) -> click.IntRange:
    """A whole number from 1 to ``high`` (workers, endpoints at once)."""
    return click.IntRange(1, high)


class Fingerprint(click.ParamType):
    """A certificate's SHA-256 fingerprint: 64 hex digits, colons and a ``sha256:`` prefix
    optional; returned in openssl's colon form (``AB:CD:…``)."""

    name = "sha256"

    def convert(self, value, param, ctx):
        import re

        from certdoctor.model import normalize_fingerprint

        text = str(value)
        fp = normalize_fingerprint(text) if text.isascii() else ""
        if not re.fullmatch(r"(?:[0-9A-F]{2}:){31}[0-9A-F]{2}", fp):
            raise BadValue(f"{text!r} is not a SHA-256 fingerprint (64 hex digits, colons optional)",
                           "Copy the SHA-256 fingerprint certdoctor printed for the certificate "
                           "(or `openssl x509 -noout -fingerprint -sha256 -in FILE`).", ctx, param)
        return fp


class Pin(click.ParamType):
    """An SPKI pin (:func:`certdoctor.pinning.pins.parse_pin`), in its canonical form."""

    name = "pin"

    def convert(self, value, param, ctx):
        from certdoctor.errors import UsageError
        from certdoctor.pinning.pins import parse_pin

        try:
            return parse_pin(str(value))
        except UsageError as exc:
            raise BadValue(exc.message, exc.hint, ctx, param) from None


class InputFile(click.ParamType):
    """A file certdoctor reads; ``-`` is standard input (read once per command, at most
    :data:`~certdoctor.policy.MAX_INPUT_BYTES`, and kept in a private temporary file for the
    run: :func:`certdoctor.cli.common.stdin_file`). ``exists``: the path must be an existing
    file when the command line is read (without it, the command says what is wrong)."""

    name = "file"

    def __init__(self, exists: bool = False) -> None:
        self.exists = exists

    def convert(self, value, param, ctx):
        import os

        text = os.fspath(value) if isinstance(value, os.PathLike) else str(value)
        option = param.opts[0] if param is not None and param.opts else "FILE"
        if text == "-":
            from certdoctor.cli.common import stdin_file
            from certdoctor.errors import CertdoctorError

            try:
                return stdin_file(option, ctx)
            except CertdoctorError as exc:
                raise BadValue(exc.message, exc.hint, ctx, param) from None
        if self.exists:  # the one rule set (certdoctor.net.target.classify): an existing file
            from certdoctor.errors import CertdoctorError
            from certdoctor.net.target import FILE, classify

            try:
                classify(text, kinds=(FILE,))
            except CertdoctorError as exc:
                raise BadValue(exc.message, exc.hint, ctx, param) from None
        return text

TIMEOUT_HELP = ("Seconds for the whole run: every connection, handshake, download and real-client run "
                "together (not each read).")
ALLOW_PRIVATE_FETCH_HELP = ("Let the certificates' AIA/CRL/OCSP URLs reach loopback and private addresses "
                            "even when the target is public or behind a proxy (never link-local or cloud "
                            "metadata).")
PROXY_HELP = "HTTP proxy URL (default: HTTPS_PROXY/ALL_PROXY/NO_PROXY, as requests reads them)."
SERVERNAME_HELP = ("SNI name to send, and the name the certificate must cover (default: the host); "
                   "for connecting to an IP address.")
RESOLVE_HELP = ("Resolve HOST (or *.suffix) to ADDR in this process, like curl --resolve "
                "(repeatable; CERTDOCTOR_RESOLVE adds more).")
CA_FILE_HELP = "A PEM bundle to trust instead of the default store (like verify=FILE; - for stdin)."
JSON_HELP = "Print one JSON document (docs/JSON.md) instead of text."
CANARY_HELP = ("A host the network is expected to intercept too, probed to prove interception when the chain "
               "does not verify (repeatable; default: $CERTDOCTOR_CANARIES, else pypi.org and www.python.org; "
               "'none': no canary).")
PASSWORD_HELP = "Password of a PKCS#12 (.p12/.pfx) file or an encrypted key (or set CERTDOCTOR_PASSWORD)."
#: the environment variable behind ``--password`` (every command that reads a file)
PASSWORD_ENV = "CERTDOCTOR_PASSWORD"


def timeout_option(f: Callable) -> Callable:
    return click.option(
        "--timeout", type=Seconds(policy.TIMEOUT_MIN_SECONDS, policy.TIMEOUT_MAX_SECONDS),
        default=policy.TIMEOUT_SECONDS, show_default=True, metavar="SECONDS", help=TIMEOUT_HELP,
    )(f)


def proxy_option(f: Callable) -> Callable:
    return click.option("--proxy", default=None, metavar="URL", help=PROXY_HELP)(f)


def servername_option(f: Callable) -> Callable:
    return click.option("--servername", default=None, metavar="NAME", help=SERVERNAME_HELP)(f)


def _check_resolve(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
    """Every ``--resolve`` rule parses (:func:`certdoctor.net.resolve.parse_spec`), or bad usage."""
    if values:
        from certdoctor.errors import UsageError
        from certdoctor.net.resolve import parse_spec

        for value in values:
            try:
                parse_spec(value)
            except UsageError as exc:
                raise BadValue(exc.message, exc.hint, ctx, param) from None
    return values


def resolve_option(f: Callable) -> Callable:
    return click.option("--resolve", "resolve", multiple=True, metavar="HOST:ADDR", callback=_check_resolve,
                        help=RESOLVE_HELP)(f)


def ca_file_option(f: Callable) -> Callable:
    return click.option("--ca-file", "ca_file", type=InputFile(), default=None, metavar="FILE",
                        help=CA_FILE_HELP)(f)


def password_option(f: Callable) -> Callable:
    """``--password`` (parameter ``password``; default ``$CERTDOCTOR_PASSWORD``): every command that
    reads a certificate file takes it, since any such file may be a password-protected PKCS#12."""
    return click.option("--password", "password", envvar=PASSWORD_ENV, default=None, metavar="PASSWORD",
                        help=PASSWORD_HELP)(f)


def canary_option(f: Callable) -> Callable:
    """``--canary HOST[:PORT]`` (parameter ``canaries``, a tuple; empty: the environment or the
    defaults decide, see :func:`certdoctor.gather.canary_hosts`): diagnose and fix."""
    return click.option("--canary", "canaries", multiple=True, metavar="HOST[:PORT]", help=CANARY_HELP)(f)


def json_option(f: Callable) -> Callable:
    return click.option("--json", "as_json", is_flag=True, help=JSON_HELP)(f)


def allow_private_fetch_option(f: Callable) -> Callable:
    return click.option("--allow-private-fetch", "allow_private_fetch", is_flag=True,
                        help=ALLOW_PRIVATE_FETCH_HELP)(f)


def bounded(f: Callable) -> Callable:
    """Run the command under one deadline of ``--timeout`` seconds
    (:func:`certdoctor.net.deadline.within`) and with ``--allow-private-fetch`` in force for all
    its stages; the callback does not see ``allow_private_fetch``."""
    import functools

    @functools.wraps(f)
    def run(*args, **kwargs):
        from certdoctor.cli.fast import bounded_call

        return bounded_call(lambda **kw: f(*args, **kw), kwargs)

    return run


def connection_options(f: Callable) -> Callable:
    """``--timeout --proxy --servername --resolve --ca-file --allow-private-fetch`` (parameters
    ``timeout``, ``proxy``, ``servername``, ``resolve``, ``ca_file``; the last is consumed by
    :func:`bounded`), in that order in ``--help``. ``--timeout`` bounds the whole command."""
    f = bounded(f)
    for opt in reversed((timeout_option, proxy_option, servername_option, resolve_option, ca_file_option,
                         allow_private_fetch_option)):
        f = opt(f)
    return f


__all__ = [
    "BadValue",
    "Seconds",
    "Days",
    "count",
    "Fingerprint",
    "Pin",
    "InputFile",
    "connection_options",
    "allow_private_fetch_option",
    "bounded",
    "json_option",
    "canary_option",
    "password_option",
    "timeout_option",
    "proxy_option",
    "servername_option",
    "resolve_option",
    "ca_file_option",
]
