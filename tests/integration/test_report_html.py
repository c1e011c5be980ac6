"""The HTML report in a real browser (Debian's headless ``chromium``, docs/REPORT.md).

A lab fleet (the built-in lab's broken endpoints, plus two servers of this test: one whose
certificate is swapped between two monitor runs so the state has changes, one whose leaf has a
hostile subject) is monitored twice with ``--state``, then ``certdoctor report STATE --html`` is
opened in one headless Chromium (the DevTools protocol over a pipe, tests/support/chromium.py) and
checked: one row per target, one timeline bar per certificate, the failing chains marked where
they break, no network request and no console error (each check proven able to fail on a page
that loads an image and throws), no horizontal scroll and non-blank screenshots at 1280 and 390
px, the hostile subject shown as text. ``chromium --dump-dom`` (the plain command line) sees the
same rows and prints no console message.
"""

from __future__ import annotations

import datetime as dt
import json
from html.parser import HTMLParser
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from certdoctor.monitor.state import State
from support.chromium import CHROMIUM, Browser, console_lines, dump_dom, png_info
from support.cli import run_cli_captured
from support.pki import NOW, TestCA, pem, self_signed
from support.servers import server_context

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (scripts/ensure-tools.sh)")

LAB = ("good", "missing_intermediate", "expired_leaf", "expired_intermediate", "self_signed", "untrusted_root",
       "hostname_mismatch", "extra_cert", "expiring_soon", "plain_http")
SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'


class Elements(HTMLParser):
    """Every element of a page: ``(tag, attrs)``, and the text."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_startendtag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def find(self, tag: str, cls: str | None = None, **attrs: str) -> list[dict[str, str | None]]:
        out = []
        for t, a in self.elements:
            if t != tag or (cls is not None and cls not in (a.get("class") or "").split()):
                continue
            if all(a.get(k.replace("_", "-")) == v for k, v in attrs.items()):
                out.append(a)
        return out


class Article(Elements):
    """The elements and text of the one ``<article class="target">`` of ``target`` (articles do not nest)."""

    def __init__(self, text: str, target: str) -> None:
        self.target, self.inside, self.seen = target, False, 0
        super().__init__(text)
        assert self.seen == 1, f"{self.seen} articles of {target!r}"

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "article" and a.get("data-target") == self.target:
            self.inside, self.seen = True, self.seen + 1
        if self.inside:
            super().handle_starttag(tag, attrs)

    def handle_startendtag(self, tag, attrs):
        if self.inside:
            super().handle_startendtag(tag, attrs)

    def handle_endtag(self, tag):
        if tag == "article":
            self.inside = False

    def handle_data(self, data):
        if self.inside:
            super().handle_data(data)


def article(dom: str, target: str) -> Elements:
    return Article(dom, target)


def assert_quiet(page, url: str) -> None:
    """The page asked the network for nothing but itself and logged no error."""
    assert page.requests == [url], f"the page made network requests: {page.requests}"
    assert page.console_errors == [], f"console errors: {page.console_errors}"


@pytest.fixture(scope="module")
def fleet(lab, tmp_path_factory):
    """Two monitor runs on one state file, then `certdoctor report`: the paths and the targets."""
    from support.servers import ServerGroup

    tmp = tmp_path_factory.mktemp("report")
    root = TestCA("Report Root")
    inter = root.intermediate("Report Inter")
    hostile = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, IMG),
                         x509.NameAttribute(NameOID.COMMON_NAME, SCRIPT)])
    bundle = tmp / "cas.pem"
    bundle.write_bytes(Path(lab.ca_file).read_bytes() + pem(root.cert))
    state = tmp / "state.sqlite"
    with ServerGroup() as servers:
        swapped = servers.tls(inter.issue_cert("127.0.0.1"))
        evil = servers.tls(inter.issue_cert("127.0.0.1", subject=hostile))
        # the hostile server: its leaf's subject, and a URL path as written in a config someone else edits
        evil_url = f"https://127.0.0.1:{evil.port}/{SCRIPT}{IMG}"
        targets = [lab.endpoint(s).url for s in LAB] + [f"127.0.0.1:{swapped.port}", evil_url]
        argv = ["monitor", *targets, "--ca-file", str(bundle), "--state", str(state), "--timeout", "5"]
        code, _, err = run_cli_captured_plain(argv + ["--html", str(tmp / "run1.html")])
        assert code == 2 and (tmp / "run1.html").exists(), err
        # the second run: verification starts failing on the swapped server (a self-signed leaf)
        swapped.tls = server_context(self_signed("127.0.0.1", not_after=NOW + dt.timedelta(days=20)))
        code, _, err = run_cli_captured_plain(argv + ["--html", str(tmp / "run2.html")])
        assert code == 2, err
    code, _, err = run_cli_captured_plain(["report", str(state), "--html", str(tmp / "report.html")])
    assert code == 0 and "12 target(s)" in err, err
    with State.read(state) as st:
        latest = st.latest()
    fingerprints = {c["fingerprint_sha256"] for e in latest for c in e["snapshot"]["certificates"]}
    return {"tmp": tmp, "report": tmp / "report.html", "targets": targets, "fingerprints": fingerprints,
            "swapped": f"127.0.0.1:{swapped.port}", "evil": evil_url, "lab": lab, "state": state,
            "evil_subject": subject_text(hostile)}


def subject_text(name: x509.Name) -> str:
    """A subject as certdoctor shows it (RFC 4514: the markup characters backslash-escaped)."""
    from certdoctor.model import CertInfo

    return CertInfo.from_certificate(TestCA("x").issue_cert("127.0.0.1", subject=name).cert).subject


def run_cli_captured_plain(argv):
    """The CLI in-process, its output captured by hand (a module fixture has no capsys)."""
    import contextlib
    import io

    from support.cli import run_cli

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run_cli(argv)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    b = Browser(tmp_path_factory.mktemp("chromium"))
    try:
        yield b
    finally:
        b.close()


@pytest.fixture(scope="module")
def page(fleet, browser):
    url = fleet["report"].resolve().as_uri()
    return browser.load(url, width=1280)


def test_one_row_per_target_and_one_bar_per_certificate(fleet, page):
    dom = Elements(page.dom())
    rows = dom.find("tr", "target-row")
    assert sorted(r["data-target"] for r in rows) == sorted(fleet["targets"])
    assert len(dom.find("article", "target")) == len(fleet["targets"])
    bars = dom.find("rect", "bar")
    assert len(bars) == len(fleet["fingerprints"]) and len(bars) >= 10
    lanes = {a["data-fingerprint"] for a in dom.find("div", "lane")}
    assert lanes == fleet["fingerprints"]
    status = {r["data-target"]: r["data-status"] for r in rows}
    lab = fleet["lab"]
    assert status[lab.endpoint("good").url] == "ok"
    assert status[lab.endpoint("plain_http").url] == "unknown"
    assert status[lab.endpoint("missing_intermediate").url] == "critical"
    counts = {li["data-group"]: int(li["data-count"]) for li in dom.find("li") if li.get("data-group")}
    assert sum(counts.values()) == len(fleet["targets"]) and counts["failing"] == 1 and counts["ok"] >= 1
    assert dom.find("tr", data_code="CHAIN_INCOMPLETE") and dom.find("tr", data_code="EXPIRED")


def test_the_failing_chains_are_marked_where_they_break(fleet, page):
    dom = page.dom()
    lab = fleet["lab"]
    missing = article(dom, lab.endpoint("missing_intermediate").url)
    [gap] = missing.find("li", "node", data_state="missing")
    assert gap["data-broken"] == "CHAIN_INCOMPLETE" and gap["data-sent"] == "false"
    assert "certdoctor Lab Intermediate CA" in "".join(missing.text)
    expired = article(dom, lab.endpoint("expired_leaf").url)
    [leaf] = expired.find("li", "node", data_role="leaf")
    assert leaf["data-state"] == "expired" and leaf["data-broken"] == "EXPIRED"
    inter = article(dom, lab.endpoint("expired_intermediate").url)
    [broken] = [n for n in inter.find("li", "node") if "data-broken" in n]
    assert broken["data-role"] == "intermediate" and broken["data-state"] == "expired"
    untrusted = article(dom, lab.endpoint("untrusted_root").url)
    [top] = [n for n in untrusted.find("li", "node") if "data-broken" in n]
    assert top["data-role"] == "root" and top["data-state"] == "untrusted" and top["data-broken"] == "UNTRUSTED_ROOT"
    mismatch = article(dom, lab.endpoint("hostname_mismatch").url)
    assert [n["data-role"] for n in mismatch.find("li", "node") if "data-broken" in n] == ["leaf"]
    good = article(dom, lab.endpoint("good").url)
    nodes = good.find("li", "node")
    assert [n["data-role"] for n in nodes] == ["leaf", "intermediate", "root"]
    assert all("data-broken" not in n and n["data-state"] == "ok" for n in nodes)
    # the second run's self-signed leaf: broken at the leaf, which is its own root
    swapped = article(dom, fleet["swapped"])
    [n] = swapped.find("li", "node")
    assert n["data-state"] == "untrusted" and "SELF_SIGNED" in n["data-broken"]
    # findings come with their explanation and fix
    finding = missing.find("div", "finding", data_code="CHAIN_INCOMPLETE")
    assert finding and missing.find("p", "explanation") and missing.find("p", "fix")


def test_the_changes_of_the_second_run_are_listed(fleet, page):
    dom = Elements(page.dom())
    kinds = {(r["data-target"], r["data-kind"]) for r in dom.find("tr", "change")}
    swapped = fleet["swapped"]
    assert {(swapped, "new_target"), (swapped, "verification_failed"), (swapped, "leaf_rekeyed"),
            (swapped, "issuer_changed")} <= kinds


def test_no_network_request_and_no_console_error(fleet, page):
    assert_quiet(page, fleet["report"].resolve().as_uri())


def test_the_checks_fail_on_a_page_that_loads_an_image_and_throws(fleet, browser, servers):
    """assert_quiet is not a check that cannot fail: an image from a real server on 127.0.0.1
    and a deliberate JS error are both caught (and the server did get the request)."""
    img = servers.http({"/pixel.png": (200, {"Content-Type": "image/png"}, b"\x89PNG\r\n\x1a\n")})
    bad = fleet["tmp"] / "bad.html"
    bad.write_text(f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>bad</title></head><body>'
                   f'<img src="{img.url_for("/pixel.png")}"><script>undefinedFunction();</script></body></html>')
    url = bad.resolve().as_uri()
    got = browser.load(url)
    assert img.url_for("/pixel.png") in got.requests
    assert img.received().path == "/pixel.png"
    assert any("undefinedFunction" in e for e in got.console_errors)
    with pytest.raises(AssertionError, match="network requests"):
        assert_quiet(got, url)
    got.requests[:] = [url]
    with pytest.raises(AssertionError, match="console errors"):
        assert_quiet(got, url)


def test_responsive_without_horizontal_scroll_and_screenshots(fleet, page):
    tmp = fleet["tmp"]
    for width in (1280, 390):
        shot = page.screenshot(tmp / f"report-{width}.png", width)
        scroll, client = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert client == width and scroll <= client, f"horizontal scroll at {width} px: {scroll} > {client}"
        info = png_info(shot.read_bytes())
        assert info.width == width and info.height == 2000
        assert info.distinct_rows > 100, f"the {width} px screenshot looks blank ({info.distinct_rows} distinct rows)"
    # the timeline's SVGs scale with their viewBox: as wide as the page's content at 390 px
    widths = page.evaluate("Array.from(document.querySelectorAll('.lane svg')).map(s => s.getBoundingClientRect().width)")
    assert widths and max(widths) <= 390


def test_a_hostile_subject_stays_visible_text(fleet, page):
    dom = page.dom()
    parsed = Elements(dom)
    assert not parsed.find("script") and not parsed.find("img")
    assert not [a for _, a in parsed.elements if any(k.startswith("on") for k in a)]
    text = "".join(parsed.text)
    subject = fleet["evil_subject"]
    assert "<script" in subject and "onerror" in subject  # RFC 4514 escapes with backslashes only
    for hostile in (fleet["evil"], subject):
        assert hostile in text
        visible = page.evaluate("""(needle => {
            const w = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
            const found = [];
            while (w.nextNode()) {
                const n = w.currentNode;
                if (n.data.includes(needle)) {
                    const el = n.parentElement, r = el.getBoundingClientRect(), s = getComputedStyle(el);
                    found.push(r.width > 0 && r.height > 0 && s.visibility === 'visible' && s.display !== 'none');
                }
            }
            return found;
        })(%s)""" % json.dumps(hostile))
        assert visible and any(visible), f"{hostile!r} is not shown as text"
    evil = article(dom, fleet["evil"])
    assert SCRIPT + IMG in "".join(evil.text) and subject in "".join(evil.text)


def test_dump_dom_sees_the_rows_and_no_console_message(fleet):
    """The plain command line (`chromium --headless=new --dump-dom`, console on stderr) agrees;
    the same console check finds the deliberate error of a bad page."""
    dom, stderr = dump_dom(fleet["report"].resolve().as_uri(), fleet["tmp"])
    assert len(Elements(dom).find("tr", "target-row")) == len(fleet["targets"])
    assert console_lines(stderr) == []
    bad = fleet["tmp"] / "throws.html"
    bad.write_text("<!DOCTYPE html><title>t</title><script>undefinedFunction();</script>")
    _, stderr = dump_dom(bad.resolve().as_uri(), fleet["tmp"])
    assert any("undefinedFunction" in line for line in console_lines(stderr))


def test_monitor_and_diagnose_pages(fleet, browser, lab, capsys):
    """`monitor --html` wrote each run's page; `diagnose URL --html` one target's, as quiet."""
    run2 = Elements(fleet["tmp"].joinpath("run2.html").read_text())
    assert len(run2.find("tr", "target-row")) == len(fleet["targets"])
    assert {r["data-kind"] for r in run2.find("tr", "change")} >= {"verification_failed"}
    out = fleet["tmp"] / "diagnose.html"
    url = lab.endpoint("missing_intermediate").url
    code, _, err = run_cli_captured(["diagnose", url, "--ca-file", str(lab.ca_file), "--no-aia", "--no-revocation",
                                     "--html", str(out)], capsys)
    assert code == 1, err
    got = browser.load(out.resolve().as_uri(), width=390)
    assert_quiet(got, out.resolve().as_uri())
    dom = Elements(got.dom())
    [row] = dom.find("tr", "target-row")
    assert row["data-target"] == url and row["data-status"] == "critical"
    assert dom.find("li", "node", data_state="missing", data_broken="CHAIN_INCOMPLETE")
    assert got.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def test_dark_scheme_and_print(fleet, page):
    """The colours follow prefers-color-scheme; print media keeps a white page and prints to PDF."""
    def background():
        return page.evaluate("getComputedStyle(document.body).backgroundColor")

    page.set_width(1280)
    try:
        page.send("Emulation.setEmulatedMedia", features=[{"name": "prefers-color-scheme", "value": "light"}])
        light = background()
        page.send("Emulation.setEmulatedMedia", features=[{"name": "prefers-color-scheme", "value": "dark"}])
        dark = background()
        badge = page.evaluate("getComputedStyle(document.querySelector('article.target .badge')).color")
        page.send("Emulation.setEmulatedMedia", media="print",
                  features=[{"name": "prefers-color-scheme", "value": "dark"}])
        printed = background()
        breaks = page.evaluate("getComputedStyle(document.querySelector('article.target')).breakInside")
        pdf = page.send("Page.printToPDF", printBackground=True)["data"]
    finally:
        page.send("Emulation.setEmulatedMedia", media="", features=[])
    assert light == "rgb(255, 255, 255)" and dark == "rgb(13, 17, 23)" and badge == "rgb(255, 255, 255)"
    assert printed == "rgb(255, 255, 255)" and breaks == "avoid"
    import base64
    import re

    data = base64.b64decode(pdf)
    assert data.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page(?!s)", data)) >= 2  # several pages
