"""monitor/metrics (the docs/MONITOR-METRICS.md contract) and the --nagios line, from rows built
out of hand-made evidence (no socket): names, labels, values, the reason wording, sanitising,
duplicates, and both exposition formats parsed back with prometheus_client's own parsers."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import replace
from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives import serialization
from prometheus_client.openmetrics.parser import text_string_to_metric_families as om_parse
from prometheus_client.parser import text_string_to_metric_families

from certdoctor import policy
from certdoctor.diagnose import judge
from certdoctor.monitor import metrics as M
from certdoctor.monitor import result as R
from certdoctor.monitor.config import Defaults, endpoint, source
from certdoctor.monitor.engine import endpoint_row, file_row
from certdoctor.render.monitor import Nagios, nagios_unknown, perf_label
from support import evidence as E
from support.pki import NOW, TestCA, pem

DOCUMENTED = ("certdoctor_probe_success", "certdoctor_chain_verified", "certdoctor_cert_not_after_timestamp_seconds",
              "certdoctor_cert_not_before_timestamp_seconds", "certdoctor_cert_info", "certdoctor_finding",
              "certdoctor_probe_duration_seconds", "certdoctor_cert_change_timestamp_seconds")
#: the Nagios plugin guidelines' perfdata: 'label'=value[UOM];[warn];[crit];[min];[max]
RANGE = r"@?(?:~|-?\d+(?:\.\d+)?)?:?(?:-?\d+(?:\.\d+)?)?"
PERF = re.compile(r"'(?P<label>(?:[^'=]|'')+)'=(?P<value>-?\d+(?:\.\d+)?|U)(?P<uom>s|ms|us|%|B|KB|MB|TB|c)?"
                  rf";(?P<warn>{RANGE});(?P<crit>{RANGE});(?P<min>-?\d*(?:\.\d+)?);(?P<max>-?\d*(?:\.\d+)?)$")
LINE = re.compile(r"^CERTDOCTOR (?P<word>OK|WARNING|CRITICAL|UNKNOWN) - (?P<text>[^|\n]*?)(?: \| (?P<perf>[^\n]*))?$")


def _row(chain, anchors, target=f"https://{E.HOST}/", **kw):
    spec = endpoint(target, Defaults(**{k: kw.pop(k) for k in ("warn_days", "crit_days") if k in kw}))
    return endpoint_row(spec, judge(E.evidence(chain, anchors=anchors, warn_days=spec.warn_days, **kw)), NOW, 0.25)


def _pki(days=60):
    root = TestCA("R")
    inter = root.intermediate("I")
    return root, inter, inter.issue_cert(E.HOST, not_after=NOW + dt.timedelta(days=days, hours=1))


def _samples(fams, name):
    """{frozenset(labels): value} of one family's samples (by sample name)."""
    return {frozenset(s.labels.items()): s.value for f in fams for s in f.samples if s.name == name}


def _parsed(fams):
    """The text exposition parsed back: {sample name: [(labels, value)]}."""
    out: dict = {}
    for fam in text_string_to_metric_families(M.text(fams).decode()):
        for s in fam.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def test_good_chain_exports_every_documented_metric_with_the_contracts_labels():
    root, inter, leaf = _pki()
    row = _row(leaf.chain[:-1], [root.cert])
    got = _parsed(M.families([row]))
    target = f"https://{E.HOST}/"
    assert got["certdoctor_probe_success"] == [({"target": target}, 1.0)]
    assert got["certdoctor_chain_verified"] == [({"target": target, "reason": ""}, 1.0)]
    assert got["certdoctor_probe_duration_seconds"] == [({"target": target}, 0.25)]
    na = got["certdoctor_cert_not_after_timestamp_seconds"]
    assert [lab["position"] for lab, _ in na] == ["0", "1"]
    assert all(lab["on_path"] == "true" for lab, _ in na)
    for (lab, value), cert in zip(na, (leaf.cert, inter.cert)):
        assert lab["fingerprint_sha256"] == hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
        assert value == cert.not_valid_after_utc.timestamp()
    nb = got["certdoctor_cert_not_before_timestamp_seconds"]
    assert [v for _, v in nb] == [leaf.cert.not_valid_before_utc.timestamp(), inter.cert.not_valid_before_utc.timestamp()]
    info = got["certdoctor_cert_info"]
    assert [v for _, v in info] == [1.0, 1.0]
    assert set(info[0][0]) == {"target", "position", "fingerprint_sha256", "subject", "issuer", "serial"}
    assert info[0][0]["subject"] == leaf.cert.subject.rfc4514_string()
    assert info[0][0]["issuer"] == inter.cert.subject.rfc4514_string()
    assert info[0][0]["serial"] == row.certificates[0].serial and re.fullmatch(r"(?:[0-9a-f]{2})+", info[0][0]["serial"])
    assert "certdoctor_cert_change_timestamp_seconds" not in got  # the first sight is not a change
    assert "certdoctor_finding" not in got  # a clean chain has no finding series
    names = {f.name for f in text_string_to_metric_families(M.text(M.families([row])).decode())}
    assert {n.removesuffix("_info") for n in DOCUMENTED} <= names | {"certdoctor_cert"}


@pytest.mark.parametrize("case, reason", [("untrusted", "unable to get local issuer certificate"),
                                          ("incomplete", "unable to get local issuer certificate"),
                                          ("expired", "certificate has expired"),
                                          ("self_signed", "self-signed certificate"),
                                          ("hostname", "hostname mismatch")])
def test_a_failing_chain_keeps_its_facts_and_says_why(case, reason):
    from support.pki import self_signed

    root, inter, leaf = _pki()
    if case == "untrusted":
        row = _row(leaf.chain[:-1], [TestCA("Unrelated").cert])
    elif case == "incomplete":
        row = _row(leaf.chain[:1], [root.cert])
    elif case == "expired":
        old = inter.issue_cert(E.HOST, not_before=NOW - dt.timedelta(days=100), not_after=NOW - dt.timedelta(days=3))
        row = _row(old.chain[:-1], [root.cert])
    elif case == "self_signed":
        ss = self_signed(E.HOST)
        row = _row((ss.cert,), [root.cert])
    else:
        other = inter.issue_cert("other.example.test")
        row = _row(other.chain[:-1], [root.cert])
    fams = M.families([row])
    assert row.status == "critical" and row.verified is False
    assert _samples(fams, "certdoctor_probe_success") == {frozenset({("target", row.target)}): 1.0}
    assert _samples(fams, "certdoctor_chain_verified") == {frozenset({("target", row.target), ("reason", reason)}): 0.0}
    # also when verification fails: notAfter of the served leaf
    leaf_na = [v for k, v in _samples(fams, "certdoctor_cert_not_after_timestamp_seconds").items()
               if ("position", "0") in k]
    assert leaf_na == [row.certificates[0].not_after.timestamp()]
    codes = {dict(k)["code"]: dict(k)["severity"] for k in _samples(fams, "certdoctor_finding")}
    assert codes.get(row.reason) == "error"


def test_expiring_under_crit_days_is_critical_but_still_a_verified_chain():
    root, inter, leaf = _pki(days=3)
    row = _row(leaf.chain[:-1], [root.cert], warn_days=30, crit_days=7)
    assert row.status == "critical" and row.reason == "EXPIRING_SOON"
    fams = M.families([row])
    assert list(_samples(fams, "certdoctor_chain_verified").values()) == [1.0]
    assert [dict(k)["reason"] for k in _samples(fams, "certdoctor_chain_verified")] == [""]
    assert {("code", "EXPIRING_SOON"), ("severity", "error")} <= set(next(iter(_samples(fams, "certdoctor_finding"))))


def test_no_certificate_is_probe_success_0_and_nothing_else_but_findings_and_duration():
    from certdoctor.model import Actor, Code, Finding, Severity

    fail = Finding(Code.CONNECTION_REFUSED, Severity.ERROR, "refused", who=Actor.SERVER_OPERATOR)
    row = _row((), [TestCA("R").cert], failure=fail)
    got = _parsed(M.families([row]))
    assert got["certdoctor_probe_success"] == [({"target": row.target}, 0.0)]
    assert "certdoctor_chain_verified" not in got and "certdoctor_cert_info" not in got
    assert ({"target": row.target, "code": "CONNECTION_REFUSED", "severity": "error"}, 1.0) in got["certdoctor_finding"]
    assert "certdoctor_probe_duration_seconds" in got


def test_an_unused_extra_certificate_is_on_path_false():
    root, inter, leaf = _pki()
    stray = TestCA("Old Cross", not_before=NOW - dt.timedelta(days=900), not_after=NOW - dt.timedelta(days=30))
    row = _row(leaf.chain[:-1] + (stray.cert,), [root.cert])
    na = _samples(M.families([row]), "certdoctor_cert_not_after_timestamp_seconds")
    assert sorted((dict(k)["position"], dict(k)["on_path"]) for k in na) == [("0", "true"), ("1", "true"),
                                                                              ("2", "false")]
    assert list(_samples(M.families([row]), "certdoctor_chain_verified").values()) == [1.0]


def test_a_certificate_file_has_no_chain_verified(tmp_path):
    root, inter, leaf = _pki()
    path = tmp_path / "fullchain.pem"
    path.write_bytes(pem(leaf.cert, inter.cert))
    row = file_row(source(str(path)), NOW, 0.0)
    fams = M.families([row])
    assert list(_samples(fams, "certdoctor_probe_success").values()) == [1.0]
    assert _samples(fams, "certdoctor_chain_verified") == {}
    assert len(_samples(fams, "certdoctor_cert_info")) == 2


def test_change_timestamp_is_read_defensively_from_the_row():
    root, inter, leaf = _pki()
    row = _row(leaf.chain[:-1], [root.cert])
    when = dt.datetime(2030, 5, 1, 12, 0, tzinfo=dt.timezone.utc)

    class Stated(SimpleNamespace):  # a row the state layer has added a field to
        pass

    fields = {name: getattr(row, name) for name in row.__dataclass_fields__}
    for attr, value in (("leaf_changed_at", when), ("changed_at", when.timestamp())):
        stated = Stated(**(fields | {"leaf_changed_at": None} | {attr: value}))
        got = _samples(M.families([stated]), "certdoctor_cert_change_timestamp_seconds")
        assert got == {frozenset({("target", row.target)}): when.timestamp()}
    assert _samples(M.families([Stated(**(fields | {"leaf_changed_at": None}))]),
                    "certdoctor_cert_change_timestamp_seconds") == {}
    # the state layer's real field (monitor/state.py records it on a leaf change)
    import dataclasses

    real = dataclasses.replace(row, leaf_changed_at=when)
    assert _samples(M.families([real]), "certdoctor_cert_change_timestamp_seconds") == {
        frozenset({("target", row.target)}): when.timestamp()}


def test_labels_are_sanitised_bounded_and_never_duplicated():
    root, inter, leaf = _pki()
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "evil\x1b]52;c;AAAA\x07\u202e")]
                        + [x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "u" * 60) for _ in range(20)])
    evil = TestCA("R2").intermediate("I2").issue_cert(E.HOST, subject=subject)
    row = _row(evil.chain[:-1], [root.cert])
    good = _row(leaf.chain[:-1], [root.cert])
    fams = M.families([row, row, good, replace(good, elapsed=9.0)])  # the same targets listed twice
    text = M.text(fams).decode()
    assert "\x1b" not in text and "\u202e" not in text and "\x07" not in text
    subjects = [dict(k)["subject"] for k in _samples(fams, "certdoctor_cert_info")]
    assert any(s.endswith("…") and len(s) == policy.MONITOR_LABEL_MAX for s in subjects)
    assert all(len(s) <= policy.MONITOR_LABEL_MAX for s in subjects)
    assert list(_samples(fams, "certdoctor_probe_duration_seconds").values()) == [0.25]  # first wins
    # every series once: a scrape with a duplicate series is rejected by Prometheus
    lines = [ln.rsplit(" ", 1)[0] for ln in text.splitlines() if ln and not ln.startswith("#")]
    assert len(lines) == len(set(lines))


def test_openmetrics_has_the_info_family_and_both_formats_parse():
    root, inter, leaf = _pki()
    fams = M.families([_row(leaf.chain[:-1], [root.cert])]) + M.self_families(last_run=1.8e9, duration=2.5, targets=1)
    body, ctype = M.exposition(fams, "application/openmetrics-text; version=1.0.0")
    assert ctype.startswith("application/openmetrics-text")
    om = {f.name: f for f in om_parse(body.decode())}
    assert om["certdoctor_cert"].type == "info"
    assert om["certdoctor_monitor_last_run_timestamp_seconds"].samples[0].value == 1.8e9
    body, ctype = M.exposition(fams, None)
    assert ctype.startswith("text/plain") and b"# TYPE certdoctor_cert_info gauge" in body


def test_self_metrics_without_a_run_have_no_values():
    got = _parsed(M.self_families(last_run=None, duration=None, targets=None))
    assert got == {}
    names = M.text(M.self_families(last_run=None, duration=None, targets=None)).decode()
    assert "# TYPE certdoctor_monitor_last_run_timestamp_seconds gauge" in names


# --------------------------------------------------------------------------- --nagios

def _nagios(rows, code=None):
    n = Nagios()
    for r in rows:
        n.add(r)
    return n.line(R.exit_code(r.status for r in rows) if code is None else code)


def _parse_line(line):
    m = LINE.match(line)
    assert m, line
    perf = m.group("perf").split(" ") if m.group("perf") else []
    parsed = [PERF.match(p) for p in perf]
    assert all(parsed), perf
    return m.group("word"), m.group("text"), [p.groupdict() for p in parsed]


@pytest.mark.parametrize("days, word", [(60, "OK"), (20, "WARNING"), (3, "CRITICAL")])
def test_nagios_line_and_perfdata_follow_the_plugin_guidelines(days, word):
    root, inter, leaf = _pki(days=days)
    row = _row(leaf.chain[:-1], [root.cert], warn_days=30, crit_days=7)
    got_word, text, perf = _parse_line(_nagios([row]))
    assert got_word == word
    assert text.startswith("1 target: ")
    assert perf == [{"label": f"https://{E.HOST}/_days", "value": str(days), "uom": None, "warn": "30:",
                     "crit": "7:", "min": "", "max": ""}]


def test_nagios_unknown_and_mixed_fleets_name_the_bad_targets():
    from certdoctor.model import Actor, Code, Finding, Severity

    root, inter, leaf = _pki()
    ok = _row(leaf.chain[:-1], [root.cert])
    fail = Finding(Code.CONNECTION_REFUSED, Severity.ERROR, "refused", who=Actor.SERVER_OPERATOR)
    down = _row((), [root.cert], target="https://down.example.test/", failure=fail)
    word, text, perf = _parse_line(_nagios([ok, down]))
    assert word == "UNKNOWN"
    assert text.startswith("2 targets: 0 critical, 0 warning, 1 unknown, 1 ok")
    assert "unknown: https://down.example.test/ (CONNECTION_REFUSED)" in text
    assert [p["value"] for p in perf] == ["60", "U"]  # soonest first, no certificate last
    bad = _row(leaf.chain[:1], [root.cert], target="https://bad.example.test/")
    word, text, _ = _parse_line(_nagios([ok, down, bad]))
    assert word == "CRITICAL" and "critical: https://bad.example.test/ (CHAIN_INCOMPLETE)" in text


def test_nagios_labels_with_quotes_equals_and_pipes_stay_parsable():
    label = perf_label("https://h.example/?a='b'|c=d")
    assert "=" not in label and "|" not in label
    assert PERF.match(f"{label}=1;30:;7:;;")
    assert label == "'https://h.example/?a_''b''%7Cc_d_days'"
    line = nagios_unknown("bad\nline | with pipe")
    assert "\n" not in line and "|" not in line and line.startswith("CERTDOCTOR UNKNOWN - ")


def test_nagios_names_are_bounded_per_status():
    root, inter, leaf = _pki()
    rows = [_row(leaf.chain[:1], [root.cert], target=f"https://h{i}.example.test/") for i in range(12)]
    word, text, perf = _parse_line(_nagios(rows))
    assert word == "CRITICAL" and len(perf) == 12
    assert text.count("CHAIN_INCOMPLETE") == policy.NAGIOS_NAMES_PER_STATUS
    assert f"+{12 - policy.NAGIOS_NAMES_PER_STATUS} more" in text
