"""renew/acme.py without a network: the newOrder payload with ``replaces``, the account key
file, failure mapping and the chain split (the CertID is schedule.cert_id: test_renew_schedule)."""

from __future__ import annotations

import datetime as dt
import json
import stat
from email.utils import format_datetime

import pytest
from acme import messages
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certdoctor import policy
from certdoctor.errors import UsageError
from certdoctor.renew.acme import (KINDS, AcmeFailure, _from_problem, _retry_after, account_key_at,
                                   new_order_message, split_fullchain)
from support.pki import TestCA, make_key

IDS = [messages.Identifier(typ=messages.IDENTIFIER_FQDN, value="a.example.test"),
       messages.Identifier(typ=messages.IDENTIFIER_FQDN, value="b.example.test")]


def test_new_order_carries_replaces_when_given():
    payload = json.loads(new_order_message(IDS, replaces="aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE").json_dumps())
    assert payload["replaces"] == "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"
    assert [i["value"] for i in payload["identifiers"]] == ["a.example.test", "b.example.test"]


def test_new_order_without_replaces_is_the_librarys_own():
    ours = json.loads(new_order_message(IDS).json_dumps())
    theirs = json.loads(messages.NewOrder(identifiers=IDS).json_dumps())
    assert ours == theirs and "replaces" not in ours and "profile" not in ours


def test_new_order_profile():
    assert json.loads(new_order_message(IDS, profile="shortlived").json_dumps())["profile"] == "shortlived"


def test_account_key_is_created_0600_and_never_overwritten(tmp_path):
    path = tmp_path / "acct" / "account.key"
    key, created = account_key_at(path)
    assert created and isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    before = path.read_bytes()
    again, created = account_key_at(path)
    assert not created and path.read_bytes() == before
    assert again.private_numbers() == key.private_numbers()


def test_account_key_refuses_what_is_not_a_usable_key(tmp_path):
    bad = tmp_path / "bad.key"
    bad.write_text("not a key")
    with pytest.raises(UsageError, match="not a PEM private key"):
        account_key_at(bad)
    enc = tmp_path / "enc.key"
    enc.write_bytes(make_key("ec").private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                 serialization.BestAvailableEncryption(b"pw")))
    with pytest.raises(UsageError, match="encrypted"):
        account_key_at(enc)
    assert enc.read_bytes().startswith(b"-----BEGIN ENCRYPTED")  # left as it was


def test_failure_kinds_and_one_sanitised_line():
    with pytest.raises(ValueError):
        AcmeFailure("nonsense", "x")
    f = AcmeFailure("unreachable", "cannot reach\n\x1b[31mhost")
    assert f.transient and "\n" not in f.detail and "\x1b" not in f.detail
    assert not AcmeFailure("challenge_failed", "x").transient
    assert AcmeFailure("bad_response", "x", transient=True).transient
    assert len(AcmeFailure("tls", "y" * 10_000).detail) == policy.ACME_DETAIL_MAX_CHARS
    assert {"unreachable", "timeout", "tls", "bad_response", "rate_limited", "challenge_failed", "order_invalid",
            "finalize_failed", "account", "already_replaced", "unauthorized"} == KINDS


class _Resp:
    def __init__(self, headers):
        self.headers = headers


def test_problem_documents_map_to_kinds():
    rl = _from_problem("new order", "urn:ietf:params:acme:error:rateLimited", "too many", 429,
                       _Resp({"Retry-After": "120"}), "order_invalid")
    assert (rl.kind, rl.transient, rl.retry_after) == ("rate_limited", True, 120.0)
    assert "too many" in rl.detail and "new order" in rl.detail
    assert _from_problem("s", "urn:ietf:params:acme:error:unauthorized", "no", 403, None, "bad_response").kind \
        == "unauthorized"
    srv = _from_problem("s", "urn:ietf:params:acme:error:serverInternal", "oops", 500, None, "bad_response")
    assert srv.kind == "bad_response" and srv.transient
    bad = _from_problem("finalize", "urn:ietf:params:acme:error:badCSR", "key too small", 400, None, "finalize_failed")
    assert bad.kind == "finalize_failed" and not bad.transient


def test_retry_after_seconds_and_dates_are_clamped():
    assert _retry_after({"Retry-After": "30"}) == 30.0
    assert _retry_after({"Retry-After": str(10**9)}) == policy.ACME_RETRY_AFTER_MAX_SECONDS
    when = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=600)
    assert 590 <= _retry_after({"Retry-After": format_datetime(when, usegmt=True)}) <= 600
    past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)
    assert _retry_after({"Retry-After": format_datetime(past, usegmt=True)}) == 0.0
    assert _retry_after({"Retry-After": "soon"}) is None
    assert _retry_after({}) is None


def test_split_fullchain():
    ca = TestCA()
    inter = ca.intermediate()
    leaf = inter.issue_cert("x.example.test")
    full = leaf.chain_pem()
    cert, chain = split_fullchain(full)
    assert x509.load_pem_x509_certificate(cert) == leaf.cert
    assert x509.load_pem_x509_certificates(chain) == [inter.cert]
    with pytest.raises(ValueError):
        split_fullchain(b"nothing here")
