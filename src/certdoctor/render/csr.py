"""Renderers for ``certdoctor csr``: a :class:`~certdoctor.renew.csr.CsrResult` as the JSON
document (docs/JSON.md) and as plain text."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from certdoctor.render.text import echo, safe

if TYPE_CHECKING:  # pragma: no cover
    from certdoctor.renew.csr import CsrResult


def _spki_sha256(result: "CsrResult") -> str:
    from cryptography.hazmat.primitives import serialization

    spki = result.key.public_key().public_bytes(serialization.Encoding.DER,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).hexdigest()


def csr_json(result: "CsrResult", *, key_path: str | None, csr_path: str) -> dict[str, Any]:
    """``certdoctor csr --json``: the envelope (no target, no findings, no certificates) plus
    ``csr`` (path, PEM, names, ips, common_name, notes) and ``key`` (path, type, new, SPKI SHA-256)."""
    from certdoctor.render.json import envelope

    return envelope("csr", target=None, exit_code=0,
                    csr={"path": csr_path, "pem": result.csr_pem.decode("ascii"), "names": list(result.names),
                         "ips": list(result.ips), "common_name": result.common_name, "notes": list(result.notes)},
                    key={"path": key_path, "key_type": result.key_type, "new": result.new_key,
                         "mode": "0600" if result.new_key else None, "spki_sha256": _spki_sha256(result)})


def render_csr(result: "CsrResult", *, key_path: str | None, csr_path: str, to_stderr: bool = False) -> None:
    """The summary; with ``--out-csr -`` the CSR itself is on stdout, so the summary goes to stderr."""
    err = to_stderr
    if result.new_key:
        echo(f"key  {safe(key_path)}  (new {result.key_type}, mode 0600)", err=err)
    else:
        echo(f"key  {safe(key_path)}  (reused, {result.key_type})", err=err)
    echo(f"csr  {'standard output' if to_stderr else safe(csr_path)}", err=err)
    sans = [f"DNS:{n}" for n in result.names] + [f"IP:{i}" for i in result.ips]
    echo(f"  subjectAltName  {safe(', '.join(sans))}", err=err)
    echo(f"  commonName      {safe(result.common_name) if result.common_name else '(none)'}", err=err)
    for note in result.notes:
        echo(f"  note: {safe(note)}", err=err)
    if not to_stderr:
        echo(f"Check it: openssl req -in {safe(csr_path)} -noout -verify -text", err=err)
