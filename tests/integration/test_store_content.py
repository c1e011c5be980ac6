"""Issue 9, item 10, against the real client: the store given with --ca-file holds the server's
leaf, only the intermediate, a DER root, a key, or is a directory without hash links. For each,
the diagnosis names exactly that (its own rule), the real requests outcome equals certdoctor's
verdict, and no chain finding repeats it (no UNTRUSTED_ROOT after "your bundle is DER")."""

from __future__ import annotations

import subprocess
import sys

import pytest
from cryptography.hazmat.primitives import serialization

from certdoctor.diagnose import diagnose
from certdoctor.model import Code, Severity


@pytest.fixture(scope="module")
def stores(lab, tmp_path_factory):
    d = tmp_path_factory.mktemp("given-stores")
    files = lab.scenario_files("good")
    pki = lab.pki
    out = {
        "leaf": files["leaf"],
        "intermediate": d / "intermediate.pem",
        "der": d / "lab-root.der",
        "key": files["key"],
        "unhashed": d / "certs",
    }
    out["intermediate"].write_bytes(pki.intermediate.cert.public_bytes(serialization.Encoding.PEM))
    out["der"].write_bytes(pki.root.cert.public_bytes(serialization.Encoding.DER))
    out["unhashed"].mkdir()
    (out["unhashed"] / "lab-root.pem").write_bytes(pki.root.cert.public_bytes(serialization.Encoding.PEM))
    return {k: str(v) for k, v in out.items()}


def _real_requests(url: str, verify: str) -> bool:
    """The real requests, in its own process (the lab's names resolved there too)."""
    code = (
        "import sys, requests\n"
        "from certdoctor.net.resolve import override\n"
        "with override({}, suffixes={'lab.test': '127.0.0.1'}):\n"
        "    try:\n"
        "        requests.get(sys.argv[1], verify=sys.argv[2], timeout=10)\n"
        "    except Exception as exc:\n"
        "        print(type(exc).__name__, exc); sys.exit(1)\n"
    )
    env = {k: v for k, v in __import__("os").environ.items()
           if k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR")}
    r = subprocess.run([sys.executable, "-c", code, url, verify], capture_output=True, text=True, timeout=60, env=env)
    return r.returncode == 0


CASES = {
    # kind: (the finding's code, its rule, words of its summary, words of its fix)
    "leaf": (Code.UNTRUSTED_ROOT, "store_leaf_only", "the server's own certificate (the leaf)", "--trust"),
    "intermediate": (Code.UNTRUSTED_ROOT, "store_intermediate_only", "an intermediate, not the root", "--trust"),
    "der": (Code.CA_BUNDLE_ENV, "store_der", "DER (binary), not PEM", "`certdoctor convert "),
    "key": (Code.CA_BUNDLE_ENV, "store_private_key", "a private key", "certdoctor fix "),
    "unhashed": (Code.CA_BUNDLE_ENV, "store_unhashed_directory", "no hashed certificate names", "openssl rehash"),
}


@pytest.mark.parametrize("kind", list(CASES))
def test_the_given_store_is_judged_for_what_it_holds(lab, stores, kind):
    code, rule, words, fix_words = CASES[kind]
    url = lab.endpoint("good").url
    d = diagnose(url, ca_file=stores[kind], environ={}, timeout=10, revocation=False)
    real = _real_requests(url, stores[kind])
    assert d.verifies is real is False, (d.verifies, real)
    assert d.outcome is not None and d.outcome.ok is False
    errors = [f for f in d.findings if f.severity is Severity.ERROR]
    assert errors and errors[0].code is code and errors[0].rule == rule, [(f.code, f.rule, f.summary) for f in errors]
    assert words in errors[0].summary and fix_words in errors[0].fix
    # said once: nothing else explains the same failure, and the verdict is not "unexplained"
    assert len(errors) == 1, [(f.code, f.summary) for f in errors]
    assert not any(f.code is Code.VERDICT_UNCONFIRMED for f in d.findings)
    assert any("requests says:" in e for e in errors[0].evidence)


def test_the_fixed_store_verifies(lab, stores, tmp_path):
    """The DER root converted with the command the finding names: the client verifies."""
    import re
    import shlex

    from click.testing import CliRunner

    from certdoctor.cli.convert import command

    url = lab.endpoint("good").url
    d = diagnose(url, ca_file=stores["der"], environ={}, timeout=10, revocation=False)
    src, _out = shlex.split(re.search(r"`certdoctor convert ([^`]+)`", d.errors[0].fix).group(1))
    out = str(tmp_path / "lab-root.pem")
    assert CliRunner().invoke(command, [src, out]).exit_code == 0
    d = diagnose(url, ca_file=out, environ={}, timeout=10, revocation=False)
    assert d.verifies is True and _real_requests(url, out) and not d.errors


def test_same_bundle_in_two_variables_is_quiet(lab):
    """SSL_CERT_FILE and REQUESTS_CA_BUNDLE naming the lab root: no warning, at most one note."""
    env = {"SSL_CERT_FILE": str(lab.ca_file), "REQUESTS_CA_BUNDLE": str(lab.ca_file)}
    d = diagnose(lab.endpoint("good").url, environ=env, timeout=10, revocation=False)
    assert d.verifies is True
    env_findings = [f for f in d.findings if f.code is Code.CA_BUNDLE_ENV]
    assert len(env_findings) <= 1 and all(f.severity is Severity.INFO for f in env_findings), env_findings
    assert not d.findings or all(f.severity is Severity.INFO for f in d.findings)


def test_findings_come_in_report_order_in_json_and_text(lab):
    """An expired leaf under a store note: the API, the JSON and the text give the same order."""
    import json

    from rich.console import Console

    from certdoctor.checks.runner import order_key
    from certdoctor.render.diagnose import diagnosis_json, render_diagnosis

    env = {"REQUESTS_CA_BUNDLE": str(lab.ca_file), "SSL_CERT_FILE": str(lab.ca_file)}
    d = diagnose(lab.endpoint("expired_leaf").url, environ=env, timeout=10, revocation=False)
    assert len(d.findings) >= 2 and list(d.findings) == sorted(d.findings, key=order_key)
    doc = json.loads(json.dumps(diagnosis_json(d, lab.endpoint("expired_leaf").url), default=str))
    assert [(f["code"], f["summary"]) for f in doc["findings"]] == [(f.code.value, f.summary) for f in d.findings]
    console = Console(record=True, width=400)
    render_diagnosis(d, console=console)
    text = console.export_text()
    positions = [text.index(f.summary) for f in d.findings]
    assert positions == sorted(positions)


def test_the_cli_takes_a_directory_as_ca_file_and_judges_it(lab, stores):
    """`diagnose --ca-file DIR` is a capath, not bad input; its JSON carries the one store finding
    first, with its rule, and the findings in report order."""
    import json

    from click.testing import CliRunner

    from certdoctor.cli.main import cli

    r = CliRunner().invoke(cli, ["diagnose", lab.endpoint("good").url, "--ca-file", stores["unhashed"],
                                 "--no-revocation", "--json"], env={"REQUESTS_CA_BUNDLE": None, "SSL_CERT_FILE": None,
                                                                    "SSL_CERT_DIR": None, "CURL_CA_BUNDLE": None})
    doc = json.loads(r.output)
    assert doc["exit_code"] == 1 and doc["verdict"]["client_verifies"] is False
    first = doc["findings"][0]
    assert (first["code"], first["severity"], first["rule"]) == ("CA_BUNDLE_ENV", "error", "store_unhashed_directory")
    assert not any(f["code"] in ("UNTRUSTED_ROOT", "VERDICT_UNCONFIRMED") for f in doc["findings"])
    rank = {"error": 0, "warning": 1, "info": 2}
    keys = [(rank[f["severity"]], f["cert_index"] is None, f["cert_index"] or 0) for f in doc["findings"]]
    assert keys == sorted(keys)


@pytest.mark.parametrize("kind", ["der", "key"])
def test_the_chain_tree_does_not_blame_a_store_that_could_not_load(lab, stores, kind):
    """The human chain tree says the store could not be used — not 'this root is not in your trust
    store' — when the store finding says it cannot load (it held a DER file or a key)."""
    from rich.console import Console

    from certdoctor.render.diagnose import render_diagnosis

    d = diagnose(lab.endpoint("good").url, ca_file=stores[kind], environ={}, timeout=10, revocation=False)
    console = Console(record=True, width=200)
    render_diagnosis(d, console)
    text = console.export_text()
    assert "your trust store could not be used" in text, text
    assert "not in your trust store" not in text, text
