"""Renderers for a :class:`~certdoctor.x509.convert.ConvertResult`: the JSON document and text."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

    from certdoctor.x509.convert import ConvertResult

WORDS = {"pem": "PEM", "der": "DER", "p7b": "PKCS#7 (DER)", "p7b-pem": "PKCS#7 (PEM)"}


def convert_keys(result: "ConvertResult") -> dict[str, Any]:
    """What was read and written (schema 1's keys)."""
    return {
        "input": {"source": result.source, "format": result.input_format, "count": result.input_count},
        "output_format": result.output_format,
        "written": [
            {"path": str(w.path), "kind": w.kind, "format": w.format, "count": w.count, "mode": f"{w.mode:04o}"}
            for w in result.written
        ],
        "ordered": result.ordered,
        "order": list(result.order),
        "off_path": list(result.off_path),
        "key_written": result.key_written,
        "key_skipped": result.key_skipped,
        "notes": list(result.notes),
    }


def convert_json(result: "ConvertResult", target: dict[str, Any] | None, certs: Sequence[Any] = ()) -> dict[str, Any]:
    """``certdoctor convert --json``: the envelope (the input's certificates, in input order) plus
    :func:`convert_keys`."""
    from certdoctor.render.json import certificates_of, envelope

    return envelope("convert", target=target, exit_code=0, certificates=certificates_of(certs, leaf=None),
                    **convert_keys(result))


def render_convert(result: "ConvertResult", console: "Console") -> None:
    from certdoctor.render.text import markup

    out = console
    for w in result.written:
        if w.kind == "private-key":
            out.print(f"wrote [bold]{markup(w.path)}[/bold]: private key (PEM, unencrypted), mode {w.mode:04o}",
                      soft_wrap=True)
        else:
            n = f"{w.count} certificate{'s' if w.count != 1 else ''}"
            out.print(f"wrote [bold]{markup(w.path)}[/bold]: {markup(WORDS.get(w.format, w.format))}, {n}",
                      soft_wrap=True)
    if result.ordered:
        order = " ".join(str(i) for i in result.order)
        out.print(f"order: input certificates [{order}] (leaf first)", soft_wrap=True)
    for note in result.notes:
        out.print(f"note: {markup(note)}", style="yellow", soft_wrap=True)


__all__ = ["convert_json", "convert_keys", "render_convert"]
