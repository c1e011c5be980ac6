"""Issue 9, items 9 and 10: CA_BUNDLE_ENV speaks only when a variable changes or breaks the
client's trust, once per variable; findings come in report order; the store the user gave is
judged for what it holds (the server's leaf, only an intermediate, DER, PKCS#7, PKCS#12, a key,
an unhashed directory), and a store that cannot load is reported once."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import pkcs7

from certdoctor.checks import dedupe, judge, run
from certdoctor.checks import trust as trust_checks
from certdoctor.checks.runner import order_key
from certdoctor.model import Code, Finding, Severity
from certdoctor.trust.effective import STORE_UNUSABLE_RULES, effective_trust
from certdoctor.x509.path import build_path

from support.evidence import client_failed, client_ok, evidence, trust
from support.pki import TestCA, der, key_pem, pem

ROOT = TestCA("Store Root")
INTER = ROOT.intermediate("Store Intermediate")
LEAF = INTER.issue_cert("www.example.test")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("stores")
    out = {
        "pem": (d / "root.pem", pem(ROOT.cert)),
        "der": (d / "root.der", der(ROOT.cert)),
        "der_named_pem": (d / "der-root.pem", der(ROOT.cert)),
        "p7b": (d / "chain.p7b", pkcs7.serialize_certificates([INTER.cert, ROOT.cert], __import__(
            "cryptography.hazmat.primitives.serialization", fromlist=["Encoding"]).Encoding.DER)),
        "key": (d / "server.key", key_pem(LEAF.key)),
    }
    for path, data in out.values():
        path.write_bytes(data)
    unhashed = d / "certs"
    unhashed.mkdir()
    (unhashed / "root.pem").write_bytes(pem(ROOT.cert))
    paths = {k: str(p) for k, (p, _) in out.items()}
    paths["unhashed"] = str(unhashed)
    return paths


def _store_findings(t):
    return [f for f in t.findings if f.code is Code.CA_BUNDLE_ENV]


# --------------------------------------------------------------------------- item 10: what the store holds

@pytest.mark.parametrize("kind, rule, words", [
    ("der", "store_der", "DER (binary), not PEM: 1 certificate"),
    ("der_named_pem", "store_der", "DER (binary), not PEM"),
    ("p7b", "store_pkcs7", "PKCS#7 (DER), not a PEM bundle: 2 certificates"),
    ("key", "store_private_key", "a private key, not a CA certificate"),
])
@pytest.mark.parametrize("client", ["requests", "httpx", "urllib"])
def test_a_store_that_is_not_pem_is_named_for_what_it_holds(files, kind, rule, words, client):
    t = effective_trust(client, ca_file=files[kind], environ={})
    found = _store_findings(t)
    assert len(found) == 1, found  # one finding for the one store
    f = found[0]
    assert f.severity is Severity.ERROR and f.rule == rule and words in f.summary, f
    assert files[kind] in f.summary
    if rule != "store_private_key":
        assert "`certdoctor convert " in f.fix and files[kind] in f.fix
        m = re.search(r"`certdoctor convert \S+ (\S+)`", f.fix)
        assert m and m.group(1) != files[kind]  # the command never writes onto its input
    else:
        assert "certdoctor fix URL" in f.fix and "convert" not in f.fix


def test_the_convert_command_it_names_really_fixes_it(files, tmp_path):
    """Run the command the finding names; the result is a store the client loads."""
    import shlex

    from click.testing import CliRunner

    from certdoctor.cli.convert import command

    t = effective_trust("requests", ca_file=files["der"], environ={})
    cmd = re.search(r"`certdoctor convert ([^`]+)`", t.findings[0].fix).group(1)
    src, out = shlex.split(cmd)
    out = str(tmp_path / Path(out).name)
    result = CliRunner().invoke(command, [src, out])
    assert result.exit_code == 0, result.output
    fixed = effective_trust("requests", ca_file=out, environ={})
    assert _store_findings(fixed) == [] and fixed.anchors() == (ROOT.cert,)
    fixed.ssl_context()  # loads


def test_an_unhashed_directory_is_named_with_rehash(files):
    t = effective_trust("requests", ca_file=files["unhashed"], environ={})
    (f,) = _store_findings(t)
    assert f.rule == "store_unhashed_directory" and f.severity is Severity.ERROR
    assert f"openssl rehash {files['unhashed']}" in f.fix


def test_a_variable_naming_a_der_file_is_one_finding(files):
    t = effective_trust("requests", environ={"REQUESTS_CA_BUNDLE": files["der"]})
    (f,) = _store_findings(t)  # not "replaces certifi" and then "unusable": the variable once
    assert f.rule == "store_der" and "REQUESTS_CA_BUNDLE" in f.summary and "REQUESTS_CA_BUNDLE" in f.fix
    t = effective_trust("urllib", environ={"SSL_CERT_FILE": files["der"], "SSL_CERT_DIR": files["unhashed"]})
    rules = sorted(f.rule for f in _store_findings(t))
    assert rules == ["store_der", "store_unhashed_directory"], t.findings  # each variable once


def test_every_store_rule_is_documented():
    doc = (Path(__file__).resolve().parents[2] / "docs" / "JSON.md").read_text(encoding="utf-8")
    table = doc.split("### Rule identifiers")[1].split("The location object")[0]
    for rule in [*STORE_UNUSABLE_RULES, *trust_checks.RULES]:
        assert re.fullmatch(r"[a-z0-9]+(_[a-z0-9]+)*", rule)
        assert f"`{rule}`" in table, rule


# --------------------------------------------------------------------------- the leaf, an intermediate

def test_partial_is_set_when_the_store_holds_only_the_intermediate():
    p = build_path([LEAF.cert], [INTER.cert], verify_rfc5280=False)
    assert p.trusted and p.partial and p.anchor.subject == INTER.cert.subject.rfc4514_string()
    assert not build_path([LEAF.cert, INTER.cert], [ROOT.cert], verify_rfc5280=False).partial
    assert build_path([LEAF.cert], [LEAF.cert], verify_rfc5280=False).partial


def test_verify_server_pem_is_called_the_leaf_not_an_intermediate():
    ev = evidence([LEAF.cert, INTER.cert], anchors=[LEAF.cert], outcome=client_failed())
    found = [f for f in run(ev) if f.code is Code.UNTRUSTED_ROOT]
    assert len(found) == 1 and found[0].rule == "store_leaf_only", found
    f = found[0]
    assert "server's own certificate (the leaf)" in f.summary and "intermediate" not in f.summary
    assert f.cert_index == 0 and LEAF.cert.subject.rfc4514_string() in " ".join(f.evidence)
    assert "certdoctor fix URL --out DIR --trust ROOT_FINGERPRINT" in f.fix
    assert not any(x.code is Code.VERDICT_UNCONFIRMED for x in run(ev))


def test_only_an_intermediate_in_the_store():
    ev = evidence([LEAF.cert, INTER.cert], anchors=[INTER.cert], outcome=client_failed(
        "certificate verify failed: unable to get issuer certificate (_ssl.c:1006)"))
    (f,) = [f for f in run(ev) if f.code is Code.UNTRUSTED_ROOT]
    assert f.rule == "store_intermediate_only" and "an intermediate, not the root" in f.summary
    # Python 3.13 takes the partial chain: nothing to say
    ev = evidence([LEAF.cert, INTER.cert], anchors=[INTER.cert], python="3.13", outcome=client_ok())
    assert not [f for f in run(ev) if f.code is Code.UNTRUSTED_ROOT]


# --------------------------------------------------------------------------- a store that cannot load: once

def _unusable(rule="store_der"):
    return Finding(Code.CA_BUNDLE_ENV, Severity.ERROR, "verify points at root.der, which holds DER",
                   evidence=("verify: root.der",), rule=rule)


def test_an_unusable_store_is_not_followed_by_untrusted_root():
    store = _unusable()
    ev = evidence([LEAF.cert, INTER.cert], anchors=[], description=trust(findings=[store]),
                  outcome=client_failed("OSError: ... NO_CERTIFICATE_OR_CRL_FOUND"))
    found = run(ev)
    codes = [f.code for f in found]
    assert Code.UNTRUSTED_ROOT not in codes and Code.VERDICT_UNCONFIRMED not in codes, found
    (f,) = [f for f in found if f.code is Code.CA_BUNDLE_ENV]
    assert any("requests says:" in e and "NO_CERTIFICATE_OR_CRL_FOUND" in e for e in f.evidence)
    # the same chain with a store that loads (just without the root) is an untrusted root
    plain = evidence([LEAF.cert, INTER.cert], anchors=[], outcome=client_failed())
    assert Code.UNTRUSTED_ROOT in [f.code for f in run(plain)]
    # a warning about the store (not unusable) does not hide the chain's finding
    warn = Finding(Code.CA_BUNDLE_ENV, Severity.WARNING, "REQUESTS_CA_BUNDLE replaces certifi")
    ev = evidence([LEAF.cert, INTER.cert], anchors=[], description=trust(findings=[warn]), outcome=client_failed())
    assert Code.UNTRUSTED_ROOT in [f.code for f in run(ev)]


# --------------------------------------------------------------------------- item 9: variables

def test_ssl_cert_file_and_requests_ca_bundle_naming_the_same_bundle(files):
    env = {"SSL_CERT_FILE": files["pem"], "REQUESTS_CA_BUNDLE": files["pem"]}
    t = effective_trust("requests", environ=env)
    found = _store_findings(t)
    # no "set REQUESTS_CA_BUNDLE to the same bundle" when it already is: one finding, about the variable used
    assert len(found) == 1 and found[0].summary.startswith("REQUESTS_CA_BUNDLE"), found
    assert not any("ignores" in f.summary for f in found)
    for client in ("httpx", "urllib"):
        t = effective_trust(client, environ=env)
        assert not any("ignores" in f.summary for f in _store_findings(t)), (client, t.findings)
        assert len(_store_findings(t)) == 1
    # a variable naming ANOTHER bundle than the one used is still said
    other = {"SSL_CERT_FILE": files["pem"], "REQUESTS_CA_BUNDLE": files["der_named_pem"]}
    t = effective_trust("httpx", environ=other)
    assert any("REQUESTS_CA_BUNDLE is set but httpx ignores it" == f.summary for f in t.findings)


def test_requests_ca_bundle_naming_certifi_itself_is_a_note():
    import certifi

    t = effective_trust("requests", environ={"REQUESTS_CA_BUNDLE": certifi.where()})
    assert [f.severity for f in _store_findings(t)] == [Severity.INFO]


def test_a_missing_bundle_variable_is_one_error(tmp_path):
    t = effective_trust("requests", environ={"REQUESTS_CA_BUNDLE": str(tmp_path / "nope.pem")})
    (f,) = _store_findings(t)
    assert f.severity is Severity.ERROR and f.rule == "store_missing"


def test_a_variable_that_did_not_break_a_working_client_is_a_note():
    warn = Finding(Code.CA_BUNDLE_ENV, Severity.WARNING, "REQUESTS_CA_BUNDLE replaces certifi for requests")
    ok = evidence(LEAF.chain[:-1], anchors=[ROOT.cert], description=trust(findings=[warn]), outcome=client_ok())
    assert [f.severity for f in run(ok) if f.code is Code.CA_BUNDLE_ENV] == [Severity.INFO]
    bad = evidence(LEAF.chain[:-1], anchors=[], description=trust(findings=[warn]), outcome=client_failed())
    assert [f.severity for f in run(bad) if f.code is Code.CA_BUNDLE_ENV] == [Severity.WARNING]


# --------------------------------------------------------------------------- order

def test_findings_are_ordered_by_severity_then_chain_position():
    F = lambda sev, idx, s: Finding(Code.STRICT_X509, sev, s, cert_index=idx)  # noqa: E731
    given = [F(Severity.INFO, None, "a"), F(Severity.WARNING, 1, "b"), F(Severity.ERROR, None, "c"),
             F(Severity.ERROR, 2, "d"), F(Severity.WARNING, 0, "e"), F(Severity.ERROR, 0, "f"),
             F(Severity.ERROR, 0, "f"), F(Severity.ERROR, 0, "g")]
    assert [f.summary for f in dedupe(given)] == ["f", "g", "d", "c", "e", "b", "a"]


def test_a_diagnosis_is_in_report_order():
    """An expired leaf, SHA-1 nowhere, a store note and a missing root: errors first, leaf first."""
    import datetime as dt

    from support.pki import NOW

    expired = INTER.issue_cert("www.example.test", not_after=NOW - dt.timedelta(days=1))
    note = Finding(Code.CA_BUNDLE_ENV, Severity.INFO, "a note about the store")
    ev = evidence(list(expired.chain[:-1]), anchors=[], description=trust(findings=[note]), outcome=client_failed())
    found = run(ev)
    assert found == tuple(sorted(found, key=order_key)) and len(found) >= 3
    assert found[0].severity is Severity.ERROR and found[-1] == note
    errors = [f for f in found if f.severity is Severity.ERROR]
    indexed = [f.cert_index for f in errors if f.cert_index is not None]
    assert indexed == sorted(indexed) and errors.index(next(f for f in errors if f.cert_index is None)) >= len(indexed)


def test_the_leaf_in_the_store_next_to_its_root_is_not_partial():
    """OpenSSL without PARTIAL_CHAIN goes on from a leaf (or intermediate) in the store to the root."""
    p = build_path([LEAF.cert, INTER.cert], [LEAF.cert, ROOT.cert], verify_rfc5280=False)
    assert p.trusted and not p.partial and p.anchor.subject == ROOT.cert.subject.rfc4514_string()
    p = build_path([LEAF.cert], [INTER.cert, ROOT.cert], verify_rfc5280=False)
    assert p.trusted and not p.partial and len(p.path) == 3
    ev = evidence([LEAF.cert, INTER.cert], anchors=[LEAF.cert, ROOT.cert], outcome=client_ok())
    assert not [f for f in run(ev) if f.severity is not Severity.INFO]


def test_a_pkcs12_store_is_named(tmp_path):
    from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, NoEncryption
    from cryptography.hazmat.primitives.serialization import pkcs12

    for name, enc in (("plain.p12", NoEncryption()), ("locked.pfx", BestAvailableEncryption(b"pw"))):
        path = tmp_path / name
        path.write_bytes(pkcs12.serialize_key_and_certificates(b"x", LEAF.key, LEAF.cert, [INTER.cert], enc))
        (f,) = _store_findings(effective_trust("requests", ca_file=str(path), environ={}))
        assert f.rule == "store_pkcs12" and "PKCS#12" in f.summary and "`certdoctor convert " in f.fix


def test_a_hashed_directory_holding_the_same_certificates_is_quiet(tmp_path):
    """Debian: SSL_CERT_DIR=/etc/ssl/certs next to REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt."""
    import subprocess

    bundle = tmp_path / "ca-certificates.crt"
    bundle.write_bytes(pem(ROOT.cert, INTER.cert))
    certs = tmp_path / "certs"
    certs.mkdir()
    (certs / "root.pem").write_bytes(pem(ROOT.cert))
    h = subprocess.run(["openssl", "x509", "-hash", "-noout", "-in", str(certs / "root.pem")],
                       capture_output=True, text=True, check=True, timeout=30).stdout.strip()
    (certs / f"{h}.0").symlink_to("root.pem")
    env = {"REQUESTS_CA_BUNDLE": str(bundle), "SSL_CERT_FILE": str(bundle), "SSL_CERT_DIR": str(certs)}
    t = effective_trust("requests", environ=env)
    assert [f.summary.split()[0] for f in _store_findings(t)] == ["REQUESTS_CA_BUNDLE"], t.findings
    # a directory holding a certificate the client does NOT trust is still said
    (certs / "other.pem").write_bytes(pem(TestCA("Elsewhere Root").cert))
    h2 = subprocess.run(["openssl", "x509", "-hash", "-noout", "-in", str(certs / "other.pem")],
                        capture_output=True, text=True, check=True, timeout=30).stdout.strip()
    (certs / f"{h2}.0").symlink_to("other.pem")
    t = effective_trust("requests", environ=env)
    assert any(f.summary == "SSL_CERT_DIR is set but requests ignores it" for f in t.findings)


def test_variables_a_given_store_overrides_are_not_warned_about(files):
    env = {"SSL_CERT_FILE": files["der_named_pem"], "SSL_CERT_DIR": files["unhashed"]}
    for client in ("requests", "httpx"):
        t = effective_trust(client, ca_file=files["pem"], environ=env)
        assert _store_findings(t) == [], (client, t.findings)
        assert any("SSL_CERT_FILE is set and ignored" in r for r in t.reasons)
