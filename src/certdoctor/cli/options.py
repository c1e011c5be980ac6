"""Options shared by commands, declared once: the same name, default, range and help everywhere.

Every command that connects (diagnose, fix, inspect, pin, expiry, revocation) takes
:func:`connection_options` (``--timeout``, ``--proxy``, ``--servername``, ``--resolve``,
``--ca-file``) and every command takes :func:`json_option`. diagnose and fix take :func:`canary_option` (``--canary``). Every command that reads a certificate file
(inspect, convert, pin, expiry, revocation, bundle, fix --intermediate) takes
:func:`password_option` (``--password``, ``CERTDOCTOR_PASSWORD``). A command that needs a different
*behaviour* derives it from the one option (revocation's per-request timeout is a share of
``--timeout``), it does not declare its own.

This module imports click and :mod:`certdoctor.policy` only: the lazy command table stays cheap.
"""

from __future__ import annotations

from typing import Callable

import click

from certdoctor import policy

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
CA_FILE_HELP = "A PEM bundle to trust instead of the default store (like verify=FILE)."
JSON_HELP = "Print one JSON document (docs/JSON.md) instead of text."
CANARY_HELP = ("A host the network is expected to intercept too, probed to prove interception when the chain "
               "does not verify (repeatable; default: $CERTDOCTOR_CANARIES, else pypi.org and www.python.org; "
               "'none': no canary).")
PASSWORD_HELP = "Password of a PKCS#12 (.p12/.pfx) file or an encrypted key (or set CERTDOCTOR_PASSWORD)."
#: the environment variable behind ``--password`` (every command that reads a file)
PASSWORD_ENV = "CERTDOCTOR_PASSWORD"


def timeout_option(f: Callable) -> Callable:
    return click.option(
        "--timeout", type=click.FloatRange(policy.TIMEOUT_MIN_SECONDS, policy.TIMEOUT_MAX_SECONDS),
        default=policy.TIMEOUT_SECONDS, show_default=True, metavar="SECONDS", help=TIMEOUT_HELP,
    )(f)


def proxy_option(f: Callable) -> Callable:
    return click.option("--proxy", default=None, metavar="URL", help=PROXY_HELP)(f)


def servername_option(f: Callable) -> Callable:
    return click.option("--servername", default=None, metavar="NAME", help=SERVERNAME_HELP)(f)


def resolve_option(f: Callable) -> Callable:
    return click.option("--resolve", "resolve", multiple=True, metavar="HOST:ADDR", help=RESOLVE_HELP)(f)


def ca_file_option(f: Callable) -> Callable:
    return click.option("--ca-file", "ca_file", type=click.Path(), default=None, metavar="FILE",
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
        from certdoctor.net.deadline import within
        from certdoctor.net.resolve import allowing_private_fetch

        allow = kwargs.pop("allow_private_fetch", False)
        with within(kwargs.get("timeout")), allowing_private_fetch(allow):
            return f(*args, **kwargs)

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
