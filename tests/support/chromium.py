"""Headless Chromium (Debian's ``chromium``) driven over the DevTools protocol, for the HTML
report's browser tests (tests/integration/test_report_html.py).

One browser per test module is enough: a :class:`Browser` is started with
``--remote-debugging-pipe`` (the protocol on file descriptors 3 and 4: JSON messages ended by a
NUL byte; no port is opened), its own ``--user-data-dir`` in the test's tmp dir, and stopped in
``finally``. :meth:`Browser.load` opens a page in a fresh tab and records, *for that page only*,
what the page did:

* ``requests``: every URL the page asked the network for (``Network.requestWillBeSent``; the
  browser's own background traffic — component updates, time queries — is not the page's and
  never reaches this list); ``data:`` URLs are not network requests and are left out;
* ``console_errors``: ``console.error``/``assert`` calls, uncaught exceptions
  (``Runtime.exceptionThrown``) and the browser's error log entries for the page
  (``Log.entryAdded`` level ``error``: a Content-Security-Policy violation, a failed load).

:meth:`Page.evaluate` runs JavaScript through the protocol (the page's CSP forbids its own
scripts, not the debugger's), :meth:`Page.screenshot` sets the viewport width and captures a PNG.
Every wait is bounded; nothing here asserts a duration.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import struct
import subprocess
import sys
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM = shutil.which("chromium")
#: quiet, hermetic flags: no first-run UI, no background services, every host name but
#: 127.0.0.1 unresolvable (a page can reach nothing outside the test's own servers)
FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-default-apps",
    "--disable-extensions", "--disable-breakpad", "--disable-dev-shm-usage", "--hide-scrollbars",
    "--mute-audio", "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,Translate,MediaRouter",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
)


_ON_3_AND_4 = ("import os, sys; a, b = os.dup(int(sys.argv[1])), os.dup(int(sys.argv[2])); "
               "os.dup2(a, 3); os.dup2(b, 4); os.set_inheritable(3, True); os.set_inheritable(4, True); "
               "os.execv(sys.argv[3], sys.argv[3:])")


class ChromiumError(AssertionError):
    pass


@dataclass
class Page:
    browser: "Browser"
    session: str
    url: str
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)

    def send(self, method: str, **params: Any) -> dict:
        return self.browser.send(method, params, session=self.session)

    def evaluate(self, expression: str) -> Any:
        got = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in got:
            raise ChromiumError(f"evaluate failed: {got['exceptionDetails']}")
        return got["result"].get("value")

    def set_width(self, width: int, height: int = 2000) -> None:
        self.send("Page.bringToFront")  # a tab in the background is never painted
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                  mobile=False)
        self.evaluate("document.documentElement.getBoundingClientRect().width")  # lay out at the new width

    def screenshot(self, path: Path, width: int, height: int = 2000) -> Path:
        self.set_width(width, height)
        got = self.send("Page.captureScreenshot", format="png")
        path.write_bytes(base64.b64decode(got["data"]))
        return path

    def dom(self) -> str:
        return self.evaluate("document.documentElement.outerHTML")


class Browser:
    """A headless Chromium under the test's control (a context manager)."""

    def __init__(self, tmp: Path, timeout: float = 60.0) -> None:
        if CHROMIUM is None:
            raise ChromiumError("chromium is not installed (scripts/ensure-tools.sh installs it)")
        self.timeout = timeout
        self.tmp = Path(tmp)
        self._next = 0
        self._buf = b""
        self._pending: list[dict] = []
        to_r, to_w = os.pipe()      # we write, chromium reads (its fd 3)
        from_r, from_w = os.pipe()  # chromium writes (its fd 4), we read
        argv = [CHROMIUM, *FLAGS, f"--user-data-dir={self.tmp / 'chromium-profile'}", "--remote-debugging-pipe",
                "about:blank"]
        # a small Python puts the two pipe ends on 3 and 4, then becomes chromium (no preexec_fn
        # in a threaded test process; dash cannot redirect descriptors above 9)
        self.stderr_path = self.tmp / "chromium.stderr"
        self._stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen([sys.executable, "-c", _ON_3_AND_4, str(to_r), str(from_w), *argv],
                                     pass_fds=(to_r, from_w), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=self._stderr)
        os.close(to_r)
        os.close(from_w)
        self._w, self._r = to_w, from_r

    # -- the wire ---------------------------------------------------------------------------
    def _read(self, deadline: float) -> dict | None:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self._r], [], [], left)
            if not ready:
                return None
            chunk = os.read(self._r, 1 << 20)
            if not chunk:
                raise ChromiumError(f"chromium closed the pipe; stderr: {self.stderr_path.read_text()[-2000:]}")
            self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def send(self, method: str, params: dict | None = None, *, session: str | None = None) -> dict:
        self._next += 1
        ident = self._next
        msg: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            got = self._read(deadline)
            if got is None:
                raise ChromiumError(f"no answer to {method} in {self.timeout} s")
            if got.get("id") == ident:
                if "error" in got:
                    raise ChromiumError(f"{method}: {got['error']}")
                return got.get("result", {})
            self._pending.append(got)

    def _drain(self, page: Page, until: str | None, timeout: float, quiet: float = 0.5) -> bool:
        """Sort the events into ``page`` until the event ``until`` came and then nothing for
        ``quiet`` seconds (or ``timeout`` passed): True when ``until`` came."""
        seen = until is None
        deadline = time.monotonic() + timeout
        while True:
            while self._pending:
                ev = self._pending.pop(0)
                if ev.get("sessionId") == page.session:
                    self._record(page, ev)
                    seen = seen or ev.get("method") == until
            if time.monotonic() >= deadline:
                return seen
            got = self._read(min(deadline, time.monotonic() + quiet) if seen else deadline)
            if got is None:
                if seen:
                    return True
                continue
            self._pending.append(got)

    @staticmethod
    def _record(page: Page, ev: dict) -> None:
        method, p = ev.get("method"), ev.get("params", {})
        page.events.append(ev)
        if method == "Network.requestWillBeSent":
            url = p.get("request", {}).get("url", "")
            if not url.startswith("data:"):
                page.requests.append(url)
        elif method == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            page.console_errors.append(d.get("exception", {}).get("description") or d.get("text", "exception"))
        elif method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            page.console_errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
        elif method == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            page.console_errors.append(p["entry"].get("text", ""))

    # -- pages ------------------------------------------------------------------------------
    def load(self, url: str, width: int = 1280, height: int = 2000) -> Page:
        """Open ``url`` in a new tab at ``width`` px, wait for its load event (and for the events
        to settle), and return the page with what it requested and logged."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, session, url)
        for method in ("Page.enable", "Network.enable", "Runtime.enable", "Log.enable", "Page.bringToFront"):
            page.send(method)
        page.send("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)
        self._drain(page, None, 0.2)
        page.requests.clear()  # about:blank
        page.console_errors.clear()
        page.send("Page.navigate", url=url)
        if not self._drain(page, "Page.loadEventFired", self.timeout):
            raise ChromiumError(f"{url} did not load in {self.timeout} s")
        return page

    def close(self) -> None:
        try:
            try:
                os.write(self._w, json.dumps({"id": 0, "method": "Browser.close", "params": {}}).encode() + b"\0")
            except OSError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        finally:
            for fd in (self._w, self._r):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self._stderr.close()

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def dump_dom(url: str, tmp: Path, timeout: float = 60.0) -> tuple[str, str]:
    """``chromium --headless=new --dump-dom URL`` (its own profile in ``tmp``), with the console
    on stderr (``--enable-logging=stderr --v=0``): ``(dom, stderr)``."""
    if CHROMIUM is None:
        raise ChromiumError("chromium is not installed (scripts/ensure-tools.sh installs it)")
    out = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={Path(tmp) / 'chromium-dump-profile'}",
                          "--enable-logging=stderr", "--v=0", "--dump-dom", url],
                         capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if out.returncode != 0:
        raise ChromiumError(f"chromium --dump-dom exited {out.returncode}: {out.stderr.decode(errors='replace')[-2000:]}")
    return out.stdout.decode("utf-8", "replace"), out.stderr.decode("utf-8", "replace")


def console_lines(stderr: str) -> list[str]:
    """The page's console messages in chromium's ``--enable-logging=stderr`` output."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


# --------------------------------------------------------------------------- PNG

@dataclass(frozen=True)
class PNGInfo:
    width: int
    height: int
    distinct_rows: int


def png_info(data: bytes) -> PNGInfo:
    """Width, height and the number of distinct (filtered) scanlines of a non-interlaced PNG: a
    blank, one-colour image has 1 or 2 (every row filters to the same bytes); a drawn page many."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ChromiumError("not a PNG")
    pos, idat, width = 8, b"", 0
    height = depth = ctype = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, ctype = struct.unpack(">IIBB", body[:10])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[ctype]
    stride = 1 + width * channels * depth // 8
    rows = {raw[i:i + stride] for i in range(0, len(raw), stride)}
    return PNGInfo(width, height, len(rows))
