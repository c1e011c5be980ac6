"""``make demo``: start the lab and show, for every scenario, what a newcomer sees and what
certdoctor says about it.

For each endpoint: the error the real ``requests.get()`` raises today (trusting the lab's
private root, as a company would trust its own CA), then certdoctor's diagnosis in one line,
then a full explanation for three showcase scenarios.
"""

from __future__ import annotations

import os
import sys


def _clean_env() -> None:
    # The machines here export CA variables: exactly the trap certdoctor reports. The demo
    # shows the lab's behaviour, so it runs without them (diagnose still reports them when set).
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR",
                 "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        os.environ.pop(name, None)


def _requests_outcome(url: str, ca_file: str, proxy: str | None) -> str:
    import requests

    try:
        with requests.Session() as s:
            s.trust_env = False
            r = s.get(url, verify=ca_file, timeout=5, proxies={"https": proxy} if proxy else {})
            return f"OK {r.status_code}"
    except Exception as exc:  # what the newcomer sees
        text = str(exc)
        for marker in ("certificate verify failed: ", "[SSL: "):
            if marker in text:
                text = text[text.index(marker):]
                break
        return f"{type(exc).__name__}: {text.rstrip(chr(39) + chr(34) + ')>')[:150]}"


def main(argv: list[str] | None = None) -> int:
    from rich.table import Table

    from certdoctor.diagnose import diagnose
    from certdoctor.lab import SCENARIOS, Lab
    from certdoctor.render.diagnose import render_diagnosis
    from certdoctor.render.text import console as make_console, markup as escape

    _clean_env()
    console = make_console()  # the commands' console: sanitised, never hard-wrapped on a pipe
    showcase = ("missing_intermediate", "intercepting_proxy", "strict_bc_not_critical")
    with Lab() as lab, lab.resolving():
        ca = str(lab.ca_file)
        console.print(f"[bold]certdoctor lab[/]: {len(lab.endpoints)} endpoints on 127.0.0.1, private root {ca}\n")
        table = Table("scenario", "requests.get(url, verify=lab root) today", "certdoctor says", show_lines=False)
        details = {}
        for ep in lab.endpoints:
            sc = SCENARIOS[ep.scenario]
            if sc.id == "stall":
                continue  # a 10-second timeout teaches nothing in a demo
            proxy = lab.proxy_url if sc.via_proxy else None
            seen = _requests_outcome(ep.url, ca, proxy)
            d = diagnose(ep.url, ca_file=ca, proxy=proxy, timeout=5)
            top = d.primary
            said = "[green]healthy[/]" if not d.findings else (
                f"[{'red' if top.severity.value == 'error' else 'yellow'}]{top.code.value}[/]: {escape(top.summary)}")
            table.add_row(sc.id, escape(seen), said)
            if sc.id in showcase:
                details[sc.id] = d
        console.print(table)
        for sid in showcase:
            if sid in details:
                console.rule(f"[bold]{sid}")
                render_diagnosis(details[sid], console)
        console.rule("[bold]the same good server, default trust (certifi)")
        render_diagnosis(diagnose(lab.endpoint("good").url, timeout=5), console)
    console.print("Try it yourself: [bold]certdoctor lab[/] in one shell, then "
                  "[bold]certdoctor diagnose --resolve '*.lab.test:127.0.0.1' URL --ca-file CA[/] in another.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
