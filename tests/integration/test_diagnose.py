"""diagnose against the lab: every scenario gets its expected code, and certdoctor's verdict
equals what the real requests does, with and without the lab root trusted, and under 3.13 rules.
The target and proxy rules (no server): tests/unit/test_diagnose.py."""

from __future__ import annotations

import json
import ssl

import pytest
import requests
from requests.adapters import HTTPAdapter
from support.pki import NO_URLS, TestCA, make_name
from support.servers import closed_port

from certdoctor.cli.common import run
from certdoctor.cli.main import cli
from certdoctor.diagnose import diagnose
from certdoctor.errors import UsageError
from certdoctor.model import Code, Severity

SKIP_VERDICT = {
    # TLS 1.3 client-certificate failures surface after the handshake; both sides agree it fails,
    # but the exact exception is racy (catalogue §7).
    "stall": "a stalled server only times out; covered by test_stall_is_a_timeout",
}


def _scenarios():
    from certdoctor.lab import SCENARIOS

    return [s for s in SCENARIOS]


def _real_requests(url: str, verify, proxy: str | None, strict: bool = False) -> tuple[bool, str]:
    """What the real requests does (a fresh session, env ignored)."""
    with requests.Session() as s:
        s.trust_env = False
        if strict:
            class Strict(HTTPAdapter):
                def init_poolmanager(self, *a, **kw):
                    from urllib3.util.ssl_ import create_urllib3_context

                    ctx = create_urllib3_context()
                    ctx.verify_flags |= ssl.VERIFY_X509_STRICT | ssl.VERIFY_X509_PARTIAL_CHAIN
                    kw["ssl_context"] = ctx
                    return super().init_poolmanager(*a, **kw)

            s.mount("https://", Strict())
        try:
            s.get(url, verify=verify, timeout=5, proxies={"https": proxy} if proxy else {})
        except requests.RequestException as exc:
            return False, str(exc)
    return True, ""


@pytest.mark.parametrize("scenario", _scenarios(), ids=lambda s: s.id)
def test_expected_primary_code(lab, scenario):
    if scenario.id == "stall":
        pytest.skip(SKIP_VERDICT["stall"])
    ep = lab.endpoint(scenario.id)
    proxy = lab.proxy_url if scenario.via_proxy else None
    d = diagnose(ep.url, ca_file=str(lab.ca_file), proxy=proxy, timeout=5)
    codes = [f.code.value for f in d.findings]
    if not scenario.expected_codes:
        assert not d.errors, f"{scenario.id}: unexpected errors {codes}"
        assert d.verifies is True
    else:
        primary = scenario.expected_codes[0]
        assert primary in codes, f"{scenario.id}: expected {primary}, got {codes}"


@pytest.mark.parametrize("trusted", [True, False], ids=["lab-root", "certifi"])
@pytest.mark.parametrize("scenario", _scenarios(), ids=lambda s: s.id)
def test_verdict_equals_real_requests(lab, scenario, trusted):
    if scenario.id in SKIP_VERDICT:
        pytest.skip(SKIP_VERDICT[scenario.id])
    ep = lab.endpoint(scenario.id)
    proxy = lab.proxy_url if scenario.via_proxy else None
    ca = str(lab.ca_file) if trusted else None
    d = diagnose(ep.url, ca_file=ca, proxy=proxy, timeout=5, revocation=False)
    import certifi

    real_ok, real_err = _real_requests(ep.url, ca or certifi.where(), proxy)
    assert d.verifies is real_ok, f"{scenario.id}: certdoctor {d.verifies}, requests {real_ok}: {real_err}"
    if not real_ok:
        assert d.exit_code == 1 and d.errors, [f.code.value for f in d.findings]


STRICT_IDS = ("strict_bc_not_critical", "strict_no_aki", "good", "wrong_order")


@pytest.mark.parametrize("sid", STRICT_IDS)
def test_python313_mode_equals_strict_flags(lab, sid):
    ep = lab.endpoint(sid)
    d = diagnose(ep.url, ca_file=str(lab.ca_file), python="3.13", timeout=5, revocation=False)
    real_ok, real_err = _real_requests(ep.url, str(lab.ca_file), None, strict=True)
    assert d.verifies is real_ok, real_err
    if sid.startswith("strict_"):
        assert not real_ok
        strict = [f for f in d.findings if f.code is Code.STRICT_X509]
        assert strict and strict[0].severity is Severity.ERROR
        # the exact rule OpenSSL prints is named in the finding
        assert any(f.summary.split(": ", 1)[1].rstrip(".") in real_err for f in strict), (real_err, strict)


def test_strict_is_a_warning_on_this_python(lab):
    d = diagnose(lab.endpoint("strict_bc_not_critical").url, ca_file=str(lab.ca_file), timeout=5)
    strict = [f for f in d.findings if f.code is Code.STRICT_X509]
    assert strict and all(f.severity is Severity.WARNING for f in strict)
    assert "passes on this Python" in strict[0].summary
    assert d.verifies is True


def test_missing_intermediate_is_fetched_by_aia(lab, tmp_path):
    from certdoctor.net.fetch import FetchCache

    cache = FetchCache(tmp_path / "cache")
    d = diagnose(lab.endpoint("missing_intermediate").url, ca_file=str(lab.ca_file), timeout=5, cache=cache)
    f = next(f for f in d.findings if f.code is Code.CHAIN_INCOMPLETE)
    assert any("/aia/" in e for e in f.evidence)
    assert d.path.trusted and d.path.fetched
    # second run: served from the on-disk cache
    d2 = diagnose(lab.endpoint("missing_intermediate").url, ca_file=str(lab.ca_file), timeout=5, cache=cache)
    assert any(a.from_cache for a in d2.path.aia_attempts)


def test_hostname_findings_name_covered_names(lab):
    d = diagnose(lab.endpoint("hostname_mismatch").url, ca_file=str(lab.ca_file), timeout=5)
    f = next(f for f in d.findings if f.code is Code.HOSTNAME_MISMATCH)
    assert "other.example.test" in f.explanation
    d = diagnose(lab.endpoint("wildcard_nested").url, ca_file=str(lab.ca_file), timeout=5)
    f = next(f for f in d.findings if f.code is Code.HOSTNAME_MISMATCH)
    assert "one label" in f.explanation


def test_interceptor_is_named_with_canary_evidence(lab):
    ep = lab.endpoint("intercepting_proxy")
    d = diagnose(ep.url, ca_file=str(lab.ca_file), proxy=lab.proxy_url, timeout=5)
    f = next(f for f in d.findings if f.code is Code.INTERCEPTING_PROXY)
    # the lab's root has no product name: the proof is that the same root signs another host too
    assert any("re-signs every site" in e for e in f.evidence), f.evidence
    # the same chain without the proxy in the picture is just an untrusted root
    assert f.who.value == "network-admin"


def test_env_var_is_reported_and_applied(lab, monkeypatch, tmp_path):
    env = {"REQUESTS_CA_BUNDLE": str(lab.ca_file)}
    d = diagnose(lab.endpoint("good").url, environ=env, timeout=5)
    assert d.verifies is True
    assert any(f.code is Code.CA_BUNDLE_ENV for f in d.findings)
    missing = {"REQUESTS_CA_BUNDLE": str(tmp_path / "nope.pem")}
    d = diagnose(lab.endpoint("good").url, environ=missing, timeout=5)
    env_findings = [f for f in d.findings if f.code is Code.CA_BUNDLE_ENV]
    assert any(f.severity is Severity.ERROR and "nope.pem" in " ".join(f.evidence) + f.summary + f.explanation
               for f in env_findings), env_findings
    assert d.verifies is False and d.exit_code == 1
    # SSL_CERT_FILE is ignored by requests but used by httpx
    env = {"SSL_CERT_FILE": str(lab.ca_file)}
    assert diagnose(lab.endpoint("good").url, environ=env, timeout=5).verifies is False
    assert diagnose(lab.endpoint("good").url, environ=env, client="httpx", timeout=5).verifies is True


def test_connection_failures_are_findings(lab):
    d = diagnose(lab.endpoint("plain_http").url, timeout=5)
    assert d.primary.code is Code.NOT_TLS
    d = diagnose(f"127.0.0.1:{closed_port()}", timeout=3)
    assert d.primary.code is Code.CONNECTION_REFUSED and d.exit_code == 1


def test_stall_is_a_timeout(lab):
    d = diagnose(lab.endpoint("stall").url, timeout=1)
    assert d.primary.code is Code.TIMEOUT


def test_clock_skew_from_server_date(lab):
    import datetime as dt

    ahead = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=3)
    d = diagnose(lab.endpoint("good").url, ca_file=str(lab.ca_file), timeout=5, now=ahead)
    assert any(f.code is Code.CLOCK_SKEW for f in d.findings)


def test_cli_json_and_exit_codes(lab, capsys):
    url = lab.endpoint("expired_leaf").url
    rc = run(cli, ["diagnose", url, "--ca-file", str(lab.ca_file), "--json", "--timeout", "5"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 1
    assert out["schema_version"] == 2
    assert out["verdict"]["primary"] == "EXPIRED"
    assert out["trust"]["cafile"] == str(lab.ca_file)
    assert out["chain"]["certs"][0]["expired"] is True
    rc = run(cli, ["diagnose", lab.endpoint("good").url, "--ca-file", str(lab.ca_file), "--timeout", "5"])
    text = capsys.readouterr().out
    assert rc == 0 and "verifies this server" in text
    rc = run(cli, ["diagnose", "http://x/"])
    assert rc == 2
    assert capsys.readouterr().err.startswith("error: ")
    rc = run(cli, ["diagnose", url, "--ca-file", "/nonexistent.pem"])
    assert rc == 2


def test_hostile_aia_stays_bounded(lab):
    """A redirect loop, a 10 MB answer and a stall: each a clear FetchError in bounded time."""
    import time

    from certdoctor.errors import FetchError
    from certdoctor.net.fetch import fetch_url

    for route, words, per_read in (("/hostile/redirect-loop", "redirect", 1.0), ("/hostile/big", "limit", 1.0),
                                   ("/hostile/stall", "timed out", 1.0), ("/hostile/slow-drip", "longer than", 2.0)):
        start = time.monotonic()
        with pytest.raises(FetchError) as info:
            fetch_url(lab.http_base + route, timeout=per_read, budget=3.0)
        assert time.monotonic() - start < 6
        assert words in info.value.message, (route, info.value.message)


def test_https_proxy_env_is_followed_to_the_interceptor(lab):
    ep = lab.endpoint("good")
    d = diagnose(ep.url, ca_file=str(lab.ca_file), environ={"HTTPS_PROXY": lab.proxy_url}, timeout=5)
    assert any(f.code is Code.INTERCEPTING_PROXY for f in d.findings)
    d = diagnose(ep.url, ca_file=str(lab.ca_file), timeout=5,
                 environ={"HTTPS_PROXY": lab.proxy_url, "NO_PROXY": ".lab.test"})
    assert d.ok


def test_pin_mismatch_is_reported(lab):
    from certdoctor.model import spki_pin
    from certdoctor.net.probe import fetch_chain

    good = lab.endpoint("good")
    chain = fetch_chain(good.hostname, good.port, timeout=5)
    right = "sha256/" + spki_pin(chain[0])
    d = diagnose(good.url, ca_file=str(lab.ca_file), pins=[right], timeout=5)
    assert not any(f.code is Code.PIN_MISMATCH for f in d.findings)
    other = lab.endpoint("pin_other_key")
    d = diagnose(f"https://good.lab.test:{other.port}/", ca_file=str(lab.ca_file), pins=[right], timeout=5)
    # normal verification passes (a MITM with a valid certificate): certdoctor's own path is
    # trusted; the real client is not run against a server that failed the pin (issue 10), so
    # there is no client verdict
    assert d.path is not None and d.path.trusted
    assert d.verifies is None and d.outcome.not_run == "pin mismatch"
    assert any(f.code is Code.PIN_MISMATCH for f in d.findings) and d.exit_code == 1
    with pytest.raises(UsageError):
        diagnose(good.url, pins=["sha256/short"], timeout=5)


def test_revoked_is_reported_although_requests_accepts_it(lab):
    d = diagnose(lab.endpoint("revoked").url, ca_file=str(lab.ca_file), timeout=5)
    assert d.verifies is True
    f = next(f for f in d.findings if f.code is Code.REVOKED)
    assert f.severity is Severity.ERROR and d.exit_code == 1
    d = diagnose(lab.endpoint("revoked").url, ca_file=str(lab.ca_file), timeout=5, revocation=False)
    assert not any(f.code is Code.REVOKED for f in d.findings)


def test_untrusted_root_says_whether_the_server_sent_it(lab):
    # good: leaf + intermediate, the root only reachable over AIA
    d = diagnose(lab.endpoint("good").url, timeout=5)
    f = next(f for f in d.findings if f.code is Code.UNTRUSTED_ROOT)
    assert "does not send" in f.explanation and "unable to get local issuer certificate" in f.explanation
    assert "unable to get local issuer certificate" in d.outcome.error
    # wrong_order sends its root: OpenSSL's words differ, and so do ours
    d = diagnose(lab.endpoint("wrong_order").url, timeout=5)
    f = next(f for f in d.findings if f.code is Code.UNTRUSTED_ROOT)
    assert "sends itself" in f.explanation
    assert "self-signed certificate in certificate chain" in f.explanation
    assert "self-signed certificate in certificate chain" in d.outcome.error


def _serve_extra(lab, name, issued, chain=None):
    """An extra endpoint on the running lab (stopped with it)."""
    if name in lab.endpoints:
        return lab.endpoint(name)
    return lab.serve(name, issued, chain=chain)


def test_wrong_eku_client_only_certificate(lab):
    host = "wrong-eku.lab.test"
    issued = lab.pki.issue_leaf([host], client=True)  # EKU clientAuth only
    ep = _serve_extra(lab, "wrong_eku", issued)
    real_ok, real_err = _real_requests(ep.url, str(lab.ca_file), None)
    assert not real_ok and "unsuitable certificate purpose" in real_err
    d = diagnose(ep.url, ca_file=str(lab.ca_file), timeout=5)
    assert d.verifies is False
    f = next(f for f in d.findings if f.code is Code.WRONG_EKU)
    assert f.severity is Severity.ERROR and "clientAuth" in " ".join(f.evidence)
    assert "unsuitable certificate purpose" in f.explanation  # OpenSSL's own words


def test_root_removed_from_certifi_is_named(lab):
    """A chain under a root certifi removed (the real DST Root CA X3, named by the intermediate's
    issuer and authority key identifier), and a private root that only bears its name."""
    from certdoctor.lab.pki import IssuedCert
    from support.removed import issued_under_removed_root

    host = "removed-root.lab.test"
    issued, inter = issued_under_removed_root(host)
    ep = _serve_extra(lab, "removed_root", IssuedCert(issued.cert, issued.key, (issued.cert, inter)))
    d = diagnose(ep.url, timeout=5)
    assert d.verifies is False
    f = next(f for f in d.findings if f.code is Code.CERTIFI_OUTDATED)
    assert "2022.05.18" in f.summary and "'DST Root CA X3'" in f.summary

    # by key, never by name: a private root called "DST Root CA X3" is a private root
    fake = TestCA(make_name("DST Root CA X3", org=None), **NO_URLS)
    issued = fake.issue_cert("fake-removed-root.lab.test")
    ep = _serve_extra(lab, "fake_removed_root", IssuedCert(issued.cert, issued.key, (issued.cert, fake.cert)))
    d = diagnose(ep.url, timeout=5)
    assert d.verifies is False
    assert Code.CERTIFI_OUTDATED not in {f.code for f in d.findings}
    assert d.primary.code is Code.UNTRUSTED_ROOT


@pytest.mark.parametrize("trusted", [True, False], ids=["PIP_CERT", "default"])
def test_pip_verdict_equals_real_pip(lab, tmp_path, trusted):
    """The real pip (truststore + certifi + PIP_CERT) against the lab's IP-SAN endpoint."""
    import os
    import subprocess
    import sys

    ep = lab.endpoint("ip_san")  # https://127.0.0.1:PORT/: no name to resolve in pip's process
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "REQUESTS_", "CURL_", "SSL_CERT"))}
    env["PIP_CONFIG_FILE"] = os.devnull
    if trusted:
        env["PIP_CERT"] = str(lab.ca_file)
    out = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--retries", "0", "--timeout", "5",
         "--index-url", f"https://127.0.0.1:{ep.port}/simple/", "-d", str(tmp_path), "certdoctor-no-such-pkg"],
        capture_output=True, text=True, env=env, timeout=120)
    pip_tls_ok = "CERTIFICATE_VERIFY_FAILED" not in out.stdout + out.stderr
    d = diagnose(ep.url, client="pip", environ={"PIP_CONFIG_FILE": os.devnull, **({"PIP_CERT": str(lab.ca_file)} if trusted else {})},
                 timeout=5)
    assert d.verifies is pip_tls_ok is trusted, (out.stdout[-500:], out.stderr[-500:], d.findings)


def test_transparent_interceptor_is_recognised_by_its_product_name(lab):
    """No proxy configured (transparent interception): the root's name gives it away."""
    from certdoctor.lab.pki import IssuedCert

    ca = TestCA(make_name("Zscaler Root CA", org=None), **NO_URLS)
    host = "zscaled.lab.test"
    issued = ca.issue_cert(host)
    root, leaf, leaf_key = ca.cert, issued.cert, issued.key
    ep = _serve_extra(lab, "zscaled", IssuedCert(leaf, leaf_key, (leaf,)), chain=(leaf, root))
    d = diagnose(ep.url, timeout=5)
    f = next(f for f in d.findings if f.code is Code.INTERCEPTING_PROXY)
    assert any("TLS-inspecting product" in e for e in f.evidence)
    assert d.verifies is False


def test_suggested_commands_can_be_pasted(lab):
    ep = lab.endpoint("missing_intermediate")
    d = diagnose(ep.url, ca_file=str(lab.ca_file), timeout=5)
    f = next(f for f in d.findings if f.code is Code.CHAIN_INCOMPLETE)
    assert f"certdoctor fix {ep.url} --ca-file {lab.ca_file} --out DIR" in f.fix
