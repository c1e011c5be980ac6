"""A corpus of chains certdoctor did not make (issue 9, item 13).

Every certificate is written by the ``openssl`` command line with a hand-written extension file
(:mod:`support.openssl_pki`), every chain is served by ``openssl s_server`` on 127.0.0.1, and for
each case of :data:`CASES`:

- the real ``requests`` outcome is the one in the table (connects, or refuses with that OpenSSL
  reason);
- certdoctor's verdict is the real outcome: ``verifies`` equals it, a refusal has an error finding
  and the primary finding is an error, a connection has none;
- the expected code (and rule) is among the findings, and a refusal is never explained only by
  ``VERDICT_UNCONFIRMED``;
- where the client connects but cryptography's RFC 5280 verifier refuses (``stricter``), a warning
  says so;
- certdoctor raises nothing.

``bench/corpus_figures.py`` runs the same table and prints the figures of the issue.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from certdoctor.model import Code, Severity

from support.openssl_pki import OpenSSLPKI, serve
from support.pki import needs_openssl

pytestmark = needs_openssl

NAME = "leaf.corpus.test"
SAN = f"subjectAltName = DNS:{NAME}, IP:127.0.0.1\n"

ROOT = """\
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = none
"""
INTER = """\
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""
LEAF_BASE = """\
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""
LEAF = LEAF_BASE + SAN


def _swap(text: str, field: str, line: str | None) -> str:
    """``text`` with the line of ``field`` replaced by ``line`` (dropped when None)."""
    out = [(line if line is not None else None) if ln.split("=")[0].strip() == field else ln
           for ln in text.splitlines()]
    return "\n".join(ln for ln in out if ln is not None) + "\n"


def _leaf(**fields: str | None) -> str:
    text = LEAF
    for field, line in fields.items():
        if field in {ln.split("=")[0].strip() for ln in text.splitlines()}:
            text = _swap(text, field, line)
        elif line is not None:
            text += line + "\n"
    return text


def _inter(**fields: str | None) -> str:
    text = INTER
    for field, line in fields.items():
        if field in {ln.split("=")[0].strip() for ln in text.splitlines()}:
            text = _swap(text, field, line)
        elif line is not None:
            text += line + "\n"
    return text


@dataclass(frozen=True)
class Case:
    """One chain: the certificates served (leaf first), the key served, the file trusted, the
    host connected to; what the real requests does (``ok``, ``reason`` in its error); the codes
    certdoctor must report (``rule`` is the rule of the first); codes it must not report."""

    id: str
    served: tuple[str, ...]
    ok: bool
    reason: str = ""
    codes: tuple[Code, ...] = ()
    rule: str | None = None
    absent: tuple[Code, ...] = ()
    key: str = "leaf"
    trust: str = "root"
    host: str = NAME
    aia: bool = False
    stricter: bool = False


CASES: tuple[Case, ...] = (
    Case("baseline", ("leaf", "inter"), True, absent=(Code.STRICT_X509, Code.VERDICT_UNCONFIRMED)),
    # name constraints, on the intermediate
    Case("nc_dns_permitted", ("leaf_nc_dns", "inter_nc_dns"), False, "permitted subtree violation",
         (Code.NAME_CONSTRAINTS,), "name_constraint_permitted"),
    Case("nc_dns_excluded", ("leaf_nc_excl", "inter_nc_excl"), False, "excluded subtree violation",
         (Code.NAME_CONSTRAINTS,), "name_constraint_excluded"),
    Case("nc_ip_permitted", ("leaf_nc_ip", "inter_nc_ip"), False, "permitted subtree violation",
         (Code.NAME_CONSTRAINTS,), "name_constraint_permitted"),
    Case("nc_ip_excluded", ("leaf_nc_ipx", "inter_nc_ipx"), False, "excluded subtree violation",
         (Code.NAME_CONSTRAINTS,), "name_constraint_excluded"),
    Case("nc_dirname_permitted", ("leaf_nc_dn", "inter_nc_dn"), False, "permitted subtree violation",
         (Code.NAME_CONSTRAINTS,), "name_constraint_permitted"),
    Case("nc_satisfied", ("leaf_nc_ok", "inter_nc_ok"), True, absent=(Code.NAME_CONSTRAINTS,)),
    # path length
    Case("pathlen0_violated", ("leaf_pl", "inter_pl_below", "inter_pl0"), False, "path length constraint exceeded",
         (Code.PATH_LENGTH,), "path_length_exceeded"),
    # critical extensions OpenSSL does not know
    Case("critical_unknown_leaf", ("leaf_crit", "inter"), False, "unhandled critical extension",
         (Code.UNHANDLED_CRITICAL_EXTENSION,), "unhandled_critical_extension"),
    Case("critical_unknown_inter", ("leaf_under_crit", "inter_crit"), False, "unhandled critical extension",
         (Code.UNHANDLED_CRITICAL_EXTENSION,), "unhandled_critical_extension"),
    # CA status
    Case("ca_as_leaf", ("leaf_ca", "inter"), True, codes=(Code.CA_AS_LEAF,), rule="ca_as_leaf", stricter=True),
    Case("inter_without_bc", ("leaf_under_nobc", "inter_nobc"), False, "invalid CA certificate",
         (Code.INVALID_CA,), "intermediate_without_ca_basic_constraints", absent=(Code.UNTRUSTED_ROOT,)),
    Case("inter_without_keycertsign", ("leaf_under_noks", "inter_noks"), False, "invalid CA certificate",
         (Code.INVALID_CA,), "ca_not_a_ca"),
    Case("v1_intermediate", ("leaf_under_v1", "inter_v1"), False, "invalid CA certificate", (Code.INVALID_CA,)),
    Case("v1_root", ("leaf_under_v1root", "inter_under_v1root"), True, trust="root_v1"),
    # the leaf's key usages
    Case("leaf_ku_crl_sign_only", ("leaf_ku", "inter"), False, "unsuitable certificate purpose",
         (Code.KEY_USAGE,), "leaf_key_usage_not_for_tls"),
    Case("eku_client_auth_only", ("leaf_eku_client", "inter"), False, "unsuitable certificate purpose",
         (Code.WRONG_EKU,), "eku_without_server_auth"),
    Case("eku_empty", ("leaf_eku_empty", "inter"), False, "unsuitable certificate purpose",
         (Code.WRONG_EKU,), "eku_empty", absent=(Code.NO_SAN,)),
    # extensions cryptography cannot parse, unusual SAN forms
    Case("aia_malformed", ("leaf_bad_aia", "inter"), True, codes=(Code.MALFORMED_CERT,), rule="unparsable_extension",
         absent=(Code.NO_SAN,), stricter=True),
    Case("san_dirname_only", ("leaf_san_dn", "inter"), False, "Hostname mismatch", (Code.NO_SAN,), "san_without_dns"),
    Case("san_ip_network", ("leaf_san_net", "inter"), False, "IP address mismatch", (Code.HOSTNAME_MISMATCH,),
         "ip_not_in_san", host="127.0.0.1"),
    Case("san_othername_only", ("leaf_san_other", "inter"), False, "Hostname mismatch", (Code.NO_SAN,),
         "san_without_dns"),
    Case("san_othername_beside_dns", ("leaf_san_mixed", "inter"), True, absent=(Code.NO_SAN,)),
    Case("no_san_cn_only", ("leaf_cn_only", "inter"), False, "Hostname mismatch", (Code.NO_SAN,)),
    # time
    Case("expired", ("leaf_expired", "inter"), False, "certificate has expired", (Code.EXPIRED,), "expired"),
    Case("not_yet_valid", ("leaf_future", "inter"), False, "certificate is not yet valid", (Code.NOT_YET_VALID,),
         "not_yet_valid"),
    Case("inter_expired", ("leaf", "inter_expired"), False, "certificate has expired", (Code.EXPIRED,), "expired"),
    # host names
    Case("hostname_mismatch", ("leaf_other_name", "inter"), False, "Hostname mismatch", (Code.HOSTNAME_MISMATCH,),
         "san_mismatch"),
    Case("wildcard_matches", ("leaf_wild", "inter"), True),
    Case("wildcard_depth", ("leaf_wild", "inter"), False, "Hostname mismatch", (Code.HOSTNAME_MISMATCH,),
         "wildcard_depth", host="a.leaf.corpus.test"),
    Case("wildcard_bare_domain", ("leaf_wild", "inter"), False, "Hostname mismatch", (Code.HOSTNAME_MISMATCH,),
         "wildcard_bare_domain", host="corpus.test"),
    Case("wildcard_partial_label", ("leaf_wild_partial", "inter"), False, "Hostname mismatch",
         (Code.HOSTNAME_MISMATCH,)),
    Case("ip_in_dns_san", ("leaf_ip_as_dns", "inter"), False, "IP address mismatch", (Code.HOSTNAME_MISMATCH,),
         "ip_in_dns_san", host="127.0.0.1"),
    # what is sent, and what is trusted
    Case("missing_intermediate_no_aia", ("leaf",), False, "unable to get local issuer certificate",
         (Code.CHAIN_INCOMPLETE,), absent=(Code.UNTRUSTED_ROOT,)),
    Case("missing_intermediate_aia_refused", ("leaf_aia_closed",), False, "unable to get local issuer certificate",
         (Code.CHAIN_INCOMPLETE,), absent=(Code.UNTRUSTED_ROOT,), aia=True),
    Case("missing_intermediate_aia_404", ("leaf_aia_404",), False, "unable to get local issuer certificate",
         (Code.CHAIN_INCOMPLETE,), absent=(Code.UNTRUSTED_ROOT,), aia=True),
    Case("untrusted_root", ("leaf", "inter"), False, "unable to get local issuer certificate", (Code.UNTRUSTED_ROOT,),
         absent=(Code.CHAIN_INCOMPLETE,), trust="other_root"),
    Case("root_sent_untrusted", ("leaf", "inter", "root"), False, "self-signed certificate in certificate chain",
         (Code.UNTRUSTED_ROOT,), trust="other_root"),
    Case("root_sent_trusted", ("leaf", "inter", "root"), True),
    Case("self_signed_leaf", ("leaf_self",), False, "self-signed certificate", (Code.SELF_SIGNED,)),
    Case("wrong_order", ("leaf_l2", "inter", "inter_l2"), True, codes=(Code.CHAIN_ORDER,)),
    Case("duplicate_intermediate", ("leaf", "inter", "inter"), True),
    Case("unrelated_extra_cert", ("leaf", "inter", "other_root"), True, codes=(Code.CHAIN_EXTRA_CERT,)),
    Case("issuer_rekeyed", ("leaf_rekeyed", "inter"), False, "unable to get local issuer certificate",
         (Code.CHAIN_INCOMPLETE,), absent=(Code.UNTRUSTED_ROOT,)),
    Case("forged_signature", ("leaf_forged", "inter"), False, "certificate signature failure", (Code.MALFORMED_CERT,),
         "signature_does_not_verify", absent=(Code.CHAIN_INCOMPLETE, Code.UNTRUSTED_ROOT)),
    Case("long_chain_5_levels", ("leaf_deep", "inter_d3", "inter_d2", "inter_d1"), True),
    Case("cross_signed_old_root_trusted", ("leaf_x", "inter_x", "root_b_by_a"), True, trust="root"),
    Case("cross_signed_new_root_trusted", ("leaf_x", "inter_x", "root_b_by_a"), True, trust="root_b"),
    # algorithms and key sizes
    Case("sha1_leaf", ("leaf_sha1", "inter"), False, "CA signature digest algorithm too weak", (Code.WEAK_SIGNATURE,),
         "sha1_signature"),
    Case("rsa1024_leaf", ("leaf_rsa1024", "inter"), False, "EE certificate key too weak", (Code.WEAK_KEY,),
         "rsa_key_too_small", key="rsa1024"),
    Case("rsa1024_intermediate", ("leaf_under_rsa1024", "inter_rsa1024"), False, "CA certificate key too weak",
         (Code.WEAK_KEY,), "rsa_key_too_small"),
    Case("ed25519_leaf", ("leaf_ed25519", "inter"), True, key="ed25519"),
    Case("rsa2048_leaf", ("leaf_rsa2048", "inter"), True, key="rsa2048"),
    Case("dsa_inherited_parameters", ("leaf_under_dsa", "inter_dsa"), False, "unable to get local issuer certificate",
         (Code.MALFORMED_CERT,), "unreadable_certificate",
         trust="root_dsa"),
    # RFC 5280 is stricter than OpenSSL here
    Case("bc_not_critical", ("leaf_under_bcnc", "inter_bcnc"), True, codes=(Code.STRICT_X509,), stricter=True),
    Case("leaf_without_aki", ("leaf_noaki", "inter"), True, codes=(Code.STRICT_X509,), rule="missing_aki",
         stricter=True),
    Case("inter_without_ski", ("leaf_under_noski", "inter_noski"), True, codes=(Code.STRICT_X509,), rule="missing_ski"),
    Case("serial_zero", ("leaf_serial0", "inter"), True),
    Case("serial_negative", ("leaf_serial_neg", "inter"), True, stricter=True),
    Case("eku_any_only", ("leaf_eku_any", "inter"), False, "unsuitable certificate purpose", (Code.WRONG_EKU,),
         "eku_without_server_auth"),
)


def build(d: Path, *, aia_closed_url: str, aia_404_url: str) -> OpenSSLPKI:
    """Every certificate :data:`CASES` names, under ``d``."""
    p = OpenSSLPKI(d)
    for k, alg in (("root", "ec"), ("other_root", "ec"), ("inter", "ec"), ("leaf", "ec"), ("ca2", "ec"),
                   ("rsa1024", "rsa1024"), ("rsa2048", "rsa2048"), ("ed25519", "ed25519"), ("impostor", "ec"),
                   ("root_b", "ec")):
        p.key(k, alg)
    p.cert("root", "/O=corpus/CN=Corpus Root", key="root", ext=ROOT, days=3650)
    p.cert("other_root", "/O=corpus/CN=Corpus Other Root", key="other_root", ext=ROOT, days=3650)
    p.cert("inter", "/O=corpus/CN=Corpus Intermediate", key="inter", issuer="root", ext=INTER, days=1000)
    p.cert("leaf", f"/CN={NAME}", key="leaf", issuer="inter", ext=LEAF, days=200)

    def ca(name: str, ext: str, *, issuer: str = "root", **kw) -> None:
        p.cert(name, f"/O=corpus/CN=Corpus {name}", key="ca2", issuer=issuer, ext=ext, days=1000, **kw)

    def leaf(name: str, ext: str, *, issuer: str = "inter", key: str = "leaf", subject: str = f"/CN={NAME}",
             days: int = 200, **kw) -> None:
        p.cert(name, subject, key=key, issuer=issuer, ext=ext, days=days, **kw)

    nc = {
        "nc_dns": "nameConstraints = critical, permitted;DNS:allowed.test",
        "nc_excl": f"nameConstraints = critical, excluded;DNS:{NAME}",
        "nc_ip": "nameConstraints = critical, permitted;IP:10.0.0.0/255.0.0.0",
        "nc_ipx": "nameConstraints = critical, excluded;IP:127.0.0.0/255.0.0.0",
        "nc_dn": "nameConstraints = critical, permitted;dirName:nc_dn\n[nc_dn]\nO = Other Org\nCN = other",
        "nc_ok": "nameConstraints = critical, permitted;DNS:corpus.test, permitted;IP:127.0.0.0/255.0.0.0",
    }
    for n, line in nc.items():
        ca(f"inter_{n}", INTER + line + "\n")
        leaf(f"leaf_{n}", LEAF, issuer=f"inter_{n}")
    # path length: root -> inter_pl0 (pathlen:0) -> inter_pl_below -> leaf
    ca("inter_pl0", _inter(basicConstraints="basicConstraints = critical, CA:TRUE, pathlen:0"))
    p.cert("inter_pl_below", "/O=corpus/CN=Corpus Below PL0", key="inter", issuer="inter_pl0", ext=INTER)
    leaf("leaf_pl", LEAF, issuer="inter_pl_below")
    crit = "1.3.6.1.4.1.99999.1 = critical, DER:05:00"
    leaf("leaf_crit", LEAF + crit + "\n")
    ca("inter_crit", INTER + crit + "\n")
    leaf("leaf_under_crit", LEAF, issuer="inter_crit")
    leaf("leaf_ca", _leaf(basicConstraints="basicConstraints = critical, CA:TRUE",
                          keyUsage="keyUsage = critical, digitalSignature, keyCertSign"))
    ca("inter_nobc", _inter(basicConstraints=None))
    leaf("leaf_under_nobc", LEAF, issuer="inter_nobc")
    ca("inter_noks", _inter(keyUsage="keyUsage = critical, digitalSignature, cRLSign"))
    leaf("leaf_under_noks", LEAF, issuer="inter_noks")
    ca("inter_v1", None)
    leaf("leaf_under_v1", _leaf(authorityKeyIdentifier="authorityKeyIdentifier = issuer"), issuer="inter_v1")
    p.cert("root_v1", "/O=corpus/CN=Corpus V1 Root", key="root_b", days=3650)  # no extensions: version 1
    p.cert("inter_under_v1root", "/O=corpus/CN=Corpus Under V1", key="ca2", issuer="root_v1",
           ext=_inter(authorityKeyIdentifier="authorityKeyIdentifier = issuer"), days=1000)
    leaf("leaf_under_v1root", LEAF, issuer="inter_under_v1root")
    leaf("leaf_ku", _leaf(keyUsage="keyUsage = critical, cRLSign"))
    leaf("leaf_eku_client", _leaf(extendedKeyUsage="extendedKeyUsage = clientAuth"))
    leaf("leaf_eku_empty", _leaf(extendedKeyUsage="extendedKeyUsage = DER:30:00"))
    leaf("leaf_eku_any", _leaf(extendedKeyUsage="extendedKeyUsage = anyExtendedKeyUsage"))
    leaf("leaf_bad_aia", LEAF + "authorityInfoAccess = DER:30:03:02:01:05\n")
    leaf("leaf_san_dn", _leaf(subjectAltName="subjectAltName = dirName:san_dn") + f"[san_dn]\nCN = {NAME}\nO = Dir\n")
    # iPAddress 127.0.0.0 / 255.0.0.0 (8 bytes: a network, not an address), then DNS:ab
    leaf("leaf_san_net", _leaf(subjectAltName="subjectAltName = DER:30:0e:87:08:7f:00:00:00:ff:00:00:00:82:02:61:62"))
    leaf("leaf_san_other", _leaf(subjectAltName="subjectAltName = otherName:1.3.6.1.4.1.311.20.2.3;UTF8:ops@corpus"))
    leaf("leaf_san_mixed", _leaf(subjectAltName=f"subjectAltName = DNS:{NAME}, otherName:1.2.3.4;UTF8:x, "
                                                "RID:1.2.3.4, email:ops@corpus.test, URI:https://corpus.test/"))
    leaf("leaf_cn_only", _leaf(subjectAltName=None))
    now = dt.datetime.now(dt.timezone.utc)
    leaf("leaf_expired", LEAF, not_before=now - dt.timedelta(days=40), not_after=now - dt.timedelta(days=10))
    leaf("leaf_future", LEAF, not_before=now + dt.timedelta(days=10), not_after=now + dt.timedelta(days=40))
    p.cert("inter_expired", "/O=corpus/CN=Corpus Intermediate", key="inter", issuer="root", ext=INTER,
           not_before=now - dt.timedelta(days=40), not_after=now - dt.timedelta(days=10))
    leaf("leaf_other_name", _leaf(subjectAltName="subjectAltName = DNS:other.corpus.test"))
    leaf("leaf_wild", _leaf(subjectAltName="subjectAltName = DNS:*.corpus.test"))
    leaf("leaf_wild_partial", _leaf(subjectAltName="subjectAltName = DNS:le*.corpus.test"))
    leaf("leaf_ip_as_dns", _leaf(subjectAltName="subjectAltName = DNS:127.0.0.1"))
    leaf("leaf_aia_closed", LEAF + f"authorityInfoAccess = caIssuers;URI:{aia_closed_url}\n")
    leaf("leaf_aia_404", LEAF + f"authorityInfoAccess = caIssuers;URI:{aia_404_url}\n")
    leaf("leaf_self", _leaf(authorityKeyIdentifier=None), issuer=None)
    # wrong order: root -> inter -> inter_l2 -> leaf, sent leaf, inter, inter_l2 (upside down)
    p.cert("inter_l2", "/O=corpus/CN=Corpus Level 2", key="ca2", issuer="inter", ext=INTER, days=1000)
    leaf("leaf_l2", LEAF, issuer="inter_l2")
    # re-keyed: issued by a CA of the same name as 'inter' but another key (whose certificate is not sent)
    p.cert("rekeyed", "/O=corpus/CN=Corpus Intermediate", key="impostor", ext=ROOT, days=100)
    leaf("leaf_rekeyed", LEAF, issuer="rekeyed")
    # forged: the same name and key identifier as 'inter', signed by another key
    ski = p.run("x509", "-in", "inter.pem", "-noout", "-ext", "subjectKeyIdentifier").decode().split()[-1]
    p.cert("impostor", "/O=corpus/CN=Corpus Intermediate", key="impostor",
           ext=_swap(ROOT, "subjectKeyIdentifier", f"subjectKeyIdentifier = {ski.replace(':', '')}"), days=100)
    leaf("leaf_forged", LEAF, issuer="impostor")
    # 5 levels: root -> d1 -> d2 -> d3 -> leaf
    ca("inter_d1", INTER)
    p.cert("inter_d2", "/O=corpus/CN=Corpus D2", key="inter", issuer="inter_d1", ext=INTER, days=1000)
    p.cert("inter_d3", "/O=corpus/CN=Corpus D3", key="impostor", issuer="inter_d2", ext=INTER, days=1000)
    leaf("leaf_deep", LEAF, issuer="inter_d3")
    # cross-signing: root_b (self-signed) and root_b_by_a (same name and key, issued by root)
    p.cert("root_b", "/O=corpus/CN=Corpus Root B", key="root_b", ext=ROOT, days=3650)
    p.cert("root_b_by_a", "/O=corpus/CN=Corpus Root B", key="root_b", issuer="root", ext=INTER, days=1000)
    p.cert("inter_x", "/O=corpus/CN=Corpus Under B", key="ca2", issuer="root_b", ext=INTER, days=1000)
    leaf("leaf_x", LEAF, issuer="inter_x")
    leaf("leaf_sha1", LEAF, md="sha1")
    leaf("leaf_rsa1024", LEAF, key="rsa1024")
    p.cert("inter_rsa1024", "/O=corpus/CN=Corpus RSA 1024", key="rsa1024", issuer="root", ext=INTER, days=1000)
    leaf("leaf_under_rsa1024", LEAF, issuer="inter_rsa1024")
    leaf("leaf_ed25519", LEAF, key="ed25519")
    leaf("leaf_rsa2048", LEAF, key="rsa2048")
    ca("inter_bcnc", _inter(basicConstraints="basicConstraints = CA:TRUE"))
    leaf("leaf_under_bcnc", LEAF, issuer="inter_bcnc")
    leaf("leaf_noaki", _leaf(authorityKeyIdentifier="authorityKeyIdentifier = none"))
    ca("inter_noski", _inter(subjectKeyIdentifier="subjectKeyIdentifier = none"))
    leaf("leaf_under_noski", _leaf(authorityKeyIdentifier="authorityKeyIdentifier = issuer"), issuer="inter_noski")
    # DSA: root -> intermediate whose key inherits the root's parameters -> EC leaf
    p.key("dsa_root", "dsa")
    p.key("dsa_inter", "dsa")
    p.cert("root_dsa", "/O=corpus/CN=Corpus DSA Root", key="dsa_root", ext=ROOT, days=3650)
    p.cert("inter_dsa", "/O=corpus/CN=Corpus DSA Inherited", key="dsa_inter", issuer="root_dsa", ext=INTER,
           days=1000)
    leaf("leaf_under_dsa", LEAF, issuer="inter_dsa")
    p.drop_key_params("inter_dsa", signer="root_dsa")
    leaf("leaf_serial0", LEAF, serial="0")
    leaf("leaf_serial_neg", LEAF, serial="-5")
    return p


# ---------------------------------------------------------------------- running one case

@dataclass
class Outcome:
    case: Case
    real_ok: bool
    real_error: str | None
    diagnosis: object | None
    exception: BaseException | None
    seconds: float

    @property
    def findings(self):
        return () if self.diagnosis is None else self.diagnosis.findings

    def codes(self) -> set[Code]:
        return {f.code for f in self.findings}

    @property
    def specific(self) -> bool:
        """A refusal explained by an error finding other than VERDICT_UNCONFIRMED."""
        return any(f.severity is Severity.ERROR and f.code is not Code.VERDICT_UNCONFIRMED for f in self.findings)

    @property
    def rfc5280_refuses(self) -> bool:
        d = self.diagnosis
        return d is not None and d.path is not None and d.path.rfc5280_ok is False

    @property
    def warned(self) -> bool:
        return any(f.severity is Severity.WARNING and f.code not in (Code.VERDICT_UNCONFIRMED, Code.CA_BUNDLE_ENV)
                   for f in self.findings)


def run_case(pki: OpenSSLPKI, case: Case, *, leaf: str | None = None, now: dt.datetime | None = None,
             wait_until: dt.datetime | None = None) -> Outcome:
    """Serve ``case``, run the real requests and certdoctor's diagnose against it."""
    from certdoctor.diagnose import diagnose
    from certdoctor.net.resolve import override

    from support.clients import real_requests

    served = list(case.served)
    if leaf is not None:
        served[0] = leaf
    trust = str(pki.path(case.trust))
    start = time.monotonic()
    with serve(pki, served, key=case.key) as port:
        url = f"https://{case.host}:{port}/"
        names = {h: "127.0.0.1" for h in (NAME, "a.leaf.corpus.test", "corpus.test")}
        with override(names):
            while wait_until is not None and dt.datetime.now(dt.timezone.utc) < wait_until:
                time.sleep(0.01)
            ok, error = real_requests(url, trust)
            try:
                d, exc = diagnose(url, ca_file=trust, aia=case.aia, revocation=False, timeout=5, now=now), None
            except Exception as e:  # a crash is a figure of its own
                d, exc = None, e
    return Outcome(case, ok, error, d, exc, time.monotonic() - start)


def problems(o: Outcome) -> list[str]:
    """What is wrong with certdoctor's answer to ``o.case`` (empty: all right)."""
    c, out = o.case, []
    if o.exception is not None:
        return [f"certdoctor raised {o.exception!r}"]
    d = o.diagnosis
    if o.real_ok is not c.ok or (not c.ok and c.reason not in (o.real_error or "")):
        out.append(f"real requests: ok={o.real_ok} {o.real_error!r}, the table says ok={c.ok} {c.reason!r}")
    if d.verifies is not o.real_ok:
        out.append(f"certdoctor's verdict {d.verifies} is not the real outcome {o.real_ok}")
    errors = [f for f in d.findings if f.severity is Severity.ERROR]
    if o.real_ok and errors:
        out.append(f"connects, but errors: {[(f.code.value, f.summary) for f in errors]}")
    if not o.real_ok:
        if not o.specific:
            out.append("refused, explained only by VERDICT_UNCONFIRMED (or nothing)")
        if d.primary is None or d.primary.severity is not Severity.ERROR:
            out.append("refused, but the primary finding is not an error")
    for code in c.codes:
        if code not in o.codes():
            out.append(f"{code.value} missing")
    if c.codes and c.rule is not None:
        rules = {f.rule for f in d.findings if f.code is c.codes[0]}
        if c.rule not in rules:
            out.append(f"{c.codes[0].value} has rules {rules}, not {c.rule}")
    for code in c.absent:
        if code in o.codes():
            out.append(f"{code.value} reported although false: "
                       f"{[f.summary for f in d.findings if f.code is code]}")
    if c.stricter and not o.rfc5280_refuses:
        out.append("the table says cryptography's verifier refuses, it does not")
    if o.real_ok and o.rfc5280_refuses and not o.warned:
        out.append(f"RFC-stricter case without a warning (verifier: {d.path.rfc5280_error})")
    return out


# ---------------------------------------------------------------------- the tests

@pytest.fixture(scope="session")
def corpus(tmp_path_factory):
    from support.servers import closed_port, http_server

    with http_server({}) as web:
        start = time.monotonic()
        pki = build(tmp_path_factory.mktemp("corpus"), aia_closed_url=f"http://127.0.0.1:{closed_port()}/inter.der",
                    aia_404_url=web.url_for("/inter.der"))
        pki.build_seconds = time.monotonic() - start
        yield pki


def test_the_corpus_is_big_enough_and_built_fast(corpus):
    assert len(CASES) >= 40 and len({c.id for c in CASES}) == len(CASES)
    certs = len(list(corpus.dir.glob("*.pem")))
    assert certs >= 60, certs
    # one openssl process per certificate, two per key (genpkey, pkey -pubout), EC P-256 except where
    # the case needs another; besides: the DSA parameters, two CSRs for `openssl ca`, one SKI read and
    # the three steps of re-signing the DSA intermediate
    keys = len(list(corpus.dir.glob("*.key")))
    assert corpus.processes <= certs + 2 * keys + 7, (corpus.processes, certs, keys)
    assert corpus.build_seconds < 60, corpus.build_seconds


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_corpus_case(corpus, case):
    o = run_case(corpus, case)
    assert problems(o) == [], [(f.code.value, f.severity.value, f.rule, f.summary) for f in o.findings]


def test_exactly_at_not_after_is_expired(corpus):
    """``openssl ca -enddate`` two seconds ahead: at that very second OpenSSL calls it expired."""
    end = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) + dt.timedelta(seconds=3)
    corpus.cert("leaf_edge", f"/CN={NAME}", key="leaf", issuer="inter", ext=LEAF,
                not_before=end - dt.timedelta(days=1), not_after=end)
    case = Case("exact_not_after", ("leaf_edge", "inter"), False, "certificate has expired", (Code.EXPIRED,),
                "expired_at_not_after")
    o = run_case(corpus, case, now=end, wait_until=end)
    assert problems(o) == [], [(f.code.value, f.severity.value, f.rule, f.summary) for f in o.findings]
