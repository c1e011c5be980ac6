"""The lab's scenario table and ``certdoctor lab --list``: what the lab promises, read without
starting a server. The servers themselves against the real clients: tests/integration/test_lab.py.
"""

from __future__ import annotations

import json

import pytest

from certdoctor.lab import SCENARIOS
from certdoctor.model import Code


# --------------------------------------------------------------------------- the scenario table

def test_scenario_table_is_consistent():
    ids = SCENARIOS.ids()
    assert len(ids) == len(set(ids))
    assert set(ids) == {
        "good", "good_rsa", "missing_intermediate", "expired_leaf", "expired_intermediate",
        "not_yet_valid", "expiring_soon", "self_signed", "untrusted_root", "hostname_mismatch",
        "wildcard_nested", "ip_san", "ip_in_dns_san", "cn_only", "wrong_order", "extra_cert",
        "sha1_signed", "rsa1024", "strict_bc_not_critical", "strict_no_aki",
        "client_cert_required", "plain_http", "intercepting_proxy", "revoked", "pin_other_key",
        "stall",
    }
    assert SCENARIOS["good"] is SCENARIOS[0] and "stall" in SCENARIOS and "nope" not in SCENARIOS
    for sc in SCENARIOS:
        assert all(isinstance(c, Code) for c in sc.expected_codes)
        assert sc.requests_error_default, f"{sc.id}: certifi never trusts the private lab PKI"
        if not sc.via_proxy and not sc.by_ip and sc.id != "wildcard_nested":
            assert sc.hostname == sc.id.replace("_", "-") + ".lab.test"
    assert SCENARIOS["wildcard_nested"].hostname == "a.b.wild.lab.test"
    assert SCENARIOS["intercepting_proxy"].via_proxy
    assert SCENARIOS["cn_only"].expected_codes[0] is Code.NO_SAN
    with pytest.raises(KeyError):
        SCENARIOS["nope"]


# --------------------------------------------------------------------------- the CLI

def test_cli_lab_list_json():
    from click.testing import CliRunner

    from certdoctor.cli.main import cli

    res = CliRunner().invoke(cli, ["lab", "--list", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["schema_version"] == 2
    assert [s["id"] for s in doc["scenarios"]] == list(SCENARIOS.ids())
    assert doc["scenarios"][2]["expected_codes"] == ["CHAIN_INCOMPLETE"]
    res = CliRunner().invoke(cli, ["lab", "--list"])
    assert res.exit_code == 0 and "missing_intermediate" in res.output
