"""The lint on real code: every ``*.py`` of the pinned wheels in tests/data/lint_corpus/MANIFEST.json
(HTTP clients, SDKs, tooling), read straight from the wheel archives. The findings must equal
the expected list exactly (a new finding or a lost one fails), and at least 90 % of them must be
true under the strict reading (judged by hand, written next to each): true = the line really
turns a TLS client's certificate or hostname verification off or weakens it. Hygiene notes (a
silenced InsecureRequestWarning with nothing to go with, CERT_OPTIONAL of unknown role) are no
findings: they are listed apart, exactly, and never counted as true."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from certdoctor.lint.scan import scan_bytes

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = json.loads((ROOT / "tests" / "data" / "lint_corpus" / "MANIFEST.json").read_text())
CACHE = ROOT / ".cache" / "lint-corpus"
MIN_PRECISION = 0.90


def _wheels() -> list[Path]:
    """The verified wheel files; fetches them once if missing. Skips only off CI."""
    def missing() -> list[str]:
        out = []
        for w in MANIFEST["wheels"]:
            p = CACHE / w["filename"]
            if not p.is_file() or hashlib.sha256(p.read_bytes()).hexdigest() != w["sha256"]:
                out.append(w["filename"])
        return out

    if missing():
        subprocess.run([sys.executable, str(ROOT / "scripts" / "fetch-lint-corpus.py")],
                       check=False, timeout=900)
    gone = missing()
    if gone:
        reason = (f"lint corpus: {len(gone)} wheel(s) missing or with a wrong sha256 in {CACHE} "
                  f"(e.g. {gone[0]}); run scripts/fetch-lint-corpus.py")
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return [CACHE / w["filename"] for w in MANIFEST["wheels"]]


@pytest.fixture(scope="module")
def corpus():
    files = 0
    found = []
    hygiene = []
    evidence = {}
    for wheel, w in zip(_wheels(), MANIFEST["wheels"]):
        with zipfile.ZipFile(wheel) as z:
            for name in sorted(z.namelist()):
                if not name.endswith(".py"):
                    continue
                files += 1
                r = scan_bytes(z.read(name), name)
                assert r.note is None, f"{wheel.name}:{name}: {r.note.message}"
                for f in r.findings:
                    key = (w["name"], name, f.location.line, f.code.value)
                    found.append(key)
                    evidence[key] = list(f.evidence)
                hygiene += [(w["name"], name, f.location.line, f.code.value) for f in r.hygiene]
    return files, found, hygiene, evidence


def test_corpus_is_big_and_varied(corpus):
    files = corpus[0]
    assert len(MANIFEST["wheels"]) >= 32
    assert files >= 200


def test_findings_equal_the_expected_list(corpus):
    _, found, _, evidence = corpus
    want = [(e["wheel"], e["file"], e["line"], e["code"]) for e in MANIFEST["expected"]]
    got = sorted(found)
    assert got == sorted(want), (f"new: {sorted(set(got) - set(want))}\n"
                                 f"lost: {sorted(set(want) - set(got))}")
    for e in MANIFEST["expected"]:  # a silenced warning shows up as evidence, where written
        assert evidence[(e["wheel"], e["file"], e["line"], e["code"])] == e.get("evidence", [])


def test_hygiene_notes_equal_the_expected_list(corpus):
    _, _, hygiene, _ = corpus
    want = [(e["wheel"], e["file"], e["line"], e["code"]) for e in MANIFEST["hygiene"]]
    assert sorted(hygiene) == sorted(want)
    assert all(e["why"] for e in MANIFEST["hygiene"])


def test_precision_on_real_code(corpus):
    files = corpus[0]
    expected = MANIFEST["expected"]
    assert all(isinstance(e["true"], bool) and e["why"] for e in expected)
    # the strict reading: a silenced warning or a CERT_OPTIONAL is never a finding to count
    assert not {e["code"] for e in expected} & {"WARNINGS_DISABLED", "CERT_OPTIONAL"}
    true = sum(e["true"] for e in expected)
    precision = true / len(expected)
    figure = f"{files:,} files, {len(expected)} findings, {true} true, precision {precision:.3f}"
    print(f"lint corpus: {figure}")
    assert figure.replace(",", "") in MANIFEST["about"].replace(",", "")  # the note says what is measured
    assert precision >= MIN_PRECISION, f"{true}/{len(expected)} = {precision:.3f}"
