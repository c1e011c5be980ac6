"""certdoctor lint: the self-documenting corpus, suppression, output shapes, exit codes."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certdoctor.errors import InputError
from certdoctor.lint.scan import (
    DEFAULT_EXCLUDES,
    POOL_THRESHOLD,
    RULES,
    LintCode,
    LintReport,
    iter_python_files,
    lint_file,
    lint_paths,
    lint_source,
    scan_file,
    scan_source,
)
from certdoctor.model import Severity
from certdoctor.render.sarif import sarif

CORPUS = Path(__file__).resolve().parent.parent / "lint_corpus"
BAD = sorted((CORPUS / "bad").glob("*.pysrc"))
GOOD = sorted((CORPUS / "good").glob("*.pysrc"))
EXPECT = re.compile(r"#\s*expect:\s*([A-Z_, ]+)\s*$")


def expected(path: Path, marker: str = "expect") -> set[tuple[int, str]]:
    """(line, code) pairs written in the corpus as trailing ``# expect: CODE[, CODE]`` (or
    ``# hygiene: CODE`` / ``# evidence: CODE`` with ``marker``)."""
    pattern = EXPECT if marker == "expect" else re.compile(rf"#\s*{marker}:\s*([A-Z_, ]+)\s*$")
    out = set()
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        m = pattern.search(line)
        if m:
            out.update((lineno, c.strip()) for c in m.group(1).split(",") if c.strip())
    return out


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    """The CLI in-process, as a user runs it: ``certdoctor lint ...``."""
    from certdoctor.cli.common import run
    from certdoctor.cli.main import cli

    code = run(cli, ["lint", *args])
    out, err = capsys.readouterr()
    return code, out, err


# --------------------------------------------------------------------------- corpus

def test_corpus_is_there():
    assert len(BAD) >= 5 and len(GOOD) >= 2
    # every code is exercised by at least one true positive (WARNINGS_DISABLED and CERT_OPTIONAL
    # turn nothing off by themselves: hygiene notes, and evidence on the findings they go with)
    codes = {c for p in BAD for _, c in expected(p)}
    hygiene = {c for p in BAD for _, c in expected(p, "hygiene")}
    assert codes | hygiene == {c.value for c in LintCode}
    assert hygiene == {"WARNINGS_DISABLED", "CERT_OPTIONAL"}
    assert not codes & hygiene
    assert {c for p in BAD for _, c in expected(p, "evidence")} == {"WARNINGS_DISABLED"}


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_bad_corpus_exact(path: Path):
    r = scan_file(path)
    findings, note = r.findings, r.note
    assert note is None
    got = {(f.location.line, f.code.value) for f in findings}
    want = expected(path)
    assert want or expected(path, "hygiene"), "a bad corpus file without # expect: lines"
    assert got == want, f"missing {sorted(want - got)}, unexpected {sorted(got - want)}"
    got_h = {(f.location.line, f.code.value) for f in r.hygiene}
    want_h = expected(path, "hygiene")
    assert got_h == want_h, f"hygiene: missing {sorted(want_h - got_h)}, unexpected {sorted(got_h - want_h)}"
    assert all(f.severity is Severity.INFO for f in r.hygiene)
    for line, code in expected(path, "evidence"):
        # the silencer is no result of its own: it is evidence on the findings it goes with
        assert (line, code) not in got | got_h
        assert any(e.startswith(f"line {line}: ") for f in findings for e in f.evidence), line
    lines = path.read_text().splitlines()
    for f in (*findings, *r.hygiene):
        assert f.location.path == str(path)
        assert f.location.snippet == lines[f.location.line - 1].strip()
        assert 1 <= f.location.column <= len(lines[f.location.line - 1])
        assert f.severity == RULES[f.code].severity or f.code is LintCode.WEAK_CIPHERS
        assert f.summary and f.explanation == RULES[f.code].why and f.fix == RULES[f.code].fix
    for f in findings:
        assert f.code.value not in ("WARNINGS_DISABLED", "CERT_OPTIONAL")


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.stem)
def test_good_corpus_clean(path: Path):
    findings, note, suppressed = lint_file(path)
    assert note is None
    assert findings == ()
    assert suppressed == 0
    assert "# expect:" not in path.read_text()


def test_corpus_suppressions_counted():
    report = lint_paths([str(p) for p in BAD])
    assert report.suppressed == 2  # the two ignored lines of requests_verify.pysrc
    assert len(report.findings) == sum(len(expected(p)) for p in BAD)
    assert len(report.hygiene) == sum(len(expected(p, "hygiene")) for p in BAD)


def _statements_with_imports(path: Path) -> list[str]:
    """Each top-level statement of a corpus file, alone, after the file's imports."""
    text = path.read_text()
    tree = ast.parse(text)
    imports = [ast.get_source_segment(text, n) for n in tree.body
               if isinstance(n, (ast.Import, ast.ImportFrom))]
    return ["\n".join(imports) + "\n" + ast.get_source_segment(text, n) + "\n"
            for n in tree.body if not isinstance(n, (ast.Import, ast.ImportFrom))]


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_prefilter_never_hides_a_finding(path: Path):
    # files failing the byte pre-filter are never parsed: it must pass every snippet with
    # a finding (whole files are too easy: they contain many triggers each)
    from certdoctor.lint.scan import _may_have_findings

    checked = 0
    for snippet in _statements_with_imports(path):
        body_only = snippet.split("\n", snippet.count("\n") - 1)[-1]
        for src in (snippet, body_only):
            try:
                r = scan_source(src)
            except InputError:
                continue
            found = r.findings or r.hygiene  # a hygiene note must get through the pre-filter too
            if found:
                checked += 1
                assert _may_have_findings(src.encode()), src
    assert checked


# --------------------------------------------------------------------------- rules in detail

def codes(src: str) -> list[tuple[int, str]]:
    return [(f.location.line, f.code.value) for f in lint_source(src)]


def test_every_code_has_a_rule():
    assert set(RULES) == set(LintCode)
    for code, rule in RULES.items():
        assert rule.code is code
        assert rule.why.endswith(".") and rule.fix.endswith(".")
        assert isinstance(rule.severity, Severity)


@pytest.mark.parametrize("src", [
    "requests.get(u, verify=True)",
    "requests.get(u, verify='/etc/ssl/ca.pem')",
    "httpx.Client(verify=ctx)",
    "requests.get(u, verify=some_variable)",
    "requests.get(u, verify=os.environ.get('CA', True))",
    "v = True\nrequests.get(u, verify=v)",
    "ctx.verify_mode = ssl.CERT_REQUIRED\nctx.check_hostname = True",
    "# requests.get(u, verify=False)\nx = 1",
    "'''requests.get(u, verify=False)'''",
    "log.warning('verify=False is insecure')",
    "if ctx.verify_mode == ssl.CERT_NONE:\n    raise SystemExit(1)",
    "session.ssl = False",  # not aiohttp
    "class Mapping(HTTPAdapter):\n    def init_poolmanager(self, *a, **k):\n"
    "        k['ssl_context'] = ssl.create_default_context(cafile=CA)",
    "x = LintCode.CERT_NONE",
    "os.system(f'CURL_CA_BUNDLE={bundle} python job.py')",
    "msg = f'CURL_CA_BUNDLE={ccb} is shadowed'",
])
def test_safe_snippets(src):
    assert codes(src) == []


def test_flow_respects_scopes():
    src = (
        "VERIFY = False\n"
        "def local_shadow(u):\n"
        "    VERIFY = '/ca.pem'\n"
        "    return requests.get(u, verify=VERIFY)\n"
        "class C:\n"
        "    ok = False\n"
        "    def m(self, u):\n"
        "        return requests.get(u, verify=ok)\n"  # class scope is invisible here
        "def reaches(u):\n"
        "    return requests.get(u, verify=VERIFY)\n"
    )
    assert codes(src) == [(10, "VERIFY_FALSE_FLOW")]


def test_flow_through_a_global_statement():
    src = ("def configure():\n    global INSECURE\n    INSECURE = False\n"
           "def fetch(u):\n    return requests.get(u, verify=INSECURE)\n")
    assert codes(src) == [(5, "VERIFY_FALSE_FLOW")]


def test_flow_message_names_the_binding():
    (f,) = lint_source("def f(u):\n    v = False\n    requests.get(u, verify=v)\n")
    assert "verify=v" in f.summary and "line 2" in f.summary


def test_aiohttp_ssl_false_needs_aiohttp():
    assert codes("session.get(u, ssl=False)") == []
    assert codes("import aiohttp\nsession.get(u, ssl=False)") == [(2, "VERIFY_FALSE")]
    assert codes("from aiohttp import ClientSession\nClientSession().get(u, ssl=False)") == [
        (2, "VERIFY_FALSE")]


def test_import_aliases_are_resolved():
    src = ("import urllib3 as u3\nfrom ssl import CERT_NONE as NOPE\n"
           "u3.disable_warnings()\nctx.verify_mode = NOPE\n")
    # u3.disable_warnings is urllib3's: at module level it is evidence on the file's findings
    assert codes(src) == [(2, "CERT_NONE"), (4, "CERT_NONE")]
    assert all(f.evidence == ("line 3: u3.disable_warnings() silences all urllib3 warnings, "
                              "InsecureRequestWarning too, so these unverified requests raise no "
                              "warning either",) for f in lint_source(src))
    assert scan_source(src.replace("import urllib3 as u3", "import other as u3")).findings[0].evidence == ()


def test_one_finding_per_line_and_code():
    # (a bare a(verify=False) is no TLS call: an unknown callable in a file importing no
    # HTTP client, so the calls are requests')
    assert codes("requests.get(a, verify=False); requests.post(b, verify=False)") == [
        (1, "VERIFY_FALSE")]


def test_columns_are_one_based_characters():
    line = "x = 'é'; requests.get(u, verify=False)"
    (f,) = lint_source(line + "\n")
    assert f.location.column == line.index("verify") + 1


def test_source_lines_follow_the_tokenizer():
    # a form feed (old page breaks) is not a line end for Python, though str.splitlines says so
    src = "x = 1\f# page\r\nrequests.get(u, verify=False)\n"
    (f,) = lint_source(src)
    assert (f.location.line, f.location.snippet) == (2, "requests.get(u, verify=False)")


def test_f_strings_are_read_whole():
    assert codes("os.system(f'PYTHONHTTPSVERIFY=0 {python} job.py')") == [
        (1, "PYTHONHTTPSVERIFY_OFF")]
    cmd = "subprocess.run(['pip', 'install', f'--trusted-host={h}', 'x'])"  # certdoctor: ignore
    assert codes(cmd) == [(1, "TRUSTED_HOST")]


def test_ca_bundle_explained_per_variable():
    (curl,) = lint_source("os.environ['CURL_CA_BUNDLE'] = ''")
    (req,) = lint_source("os.environ['REQUESTS_CA_BUNDLE'] = ''")
    assert "2.28" in curl.summary
    assert "never" in req.summary and "unset" in req.summary
    assert codes("os.environ['CURL_CA_BUNDLE'] = '/etc/ca.pem'") == []


def test_weak_cipher_severity():
    (zero,) = lint_source("ctx.set_ciphers('DEFAULT:@SECLEVEL=0')")
    (one,) = lint_source("ctx.set_ciphers('DEFAULT:@SECLEVEL=1')")
    assert zero.severity is Severity.ERROR and one.severity is Severity.WARNING


# --------------------------------------------------------------------------- suppression

def test_suppression_comments():
    src = (
        "requests.get(u, verify=False)  # certdoctor: ignore[VERIFY_FALSE]\n"
        "requests.get(u, verify=False)  # certdoctor: ignore[CERT_NONE]\n"
        "requests.get(u, verify=False)  # certdoctor: ignore\n"
        "requests.get(u, verify=False)  # certdoctor:ignore[CERT_NONE, VERIFY_FALSE]\n"
        "requests.get(u, verify=False)  # noqa\n"
    )
    assert codes(src) == [(2, "VERIFY_FALSE"), (5, "VERIFY_FALSE")]


def test_suppression_is_counted(tmp_path):
    f = tmp_path / "s.py"
    f.write_text("requests.get(u, verify=False)  # certdoctor: ignore\n")
    report = lint_paths([f])
    assert report.clean and report.suppressed == 1


# --------------------------------------------------------------------------- files and errors

def test_syntax_error_is_a_note_not_a_crash(tmp_path):
    (tmp_path / "broken.py").write_text("def f(:\n    requests.get(u, verify=False)\n")
    (tmp_path / "ok.py").write_text("requests.get(u, verify=False)\n")
    (tmp_path / "binary.py").write_bytes(b"\x00\xff\xfe verify False \x00")
    report = lint_paths([tmp_path])
    assert report.files_scanned == 3
    assert [(Path(f.location.path).name, f.code.value) for f in report.findings] == [
        ("ok.py", "VERIFY_FALSE")]
    notes = {Path(n.path).name: n.message for n in report.notes}
    assert set(notes) == {"broken.py", "binary.py"}
    assert "line 1" in notes["broken.py"]


def test_lint_source_raises_input_error():
    with pytest.raises(InputError, match="not valid Python"):
        lint_source("def f(:")


def test_too_deep_is_a_note(tmp_path):
    f = tmp_path / "deep.py"
    f.write_text("x = " + " + ".join(["verify"] * 5000) + "\ny = False\n")
    findings, note, _ = lint_file(f)
    assert findings == () and note is not None


def test_encoding_cookie(tmp_path):
    f = tmp_path / "latin.py"
    f.write_bytes("# -*- coding: latin-1 -*-\nx = 'é'; requests.get(u, verify=False)\n"
                  .encode("latin-1"))
    (finding,) = lint_file(f)[0]
    assert finding.location.snippet == "x = 'é'; requests.get(u, verify=False)"


def test_unreadable_file_is_a_note(tmp_path, monkeypatch):
    # chmod 000 does not stop root (CI runs as root): make open() itself fail
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    f = tmp_path / "secret.py"
    f.write_text("requests.get(u, verify=False)\n")
    monkeypatch.setattr("certdoctor.lint.scan.open", refuse, raising=False)
    report = lint_paths([tmp_path])
    assert report.findings == ()
    (note,) = report.notes
    assert note.message == "unreadable: Permission denied"


def test_files_without_trigger_text_are_not_parsed(tmp_path):
    # the byte pre-filter clears them: a syntax error there cannot hide a finding
    (tmp_path / "broken.py").write_text("def f(:\n    return 1\n")
    report = lint_paths([tmp_path])
    assert report.clean and report.notes == () and report.files_scanned == 1


def test_directory_walk(tmp_path):
    for rel in ("a.py", "pkg/b.py", "pkg/c.pyw", "pkg/d.txt", ".venv/e.py", ".git/f.py",
                "node_modules/g.py", "pkg/__pycache__/h.py", "vendor/i.py"):
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("x = 1\n")
    names = {Path(p).relative_to(tmp_path).as_posix() for p in iter_python_files([tmp_path])}
    assert names == {"a.py", "pkg/b.py", "pkg/c.pyw", "vendor/i.py"}
    names = {Path(p).name for p in iter_python_files([tmp_path], DEFAULT_EXCLUDES | {"vendor"})}
    assert "i.py" not in names
    # explicit arguments are scanned whatever their suffix or directory name
    assert list(iter_python_files([tmp_path / "pkg/d.txt"])) == [str(tmp_path / "pkg/d.txt")]
    assert len(list(iter_python_files([tmp_path / ".venv"]))) == 1


def test_nonexistent_path_raises(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        lint_paths([tmp_path / "nope"])


def test_process_pool_gives_the_same_report(tmp_path):
    n = POOL_THRESHOLD + 10
    for i in range(n):
        body = "requests.get(u, verify=False)\n" if i % 7 == 0 else "x = 1\n"
        (tmp_path / f"m{i:04d}.py").write_text(body)
    serial = lint_paths([tmp_path], jobs=1)
    pooled = lint_paths([tmp_path], jobs=2)
    assert serial == pooled
    assert serial.files_scanned == n and len(serial.findings) == len(range(0, n, 7))


def test_select_and_ignore():
    files = [str(p) for p in BAD]
    only = lint_paths(files, select=[LintCode.CERT_NONE])
    assert only.findings and {f.code for f in only.findings} == {LintCode.CERT_NONE}
    rest = lint_paths(files, ignore=[LintCode.CERT_NONE])
    assert LintCode.CERT_NONE not in {f.code for f in rest.findings}
    assert len(only.findings) + len(rest.findings) == len(lint_paths(files).findings)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.text(alphabet=st.sampled_from(list("verify=False()[]{}:.,'\"\n #ssl_CERT_NONE0 "))))
def test_any_text_is_findings_or_input_error(text):
    try:
        found = lint_source(text)
    except InputError:
        return
    assert isinstance(found, tuple)


_SNIPPETS = [s for p in BAD for s in _statements_with_imports(p)]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(_SNIPPETS), min_size=1, max_size=4))
def test_prefilter_sound_on_combinations(parts):
    from certdoctor.lint.scan import _may_have_findings

    src = "\n".join(parts)
    if lint_source(src):
        assert _may_have_findings(src.encode())


# --------------------------------------------------------------------------- output

def test_report_counts():
    report = lint_paths([str(CORPUS / "bad" / "requests_verify.pysrc")])
    assert report.counts() == {"VERIFY_FALSE": 13, "VERIFY_FALSE_ATTR": 3}
    assert not report.clean


def test_cli_human_grouped_by_file(capsys):
    code, out, err = run_cli(capsys, *map(str, BAD[:2]), str(GOOD[0]))
    assert code == 1 and err == ""
    for p in BAD[:2]:
        assert out.count(str(p)) == 1  # one header per file
    assert str(GOOD[0]) not in out
    assert "VERIFY_FALSE" in out and "fix:" in out and "certdoctor" in out
    assert re.search(r"\d+ findings .* in 2 of 3 files", out)


def test_cli_clean_exit_zero(capsys):
    code, out, _ = run_cli(capsys, *map(str, GOOD))
    assert code == 0
    assert "No disabled or weakened TLS verification in 2 files" in out


def test_cli_json(capsys):
    code, out, _ = run_cli(capsys, "--json", *map(str, BAD))
    assert code == 1
    doc = json.loads(out)
    assert list(doc)[0] == "schema_version"
    assert doc["files_scanned"] == len(BAD) and doc["suppressed"] == 2
    total = sum(len(expected(p)) for p in BAD)
    assert len(doc["findings"]) == total == sum(doc["counts"].values())
    f = doc["findings"][0]
    # the one finding object of every command; the place is its location
    assert set(f) == {"code", "severity", "summary", "explanation", "evidence", "fix", "who",
                      "cert_index", "location", "rule"}
    assert set(f["location"]) == {"path", "line", "column", "block", "snippet"}
    assert f["location"]["path"] and f["location"]["line"] >= 1 and f["location"]["column"] >= 1
    assert f["location"]["snippet"] and f["who"] == "client-user" and f["explanation"] and f["fix"]
    assert f["code"] in {c.value for c in LintCode}
    assert f["severity"] in ("info", "warning", "error")
    assert doc["notes"] == []


def test_cli_json_clean(capsys):
    code, out, _ = run_cli(capsys, "--format", "json", str(GOOD[0]))
    doc = json.loads(out)
    assert code == 0 and doc["findings"] == [] and doc["counts"] == {}


def test_cli_sarif(capsys):
    code, out, _ = run_cli(capsys, "--format", "sarif", *map(str, BAD))
    assert code == 1
    log = json.loads(out)
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-schema-2.1.0.json")
    (run,) = log["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert run["tool"]["driver"]["name"] == "certdoctor"
    assert [r["id"] for r in rules] == [c.value for c in LintCode]
    for r in rules:
        assert r["shortDescription"]["text"] and r["fullDescription"]["text"]
        assert r["defaultConfiguration"]["level"] in ("error", "warning", "note")
    assert len(run["results"]) == sum(len(expected(p)) for p in BAD)
    for res in run["results"]:
        assert rules[res["ruleIndex"]]["id"] == res["ruleId"]
        assert res["level"] in ("error", "warning", "note")
        assert res["message"]["text"]
        (loc,) = res["locations"]
        phys = loc["physicalLocation"]
        assert phys["artifactLocation"]["uri"]
        assert phys["region"]["startLine"] >= 1 and phys["region"]["startColumn"] >= 1


def test_sarif_uris(tmp_path):
    from certdoctor.lint.scan import LintNote
    from certdoctor.model import Finding, Location

    f = Finding(LintCode.CERT_NONE, Severity.ERROR, "m", "w", fix="x",
                location=Location("dir with space/a.py", 3, 5, snippet="src"))
    log = sarif(LintReport((f,), (LintNote(str(tmp_path / "b.py"), "not valid Python"),), 2),
                tool_version="0")
    run = log["runs"][0]
    uri = run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "dir%20with%20space/a.py"
    # the content a SARIF viewer shows: what was seen, why, the fix, and the place with its line
    (res,) = run["results"]
    assert res["message"] == {"text": "m. w Fix: x"} and res["level"] == "error"
    assert res["locations"][0]["physicalLocation"]["region"] == {"startLine": 3, "startColumn": 5,
                                                                 "snippet": {"text": "src"}}
    (note,) = run["invocations"][0]["toolExecutionNotifications"]
    assert note["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].startswith(
        "file://")


def test_sarif_is_rendered_in_one_place():
    import certdoctor.lint
    import certdoctor.lint.scan

    # the lint finds, render/ renders: no SARIF writer is left in the lint package
    assert not hasattr(certdoctor.lint.scan, "sarif") and "sarif" not in certdoctor.lint.__all__
    log = sarif(lint_paths(BAD), tool_version="0")
    assert log["runs"][0]["tool"]["driver"]["name"] == "certdoctor"


def test_cli_notes_do_not_fail(tmp_path, capsys):
    (tmp_path / "broken.py").write_text("def f(:\n    s.verify = False\n")
    code, out, _ = run_cli(capsys, str(tmp_path))
    assert code == 0
    assert "note:" in out and "broken.py" in out


@pytest.mark.parametrize("args, message", [
    (("/nonexistent/certdoctor-lint",), "error: '/nonexistent/certdoctor-lint': no such file or directory"),
    (("--select", "NOPE", "."), "error: unknown code for --select: NOPE"),
    (("--json", "--format", "sarif", "."), "error: --json and --format sarif"),
    ((), "Missing argument"),
])
def test_cli_usage_errors_exit_2(capsys, args, message):
    code, out, err = run_cli(capsys, *args)
    assert code == 2
    assert message in err and out == ""


def test_cli_select_ignore(capsys):
    code, out, _ = run_cli(capsys, "--json", "--select", "cert_none,CHECK_HOSTNAME_OFF",
                           "--ignore", "CHECK_HOSTNAME_OFF", *map(str, BAD))
    doc = json.loads(out)
    assert code == 1 and set(doc["counts"]) == {"CERT_NONE"}


def test_python_dash_m(tmp_path):
    f = tmp_path / "app.py"
    f.write_text("import requests\nrequests.get('https://x', verify=False)\n")
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS",)}
    proc = subprocess.run([sys.executable, "-m", "certdoctor", "lint", "--json", str(f)],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout)["findings"][0]["location"]["line"] == 2


def test_certdoctor_itself_is_clean_and_cert_none_lives_only_in_the_probe():
    """The brief: no CERT_NONE outside the one place that fetches an untrusted chain."""
    from pathlib import Path

    from certdoctor.lint.scan import lint_paths

    src = Path(__file__).resolve().parents[2] / "src"
    report = lint_paths([str(src)])
    assert report.clean, [(f.location.path, f.location.line, f.code) for f in report.findings]
    suppressed = []
    for path in src.rglob("*.py"):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if "# certdoctor: ignore[CERT_NONE]" in line:
                suppressed.append((path.name, n))
    assert [name for name, _ in suppressed] == ["probe.py"], suppressed


# --------------------------------------------------------------------------- strict precision rules

def test_self_check_hostname_of_a_non_context_class_is_a_field():
    emulation = ("import ssl\nclass PyOpenSSLContext:\n    def __init__(self):\n"
                 "        self.check_hostname = False\n")
    assert codes(emulation) == []
    # a real context (an SSLContext subclass, also through a class of the module) is found
    real = emulation.replace("class PyOpenSSLContext:", "class Ctx(ssl.SSLContext):")
    assert codes(real) == [(4, "CHECK_HOSTNAME_OFF")]
    deeper = ("import ssl\nclass Base(ssl.SSLContext):\n    pass\nclass Ctx(Base):\n"
              "    def __init__(self):\n        self.check_hostname = False\n")
    assert codes(deeper) == [(6, "CHECK_HOSTNAME_OFF")]
    # a context held by the object, or any other context, is still found
    held = emulation.replace("self.check_hostname", "self.ctx.check_hostname")
    assert codes(held) == [(4, "CHECK_HOSTNAME_OFF")]
    assert codes("import ssl\nctx = ssl.create_default_context()\nctx.check_hostname = False\n") == [
        (3, "CHECK_HOSTNAME_OFF")]


def test_cert_reqs_spelled_as_a_string_in_a_dict_is_cert_none():
    src = ("import urllib3\ndef pool(verify):\n    kw = {}\n    if verify:\n"
           "        kw['cert_reqs'] = 'CERT_REQUIRED'\n    else:\n        kw['cert_reqs'] = 'CERT_NONE'\n"
           "    opts = {'cert_reqs': 'NONE', 'ssl_cert_reqs': 0}\n"
           "    return urllib3.PoolManager(**kw)\n")
    assert codes(src) == [(7, "CERT_NONE"), (8, "CERT_NONE")]
    assert codes("kw = {'cert_reqs': 'CERT_REQUIRED'}\nkw['cert_reqs'] = 'REQUIRED'\n") == []


def test_an_expected_value_only_compared_is_no_connection():
    test = ("import unittest\nfrom kubernetes.config import load\nclass FakeConfig:\n    pass\n"
            "class T(unittest.TestCase):\n    def test_a(self):\n"
            "        expected = FakeConfig(host='h', verify_ssl=False)\n"
            "        self.assertEqual(expected, load())\n"
            "        assert expected == load()\n")
    assert codes(test) == []
    # used for anything but a comparison: found
    used = test.replace("        assert expected == load()\n", "        connect(expected)\n")
    assert codes(used) == [(7, "VERIFY_FALSE")]
    # a call known to be an HTTP client's is found even when only compared
    known = ("import requests\ndef test():\n    s = requests.Session(verify=False)\n"
             "    assert s == 1\n")
    assert codes(known) == [(3, "VERIFY_FALSE")]
    # never bound, never compared: found
    assert codes(test.replace("expected = FakeConfig", "FakeConfig")) == [(7, "VERIFY_FALSE")]


def test_a_silenced_warning_goes_with_the_findings_of_its_function():
    src = ("import requests, urllib3\n"
           "def a(u):\n    urllib3.disable_warnings()\n    return requests.get(u, verify=False)\n"
           "def b(u):\n    return requests.get(u, verify=False)\n"
           "def c(u, v):\n    urllib3.disable_warnings()\n    return requests.get(u, verify=v)\n")
    r = scan_source(src)
    assert [(f.location.line, f.code.value, bool(f.evidence)) for f in r.findings] == [
        (4, "VERIFY_FALSE", True), (6, "VERIFY_FALSE", False)]
    assert "InsecureRequestWarning is silenced (line 3)" in r.findings[0].summary
    # c decides verification at run time: the silencer is a hygiene note, INFO, not a finding
    assert [(f.location.line, f.code.value, f.severity) for f in r.hygiene] == [
        (8, "WARNINGS_DISABLED", Severity.INFO)]
    # suppressed like a finding
    quiet = src.replace("    urllib3.disable_warnings()\n    return requests.get(u, verify=v)",
                        "    urllib3.disable_warnings()  # certdoctor: ignore[WARNINGS_DISABLED]\n"
                        "    return requests.get(u, verify=v)")
    assert scan_source(quiet).hygiene == () and scan_source(quiet).suppressed == 1


def test_cert_optional_by_role():
    client = "import ssl\nctx = ssl.create_default_context()\nctx.verify_mode = ssl.CERT_OPTIONAL\n"
    server = client.replace("create_default_context()", "SSLContext(ssl.PROTOCOL_TLS_SERVER)")
    unknown = "import ssl\ndef f(ctx):\n    ctx.verify_mode = ssl.CERT_OPTIONAL\n"
    used = ("import ssl\ndef f(sock):\n    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS)\n"
            "    ctx.verify_mode = ssl.CERT_OPTIONAL\n    return ctx.wrap_socket(sock, server_hostname='h')\n")
    for src in (client, server, used):
        r = scan_source(src)
        assert r.findings == () and r.hygiene == (), src
    r = scan_source(unknown)
    assert r.findings == () and [f.code.value for f in r.hygiene] == ["CERT_OPTIONAL"]


def test_hygiene_is_shown_but_not_a_finding(tmp_path, capsys):
    f = tmp_path / "app.py"
    f.write_text("import urllib3\nurllib3.disable_warnings()\n")
    code, out, _ = run_cli(capsys, str(f))
    assert code == 0
    assert "WARNINGS_DISABLED" in out and "hygiene" in out.lower()
    assert "No disabled or weakened TLS verification" in out
    code, out, _ = run_cli(capsys, "--json", str(f))
    doc = json.loads(out)
    assert code == 0 and doc["findings"] == [] and doc["counts"] == {}
    assert [h["code"] for h in doc["hygiene"]] == ["WARNINGS_DISABLED"]
    assert doc["hygiene"][0]["severity"] == "info"
