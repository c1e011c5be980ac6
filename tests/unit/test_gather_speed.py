"""What keeps the commands fast (issue 13), without a clock: gather's steps (in a thread, or one
after the other where their result is asked for), the staple rule, and what ``import certdoctor``
and ``certdoctor --version`` leave unimported."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import threading

import pytest
from support.pki import NO_URLS, TestCA

from certdoctor.gather import SEQUENTIAL_ENV, _Step, _wants_staple, sequential
from certdoctor.net.deadline import current, within


def test_a_sequential_step_runs_where_its_result_is_asked_for():
    order: list[str] = []
    a = _Step(lambda: order.append("a") or 1, False)
    b = _Step(lambda: order.append("b") or 2, False)
    assert order == []
    assert b.result() == 2 and a.result() == 1 and a.result() == 1  # run once, in the order asked
    assert order == ["b", "a"]


def test_a_step_together_runs_in_its_own_thread_under_the_commands_deadline():
    started = threading.Event()
    release = threading.Event()
    seen: dict = {}

    def work():
        seen["thread"] = threading.current_thread().name
        seen["deadline"] = current()
        started.set()
        release.wait(5)
        return "done"

    with within(7.0) as d:
        step = _Step(work, True)
        assert started.wait(5)  # running before anyone asked
        release.set()
        assert step.result() == "done"
    assert seen["thread"] == "certdoctor-gather" and seen["deadline"] is d


@pytest.mark.parametrize("together", [False, True])
def test_a_step_hands_back_what_it_raised(together):
    def boom():
        raise ValueError("no")

    step = _Step(boom, together)
    with pytest.raises(ValueError, match="no"):
        step.result()


def test_the_sequential_switch(monkeypatch):
    monkeypatch.delenv(SEQUENTIAL_ENV, raising=False)
    assert not sequential()
    monkeypatch.setenv(SEQUENTIAL_ENV, "0")
    assert not sequential()
    monkeypatch.setenv(SEQUENTIAL_ENV, "1")
    assert sequential()


def test_the_staple_is_asked_for_when_the_leaf_names_a_responder_or_the_caller_says_so():
    now = dt.datetime.now(dt.timezone.utc)
    root = TestCA("Staple Rule Root", **NO_URLS)
    with_ocsp = root.issue_cert("a.test", ocsp_url="http://ocsp.example.test", crl_url=None, aia_url=None).cert
    without = root.issue_cert("b.test", ocsp_url=None, crl_url="http://crl.example.test/x.crl", aia_url=None).cert
    assert _wants_staple(None, with_ocsp, now) is True
    assert _wants_staple(None, without, now) is False
    assert _wants_staple(True, without, now) is True
    assert _wants_staple(False, with_ocsp, now) is False


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys; print(' '.join(sorted(sys.modules)))"],
                         capture_output=True, text=True, check=True, timeout=60)
    return set(out.stdout.split())


def test_import_certdoctor_stays_light():
    """The old-path finder is installed by ``import certdoctor``: it imports no importlib.abc
    (typing, tempfile, random, pathlib …), and nothing else of the package's."""
    loaded = _modules_after("import certdoctor")
    assert not {"importlib.abc", "typing", "tempfile", "random", "pathlib", "click"} & loaded
    assert {m for m in loaded if m.startswith("certdoctor")} == {"certdoctor", "certdoctor._compat"}


def test_version_imports_no_click_and_old_paths_still_work():
    loaded = _modules_after("import contextlib, io\nfrom certdoctor.cli import main\n"
                            "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
                            "    main(['--version'])")
    assert "click" not in loaded and "certdoctor.cli.main" not in loaded
    moved = _modules_after("import warnings\nwarnings.simplefilter('ignore')\nimport certdoctor.pin")
    assert "certdoctor.pinning.pins" in moved


def test_the_anchors_are_read_after_the_clients_library_is_imported():
    """Reading a bundle swaps the process's warning filters (warnings.catch_warnings); the real
    client's library sets its own as it is imported (requests silences urllib3's
    DependencyWarning), in another thread: so the overlapped gather reads the anchors only once
    that import is done. In a fresh interpreter, where requests is not imported yet."""
    code = (
        "import sys\n"
        "from certdoctor.gather import _anchors\n"
        "class Trust:\n"
        "    def anchors(self):\n"
        "        return ('requests' in sys.modules, 'urllib3' in sys.modules)\n"
        "assert 'requests' not in sys.modules\n"
        "print(_anchors(Trust(), None), _anchors(Trust(), 'requests'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.split("\n")[0] == "(False, False) (True, True)", out.stdout + out.stderr
