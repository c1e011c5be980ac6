"""renew/schedule.py (issue 12 item 3): the CertID, the renewalInfo answer read strictly, Retry-After,
and should_renew's rules with both boundaries of each (exactly at, one second before and after)."""

from __future__ import annotations

import datetime as dt
import json
import random

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from certdoctor import policy
from certdoctor.renew import schedule
from certdoctor.renew.schedule import (RenewalInfo, RenewalInfoError, cert_id, parse_renewal_info,
                                       retry_after_seconds, should_renew)
from support.pki import build_cert

UTC = dt.timezone.utc
S = dt.timedelta(seconds=1)
T0 = dt.datetime(2026, 1, 1, tzinfo=UTC)
KEY = ec.generate_private_key(ec.SECP256R1())
NAME = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sched.test")])

# RFC 9773 appendix A (draft-ietf-acme-ari-08 appendix A; certbot's acme carries it in its tests)
RFC_CERT = b"""-----BEGIN CERTIFICATE-----
MIIBQzCB66ADAgECAgUAh2VDITAKBggqhkjOPQQDAjAVMRMwEQYDVQQDEwpFeGFt
cGxlIENBMCIYDzAwMDEwMTAxMDAwMDAwWhgPMDAwMTAxMDEwMDAwMDBaMBYxFDAS
BgNVBAMTC2V4YW1wbGUuY29tMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEeBZu
7cbpAYNXZLbbh8rNIzuOoqOOtmxA1v7cRm//AwyMwWxyHz4zfwmBhcSrf47NUAFf
qzLQ2PPQxdTXREYEnKMjMCEwHwYDVR0jBBgwFoAUaYhba4dGQEHhs3uEe6CuLN4B
yNQwCgYIKoZIzj0EAwIDRwAwRAIge09+S5TZAlw5tgtiVvuERV6cT4mfutXIlwTb
+FYN/8oCIClDsqBklhB9KAelFiYt9+6FDj3z4KGVelYM5MdsO3pK
-----END CERTIFICATE-----
"""


def cert(not_before=T0, days=90.0, *, serial=None, aki=None):
    extensions = ((x509.AuthorityKeyIdentifier(aki, None, None), False),) if aki is not None else ()
    return build_cert(KEY.public_key(), KEY, NAME, NAME, ca=False, not_before=not_before,
                      not_after=not_before + dt.timedelta(days=days), serial=serial,
                      aki=aki is None, extensions=extensions)


LEAF = cert()  # T0 .. T0 + 90 d


# ----------------------------------------------------------------------------- CertID

def test_cert_id_of_the_rfc_example():
    assert cert_id(x509.load_pem_x509_certificate(RFC_CERT)) == "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"


@settings(max_examples=150, deadline=None)
@given(aki=st.binary(min_size=1, max_size=32), serial=st.integers(1, 2**159 - 1))
def test_cert_id_agrees_with_certbots_acme(aki, serial):
    from acme.client import _renewal_info_path_component

    c = cert(serial=serial, aki=aki)
    got = cert_id(c)
    assert got == _renewal_info_path_component(c)
    assert "=" not in got and got.count(".") == 1


def test_no_aki_is_no_cert_id():
    c = build_cert(KEY.public_key(), KEY, NAME, NAME, ca=False, aki=False)
    with pytest.raises(RenewalInfoError, match="authorityKeyIdentifier"):
        cert_id(c)


# ----------------------------------------------------------------------------- parse_renewal_info

def body(start="2026-02-01T00:00:00Z", end="2026-02-03T00:00:00Z", **extra):
    return json.dumps({"suggestedWindow": {"start": start, "end": end}, **extra}).encode()


def test_parse_a_good_answer():
    info = parse_renewal_info(body(explanationURL="https://ca.example/why"), {"retry-after": "3600"}, T0)
    assert info == RenewalInfo(dt.datetime(2026, 2, 1, tzinfo=UTC), dt.datetime(2026, 2, 3, tzinfo=UTC),
                               "https://ca.example/why", 3600.0)
    info = parse_renewal_info(body("2026-02-01T01:00:00.123456789+01:00", "2026-02-01T00:00:01z"), {}, T0)
    assert info.start == dt.datetime(2026, 2, 1, 0, 0, 0, 123456, tzinfo=UTC) and info.retry_after is None
    assert info.explanation_url is None


@pytest.mark.parametrize("raw,words", [
    (b"x" * (policy.ARI_MAX_BYTES + 1), "larger"),
    (b"\xff\xfe", "not JSON"), (b"[]", "not a JSON object"), (b"{}", "suggestedWindow"),
    (json.dumps({"suggestedWindow": []}).encode(), "suggestedWindow"),
    (body(end="2026-02-01T00:00:00Z"), "at or before"),  # end == start
    (body(end="2026-01-31T23:59:59Z"), "at or before"),
    (body(start="2026-02-01 00:00:00Z"), "RFC 3339"), (body(start="2026-02-01T00:00:00"), "RFC 3339"),
    (body(start="2026-02-30T00:00:00Z"), "valid"), (body(start=1234), "RFC 3339"),
    (body(start="2026-02-01T00:00:00+24:00"), "offset"), (body(start="2026-02-01T00:00:00Z\n"), "RFC 3339"), (body(start="２026-02-01T00:00:00Z"), "RFC 3339"),
    (body(explanationURL="javascript:alert(1)"), "http(s)"), (body(explanationURL="file:///etc/passwd"), "http(s)"),
    (body(explanationURL=7), "not a string"), (body(explanationURL="https://" + "a" * 3000), "2048"),
])
def test_parse_refuses(raw, words):
    with pytest.raises(RenewalInfoError) as exc:
        parse_renewal_info(raw, {}, T0)
    assert words in str(exc.value)


def test_explanation_url_is_sanitised():
    info = parse_renewal_info(body(explanationURL="https://ca.example/\x1b[2Jwhy"), {}, T0)
    assert "\x1b" not in info.explanation_url and info.explanation_url.startswith("https://ca.example/")


def test_a_leap_second_is_the_next_second():
    info = parse_renewal_info(body("2016-12-31T23:59:60Z", "2017-01-02T00:00:00Z"), {}, T0)
    assert info.start == dt.datetime(2017, 1, 1, tzinfo=UTC)


# ----------------------------------------------------------------------------- Retry-After

@pytest.mark.parametrize("value,expected", [
    (None, None), ("", None), ("soon", None), ("-5", None), ("1.5", None), ("\u0661\u0662", None),
    ("0", policy.ARI_RETRY_MIN_S), ("59", policy.ARI_RETRY_MIN_S), ("60", 60.0), ("61", 61.0), ("3600", 3600.0),
    ("86400", policy.ARI_RETRY_MAX_S), ("86401", policy.ARI_RETRY_MAX_S), ("9" * 40, policy.ARI_RETRY_MAX_S),
    ("Thu, 01 Jan 2026 02:00:00 GMT", 7200.0), ("Wed, 31 Dec 2025 00:00:00 GMT", policy.ARI_RETRY_MIN_S),
    ("Fri, 09 Jan 2026 00:00:00 GMT", policy.ARI_RETRY_MAX_S), ("Thu, 01 Jan 2026 00:02:00 GMT", 120.0),
])
def test_retry_after(value, expected):
    assert retry_after_seconds(value, T0) == expected


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.none(), st.text(max_size=40), st.integers(-10**12, 10**12).map(str)))
def test_retry_after_is_none_or_within_bounds(value):
    got = retry_after_seconds(value, T0)
    assert got is None or policy.ARI_RETRY_MIN_S <= got <= policy.ARI_RETRY_MAX_S


# ----------------------------------------------------------------------------- should_renew: ARI

WSTART, WEND = T0 + dt.timedelta(days=60), T0 + dt.timedelta(days=62)


def ari(start=WSTART, end=WEND, url=None, retry=None):
    return RenewalInfo(start, end, url, retry)


class Fixed(random.Random):
    """An rng that always picks the same fraction of the window (0 = start, 1 = end)."""

    def __init__(self, fraction):
        super().__init__(0)
        self.fraction = fraction

    def randint(self, a, b):
        return a + round((b - a) * self.fraction)


def test_ari_chosen_time_boundaries():
    chosen = WSTART + dt.timedelta(days=1)
    rng = Fixed(0.5)
    before = should_renew(LEAF, ari(), chosen - S, rng=Fixed(0.5))
    assert (before.due, before.source, before.at) == (False, "ari", chosen)
    assert before.next_check == chosen  # sooner than Retry-After's default 6 h: wake at the chosen time
    assert "not due yet" in before.reason
    at = should_renew(LEAF, ari(), chosen, rng=rng)
    assert (at.due, at.at, at.next_check) == (True, chosen, chosen)
    after = should_renew(LEAF, ari(), chosen + S, rng=Fixed(0.5))
    assert after.due and "the chosen time has come" in after.reason


def test_ari_next_check_is_the_chosen_time_when_it_comes_first():
    d = should_renew(LEAF, ari(retry=86400.0), WSTART, rng=Fixed(0.5))
    assert not d.due and d.next_check == WSTART + dt.timedelta(days=1)
    d = should_renew(LEAF, ari(retry=120.0), WSTART, rng=Fixed(0.5))
    assert not d.due and d.next_check == WSTART + dt.timedelta(seconds=120)


def test_a_window_in_the_past_is_due_now():
    d = should_renew(LEAF, ari(), WEND + S)
    assert d.due and d.source == "ari" and "the window has passed" in d.reason and WSTART <= d.at <= WEND


def test_next_wake_boundaries():
    chosen = WSTART + dt.timedelta(days=1)
    now = WSTART - dt.timedelta(days=3)
    assert should_renew(LEAF, ari(), now, rng=Fixed(0.5), next_wake=chosen).due  # exactly at: due
    assert should_renew(LEAF, ari(), now, rng=Fixed(0.5), next_wake=chosen + S).due
    d = should_renew(LEAF, ari(), now, rng=Fixed(0.5), next_wake=chosen - S)
    assert not d.due


def test_reason_names_the_window_the_url_and_the_choice():
    d = should_renew(LEAF, ari(url="https://ca.example/incident"), T0, rng=Fixed(0))
    assert d.reason == ("ARI window 2026-03-02 00:00:00 UTC – 2026-03-04 00:00:00 UTC (explanation: "
                        "https://ca.example/incident); chosen 2026-03-02 00:00:00 UTC; not due yet "
                        "(ask again at 2026-01-01 06:00:00 UTC)")
    assert d.explanation_url == "https://ca.example/incident" and d.window == (WSTART, WEND)


def test_ari_overrides_the_lifetime_rule_both_ways():
    late_in_life = T0 + dt.timedelta(days=70)  # past 2/3 (day 60) but before an ARI window at day 80-81
    d = should_renew(LEAF, ari(T0 + dt.timedelta(days=80), T0 + dt.timedelta(days=81)), late_in_life)
    assert not d.due and d.source == "ari"
    early = T0 + dt.timedelta(days=5)  # a CA-announced early window (an incident)
    d = should_renew(LEAF, ari(T0 + dt.timedelta(days=4), T0 + dt.timedelta(days=5) - S), early)
    assert d.due and d.source == "ari"


@settings(max_examples=300, deadline=None)
@given(start=st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2090, 1, 1),
                          timezones=st.just(UTC)),
       length=st.integers(1, 10**13), seed=st.integers(0, 2**64))
def test_the_chosen_time_is_always_inside_the_window(start, length, seed):
    end = start + dt.timedelta(microseconds=length)
    c = cert(start - dt.timedelta(days=1), days=40000)
    d = should_renew(c, ari(start, end), start - dt.timedelta(days=1), rng=random.Random(seed))
    assert start <= d.at <= end
    assert should_renew(c, ari(start, end), start - dt.timedelta(days=1)).at == \
        should_renew(c, ari(start, end), start - dt.timedelta(days=1)).at  # no rng: the same each run


@settings(max_examples=50, deadline=None)
@given(serial=st.integers(1, 2**64))
def test_without_rng_the_choice_is_per_certificate_and_stable(serial):
    c = cert(serial=serial)
    times = {should_renew(c, ari(), T0 + dt.timedelta(hours=h)).at for h in range(3)}
    assert len(times) == 1 and WSTART <= times.pop() <= WEND


def test_different_certificates_get_different_times():
    times = {should_renew(cert(serial=s), ari(), T0).at for s in range(1, 40)}
    assert len(times) > 30  # spread over the window, not one instant for the whole fleet


# ----------------------------------------------------------------------------- expired, forced, lifetime

def test_expired_is_always_due_whatever_ari_says():
    na = LEAF.not_valid_after_utc
    d = should_renew(LEAF, ari(na + dt.timedelta(days=5), na + dt.timedelta(days=6)), na + S)
    assert d.due and d.source == "expired" and "expired at" in d.reason
    d = should_renew(LEAF, ari(na + dt.timedelta(days=5), na + dt.timedelta(days=6)), na)  # notAfter itself is valid
    assert d.source == "ari" and not d.due


def test_forced():
    d = should_renew(LEAF, None, T0, force=True)
    assert d.due and d.source == "forced" and d.at == T0 == d.next_check


@pytest.mark.parametrize("days,fraction", [(90, 2 / 3), (10, 2 / 3), (9.99, 1 / 2), (6, 1 / 2), (160 / 24, 1 / 2)])
def test_lifetime_boundaries(days, fraction):
    c = cert(days=days)
    life = c.not_valid_after_utc - c.not_valid_before_utc
    at = T0 + dt.timedelta(microseconds=(life // dt.timedelta(microseconds=1)) * fraction)
    before = should_renew(c, None, at - S)
    assert (before.due, before.source, before.at, before.next_check) == (False, "lifetime", at, at)
    exactly = should_renew(c, None, at)
    assert exactly.due and exactly.at == at and exactly.next_check == at
    assert should_renew(c, None, at + S).due
    assert ("half" if fraction == 1 / 2 else "two thirds") in exactly.reason


def test_lifetime_of_90_days_is_day_60():
    assert schedule.lifetime_renewal_time(LEAF) == T0 + dt.timedelta(days=60)
    d = should_renew(LEAF, None, T0)
    assert d.reason == "no ARI; two thirds of the 90-day lifetime is at 2026-03-02 00:00:00 UTC; not due yet"


def test_naive_now_is_utc_and_aware_now_in_any_zone_is_the_same_instant():
    plus2 = dt.timezone(dt.timedelta(hours=2))
    a = should_renew(LEAF, None, dt.datetime(2026, 3, 2, 2, 0, tzinfo=plus2))
    b = should_renew(LEAF, None, dt.datetime(2026, 3, 2))
    assert a.due and b.due and a.at == b.at


def test_a_window_given_naive_is_read_as_utc():
    naive = RenewalInfo(WSTART.replace(tzinfo=None), WEND.replace(tzinfo=None))
    assert should_renew(LEAF, naive, T0, rng=Fixed(0)).at == should_renew(LEAF, ari(), T0, rng=Fixed(0)).at == WSTART
