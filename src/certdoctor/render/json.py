"""The one JSON envelope of every command's ``--json`` (documented in docs/JSON.md).

Every document is::

    {"schema_version": 2, "command": "inspect", "target": {...} | null, "exit_code": 0,
     "findings": [finding, ...], "certificates": [certificate, ...], ...command-specific keys}

* ``target`` is null when the command was given nothing to look at (``lab``, ``pin
  --new-backup-key`` alone, a usage error), else one object with every key of
  :data:`TARGET_KEYS`: ``input`` (as typed), ``kind`` (``file``, ``directory``, ``stdin``,
  ``endpoint``, or ``several`` when the command was given several inputs: then ``input`` is null
  and the command's own key lists them), ``path`` (file, directory), ``host``/``port``/
  ``servername``/``url`` (endpoint);
* a finding is :class:`certdoctor.model.Finding` as :func:`certdoctor.model.to_jsonable` makes
  it, the same object in every command (:data:`FINDING_KEYS`); ``cert_index`` points into the same
  document's ``certificates``;
* a certificate is :func:`certdoctor.render.inspect.cert_json` with every key of
  :data:`CERTIFICATE_KEYS` present (``index`` is its position in ``certificates``).

Per-command builders live beside each renderer (``render/<command>.py``); they all end here.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from certdoctor.model import SCHEMA_VERSION, Finding, to_jsonable

if TYPE_CHECKING:  # pragma: no cover
    from certdoctor.model import ChainInfo
    from certdoctor.net.target import Source, Target

ENVELOPE_KEYS = ("schema_version", "command", "target", "exit_code", "findings", "certificates")
TARGET_KEYS = ("input", "kind", "path", "host", "port", "servername", "url")
TARGET_KINDS = ("file", "directory", "stdin", "endpoint", "several")
FINDING_KEYS = ("code", "severity", "summary", "explanation", "evidence", "fix", "who", "cert_index", "location",
                "rule")
LOCATION_KEYS = ("path", "line", "column", "block", "snippet")
SEVERAL = "several"


def target_json(source: "Source | Sequence[Source] | None") -> dict[str, Any] | None:
    """The ``target`` object of a :class:`~certdoctor.net.target.Source` (a list of them: one
    source is that source, several are kind ``several``); ``None`` for nothing."""
    if source is None:
        return None
    if isinstance(source, (list, tuple)):
        if len(source) == 1:
            return target_json(source[0])
        return make_target(None, SEVERAL)
    t = source.target
    return make_target(source.input, source.kind, path=source.path, endpoint=t)


def make_target(input: str | None, kind: str, *, path: str | None = None,
                endpoint: "Target | None" = None, host: str | None = None, port: int | None = None,
                servername: str | None = None, url: str | None = None) -> dict[str, Any]:
    """A ``target`` object from its parts (every key present, ``None`` where it does not apply):
    an endpoint as a :class:`~certdoctor.net.target.Target`, or as ``host``/``port``/… ."""
    if endpoint is not None:
        host, port, servername, url = endpoint.host, endpoint.port, endpoint.servername, endpoint.url
    if kind not in TARGET_KINDS:
        raise ValueError(f"target kind {kind!r} is not one of {TARGET_KINDS}")
    return {
        "input": input,
        "kind": kind,
        "path": path,
        "host": host,
        "port": port,
        "servername": servername,
        "url": url,
    }


def findings_json(findings: Iterable[Finding]) -> list[dict[str, Any]]:
    """Finding objects (:data:`FINDING_KEYS`, ``location`` an object or null)."""
    return [to_jsonable(f) for f in findings]


def chain_certificates(chain: "ChainInfo | None", *, leaf: int | None = 0) -> list[dict[str, Any]]:
    """Certificate objects of a chain: ``leaf=0`` as a server presents it, ``None`` to find the
    leaf by content (a file)."""
    if chain is None:
        return []
    from certdoctor.render.inspect import ChainShape, certificates_json

    return certificates_json(chain, ChainShape.of(chain, leaf=leaf))


def certificates_of(certs: Sequence[Any], *, leaf: int | None = 0) -> list[dict[str, Any]]:
    """Certificate objects of ``cryptography`` certificates (analysed as one list)."""
    from certdoctor.model import ChainInfo

    return chain_certificates(ChainInfo.analyse(list(certs)), leaf=leaf) if certs else []


def envelope(command: str, *, target: dict[str, Any] | None, exit_code: int,
             findings: Iterable[Finding] = (), certificates: Sequence[dict[str, Any]] = (),
             **extra: Any) -> dict[str, Any]:
    """The document: the envelope keys first (in :data:`ENVELOPE_KEYS` order), then ``extra``
    (made JSON-ready with :func:`~certdoctor.model.to_jsonable`)."""
    clash = set(extra) & set(ENVELOPE_KEYS)
    if clash:
        raise ValueError(f"command keys {sorted(clash)} would overwrite the envelope")
    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "command": command,
        "target": target,
        "exit_code": int(exit_code),
        "findings": findings_json(findings),
        "certificates": list(certificates),
    }
    doc.update(to_jsonable(extra))
    return doc


def fields(obj: Any, *names: str) -> dict[str, Any]:
    """``{name: obj.name}`` for each of ``names``, in that order: the command keys of an envelope
    that are a result's own attributes under the same names (``envelope(..., **fields(r, "a", "b"))``)."""
    return {name: getattr(obj, name) for name in names}


def dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=False)


def emit(doc: dict[str, Any]) -> None:
    """Write the document to stdout (one JSON document, nothing else). Plain ``sys.stdout``:
    the text is ASCII (``json.dumps`` escapes the rest), and importing click only to print it
    cost ~20 ms of ``diagnose --json``'s start (-X importtime)."""
    import sys

    sys.stdout.write(dumps(doc) + "\n")
    sys.stdout.flush()


__all__ = [
    "ENVELOPE_KEYS",
    "TARGET_KEYS",
    "TARGET_KINDS",
    "FINDING_KEYS",
    "LOCATION_KEYS",
    "target_json",
    "make_target",
    "findings_json",
    "chain_certificates",
    "certificates_of",
    "envelope",
    "fields",
    "dumps",
    "emit",
]
