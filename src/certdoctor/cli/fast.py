"""``certdoctor diagnose TARGET …`` (text or ``--json``) without click: the command a person
with a failing job, a script or a CI job runs most; click's import alone is ~70 ms of CPU here
(``python -c "import click"``: 80 ms against 10 ms for ``pass``), ~20 % of the whole command.

:func:`parse_diagnose` reads a command line made only of what :mod:`certdoctor.cli.diagnose`
declares and this module knows to read exactly as click would (the option names and their
values, validated by the same rules); anything else — ``--help``, ``--pin``, ``--canary``,
``-`` for standard input, a value click would refuse, an unknown word — returns ``None`` and
the command goes through click as always, which then says what is wrong. A test checks, on a
matrix of command lines, that what this module reads is what click's parser reads
(tests/unit/test_cli_fast.py). :func:`diagnose_body` is the command itself, the one both
paths run; errors print the same ``error:``/``hint:`` lines (:func:`certdoctor.cli.common.error_lines`).
"""

from __future__ import annotations

import math
import sys

from certdoctor import policy

#: flags: option -> parameter
FLAGS = {"--no-revocation": "no_revocation", "--staple": "staple", "--no-aia": "no_aia", "--no-cache": "no_cache",
         "--json": "as_json", "--allow-private-fetch": "allow_private_fetch"}
#: options taking one value: option -> parameter (the last one given wins, as in click)
VALUES = {"--timeout": "timeout", "--proxy": "proxy", "--servername": "servername", "--ca-file": "ca_file",
          "--client": "client", "--python": "python"}
#: repeatable options: option -> parameter (a tuple, in the order given)
MULTIPLE = {"--resolve": "resolve"}
#: the values a choice option takes (cli/diagnose.py declares the same)
CHOICES = {"client": ("requests", "httpx", "urllib", "pip"), "python": ("3.13", "current")}


def defaults() -> dict:
    """The parameters of ``diagnose`` when nothing is given (click's defaults)."""
    return {"target": None, "timeout": float(policy.TIMEOUT_SECONDS), "proxy": None, "servername": None,
            "resolve": (), "ca_file": None, "allow_private_fetch": False, "client": "requests", "python": None,
            "no_revocation": False, "staple": None, "no_aia": False, "pins": (), "no_cache": False,
            "canaries": (), "as_json": False, "html": None}


def parse_diagnose(args: list[str]) -> dict | None:
    """The parameters of ``certdoctor diagnose ARGS`` (``ARGS`` after the command's name), or
    ``None`` when click must read them (see the module docstring)."""
    params = defaults()
    multi: dict[str, list[str]] = {p: [] for p in MULTIPLE.values()}
    positional: list[str] = []
    i = 0
    while i < len(args):
        word = args[i]
        i += 1
        if not word.startswith("-"):
            positional.append(word)
            continue
        name, eq, inline = word.partition("=")
        if name in FLAGS and not eq:
            params[FLAGS[name]] = True
            continue
        if name in VALUES or name in MULTIPLE:
            if eq:
                value = inline
            elif i < len(args):
                value = args[i]
                i += 1
            else:
                return None  # click says the value is missing
            if value.startswith("-"):
                return None  # '-' (standard input), or what click may read otherwise
            if name in MULTIPLE:
                multi[MULTIPLE[name]].append(value)
            else:
                params[VALUES[name]] = value
            continue
        return None  # --help, --pin, --canary, an unknown option, '-', '--': click
    if len(positional) != 1:
        return None
    params["target"] = positional[0]
    for key, choices in CHOICES.items():
        if params[key] is not None and params[key] not in choices:
            return None
    timeout = params["timeout"]
    if isinstance(timeout, str):
        try:
            timeout = float(timeout.strip())
        except (TypeError, ValueError, OverflowError):
            return None
        if not (math.isfinite(timeout) and policy.TIMEOUT_MIN_SECONDS <= timeout <= policy.TIMEOUT_MAX_SECONDS):
            return None
        params["timeout"] = timeout
    if multi["resolve"]:
        from certdoctor.errors import UsageError
        from certdoctor.net.resolve import parse_spec

        for value in multi["resolve"]:
            try:
                parse_spec(value)
            except UsageError:
                return None
    params["resolve"] = tuple(multi["resolve"])
    return params


#: what rendering ``--json`` imports, imported while the diagnosis waits for the network
JSON_RENDERER = ("certdoctor.render.diagnose", "certdoctor.render.json", "certdoctor.render.inspect")
#: what rendering the text imports (rich, ~30 ms), the same way
TEXT_RENDERER = ("certdoctor.render.diagnose", "certdoctor.render.text", "rich.console", "rich.tree", "rich.markup")


def diagnose_body(target, timeout, proxy, servername, resolve, ca_file, client, python, no_revocation, staple,
                  no_aia, pins, no_cache, canaries, as_json, html=None) -> int:
    """``certdoctor diagnose``: the command (click's callback calls it, and :func:`main`); it
    runs under the command's deadline (:func:`certdoctor.cli.options.bounded`)."""
    from certdoctor.cli.common import endpoint, install_resolve
    from certdoctor.diagnose import diagnose
    from certdoctor.net.fetch import FetchCache
    from certdoctor.trust.ca_file import check_ca_file

    endpoint(target, "diagnose")
    if html is not None:  # --html (docs/REPORT.md): its path checked before any work
        from certdoctor.cli.report import check_html
        from certdoctor.errors import UsageError
        from certdoctor.fsutil import is_stdout

        if as_json and is_stdout(html):
            raise UsageError("--html - and --json both write standard output", "Give --html a file name.")
        check_html(html)
    check_ca_file(ca_file, directory=True)
    install_resolve(resolve)
    d = diagnose(target, client=client, ca_file=ca_file, python=python, proxy=proxy, servername=servername,
                 timeout=timeout, revocation=not no_revocation, aia=not no_aia, pins=pins,
                 cache=None if no_cache else FetchCache(), canaries=canaries or None,
                 staple=True if staple else None,
                 warm=() if html is not None else JSON_RENDERER if as_json else TEXT_RENDERER, fork=True)
    if html is not None:
        from certdoctor.cli.report import write_html
        from certdoctor.fsutil import is_stdout
        from certdoctor.render import html as render_html

        write_html(html, render_html.render_bytes([render_html.from_diagnosis(d, target)], None,
                                                  title=f"certdoctor diagnose {target}", now=d.now,
                                                  source=f"certdoctor diagnose (client {client})"))
        if is_stdout(html):
            return d.exit_code
    if as_json:
        from certdoctor.render.diagnose import diagnosis_json
        from certdoctor.render.json import emit

        emit(diagnosis_json(d, target))
    else:
        from certdoctor.cli.common import console
        from certdoctor.render.diagnose import render_diagnosis

        render_diagnosis(d, console())
    return d.exit_code


def bounded_call(fn, kwargs: dict):
    """``fn(**kwargs)`` under one deadline of ``kwargs["timeout"]`` seconds and with
    ``allow_private_fetch`` (taken out of ``kwargs``) in force: what
    :func:`certdoctor.cli.options.bounded` wraps every connecting command in."""
    from certdoctor.net.deadline import within
    from certdoctor.net.resolve import allowing_private_fetch

    allow = kwargs.pop("allow_private_fetch", False)
    with within(kwargs.get("timeout")), allowing_private_fetch(allow):
        return fn(**kwargs)


def main(args: list[str]) -> int | None:
    """Run ``certdoctor ARGS`` here when it is a ``diagnose`` command line this module reads; ``None``:
    click must run it. Errors: the same lines and exit codes as :func:`certdoctor.cli.common.run`."""
    if not args or args[0] != "diagnose" or "--debug" in args:
        return None
    params = parse_diagnose(args[1:])
    if params is None:
        return None
    from certdoctor.cli.common import Exit, error_lines, help_hint, quiet_warnings
    from certdoctor.errors import CertdoctorError

    quiet_warnings()
    try:
        return int(bounded_call(diagnose_body, params) or 0)
    except CertdoctorError as exc:
        for line in error_lines(exc, help_hint("diagnose")):
            sys.stderr.write(line + "\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        return 130
    except BrokenPipeError:
        return Exit.PROBLEM


__all__ = ["parse_diagnose", "diagnose_body", "bounded_call", "main", "defaults"]
