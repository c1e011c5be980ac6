"""Renderers for ``certdoctor lab``: the scenario list and a running lab's endpoints, as JSON
documents and rich tables (paths and commands soft-wrapped: copy-paste safe)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

    from certdoctor.lab import Lab, Scenario

#: what makes the lab's names resolve, for certdoctor's --resolve and CERTDOCTOR_RESOLVE
RESOLVE_HINT = "*.lab.test:127.0.0.1"


def _codes(codes) -> str:
    return ", ".join(c.value for c in codes) or "OK"


def scenario_doc(sc: "Scenario") -> dict[str, Any]:
    return {
        "id": sc.id,
        "hostname": sc.hostname,
        "description": sc.description,
        "expected_codes": [c.value for c in sc.expected_codes],
        "requests_error": sc.requests_error,
        "requests_error_default": sc.requests_error_default,
        "strict_error": sc.strict_expected,
        "via_proxy": sc.via_proxy,
    }


def list_json(selected: Iterable["Scenario"]) -> dict[str, Any]:
    """``certdoctor lab --list --json``: the envelope (no target, nothing checked) plus ``scenarios``."""
    from certdoctor.render.json import envelope

    return envelope("lab", target=None, exit_code=0, scenarios=[scenario_doc(s) for s in selected])


def render_list(selected: Iterable["Scenario"], console: "Console") -> None:
    from rich.table import Table

    from certdoctor.render.text import markup

    table = Table(title="certdoctor lab scenarios", show_lines=False)
    table.add_column("scenario", style="bold", no_wrap=True)
    table.add_column("hostname", overflow="fold")
    table.add_column("expected codes", overflow="fold")
    table.add_column("requests says (lab root trusted)")
    for s in selected:
        table.add_row(markup(s.id), markup(s.hostname), _codes(s.expected_codes),
                      markup(s.requests_error or "OK" + (f" (3.13: {s.strict_error})" if s.strict_error else "")))
    console.print(table)


def serving_keys(lab: "Lab") -> dict[str, Any]:
    scen = {s.id: s for s in lab.scenarios}
    return {
        "ca_file": str(lab.ca_file),
        "workdir": str(lab.workdir),
        "http_base": lab.http_base,
        "proxy_url": lab.proxy_url,
        "proxy_ca_file": str(lab.proxy_ca_file),
        "client_cert_file": str(lab.client_cert_file),
        "client_key_file": str(lab.client_key_file),
        "resolve": RESOLVE_HINT,
        "started_in": round(lab.started_in or 0.0, 3),
        "endpoints": [
            {
                "scenario": e.scenario,
                "url": e.url,
                "hostname": e.hostname,
                "host": e.host,
                "port": e.port,
                "proxy": e.proxy,
                "expected_codes": [c.value for c in scen[e.scenario].expected_codes]
                if e.scenario in scen else [],
            }
            for e in lab.endpoints
        ],
    }


def serving_json(lab: "Lab") -> dict[str, Any]:
    """``certdoctor lab --json`` (printed once the lab is up): the envelope plus where everything is."""
    from certdoctor.render.json import envelope

    return envelope("lab", target=None, exit_code=0, **serving_keys(lab))


def render_serving(lab: "Lab", console: "Console") -> None:
    from rich.table import Table

    from certdoctor.render.text import assign, markup, safe, shell

    out = console
    scen = {s.id: s for s in lab.scenarios}
    table = Table(title=f"certdoctor lab: {len(lab.endpoints)} endpoint(s) on 127.0.0.1 "
                        f"(started in {lab.started_in:.2f} s)")
    table.add_column("scenario", style="bold", no_wrap=True)
    table.add_column("URL", overflow="fold")
    table.add_column("expected codes", overflow="fold")
    for e in lab.endpoints:
        sc = scen.get(e.scenario)
        url = e.url + (f"  via {e.proxy}" if e.proxy else "")
        table.add_row(markup(e.scenario), markup(url), _codes(sc.expected_codes) if sc else "")
    out.print(table)
    good = lab.endpoints.get("good")
    lines = [
        f"CA file (the lab root):  {safe(lab.ca_file)}",
        f"work directory (PEMs):   {safe(lab.workdir)}",
        f"helper HTTP server:      {safe(lab.http_base)}  (AIA, CRL, OCSP, /hostile/...)",
        f"intercepting proxy:      {safe(lab.proxy_url)}  (its root: {safe(lab.proxy_ca_file)})",
        f"client certificate:      {safe(lab.client_cert_file)}  key {safe(lab.client_key_file)}",
        "",
        "The *.lab.test names resolve only where you say so:",
        f"  certdoctor commands: {shell('--resolve', RESOLVE_HINT)}  "
        f"(or {shell(assign('CERTDOCTOR_RESOLVE', RESOLVE_HINT))})",
    ]
    if good is not None:
        lines.append("  " + shell("curl", "--resolve", f"{good.hostname}:{good.port}:127.0.0.1",
                                  "--cacert", lab.ca_file, good.url))
    for line in lines:
        # soft wrap: long paths and commands must stay copy-pasteable
        out.print(line, soft_wrap=True, markup=False)
    out.print("Ctrl-C stops the lab.")


__all__ = ["RESOLVE_HINT", "scenario_doc", "list_json", "render_list", "serving_keys", "serving_json",
           "render_serving"]
