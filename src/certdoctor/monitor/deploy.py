"""``cert_file = …`` of an endpoint: is the certificate in the file the one the server serves?

    >>> row = check_deployed(spec, row)          # doctest: +SKIP
    >>> row.reason
    'NOT_DEPLOYED'

The "renewed but still serving the old one" case (certbot#2676, #3499, #10530): certbot wrote
a new ``fullchain.pem`` but nginx/Apache/haproxy was never reloaded. The file is read with
:func:`certdoctor.x509.load.load_bundle_file` (PEM, DER, PKCS#7, PKCS#12); its leaf is its first
certificate that is not a CA. When that leaf is not the served leaf (SHA-256 fingerprint) and is
newer (a later notBefore, or the same notBefore and a later notAfter), the row gains a
``NOT_DEPLOYED`` WARNING: the server operator must reload the server. The comparison (serials,
notAfters, whether the key is the same) is in the evidence. A file that cannot be read is a
``NOT_DEPLOYED`` warning too (rule ``cert_file_unreadable``): deployment cannot be confirmed.
A file *older* than the served leaf is no finding (the server may load another copy).
"""

from __future__ import annotations

from dataclasses import replace

from certdoctor.errors import CertdoctorError
from certdoctor.model import Actor, Code, Finding, Severity
from certdoctor.monitor import result as R
from certdoctor.monitor.config import ENDPOINT, TargetSpec

RULES = {"newer_file_not_served": "the cert_file holds a newer leaf than the one served",
         "cert_file_unreadable": "the cert_file cannot be read: whether the renewal is deployed is unknown"}

_FIX = ("Reload the server so it loads the new file: `nginx -s reload` (or `systemctl reload nginx`), "
        "`systemctl reload apache2`, `systemctl reload haproxy`; make the renewal do it "
        "(certbot: --deploy-hook 'systemctl reload nginx').")


def check_deployed(spec: TargetSpec, row: R.Row) -> R.Row:
    """``row`` with a ``NOT_DEPLOYED`` finding (and its status recomputed) when ``spec.cert_file``
    holds a newer leaf than the served one; ``row`` unchanged otherwise."""
    if spec.kind != ENDPOINT or not spec.cert_file or not row.certificates:
        return row
    finding = _compare(spec.cert_file, row)
    if finding is None:
        return row
    findings = (*row.findings, finding)
    status, reason = R.status_of(findings, row.days_left, row.warn_days, row.crit_days, have_certificates=True)
    return replace(row, findings=findings, status=status, reason=reason)


def _compare(path: str, row: R.Row) -> Finding | None:
    from certdoctor.model import ChainInfo
    from certdoctor.x509.load import load_bundle_file

    served = row.certificates[0]
    try:
        certs = list(load_bundle_file(path).certificates)
        if not certs:
            raise CertdoctorError(f"{path} holds no certificate")
        infos = ChainInfo.analyse(certs, row.checked_at).certs
    except CertdoctorError as exc:
        return Finding(Code.NOT_DEPLOYED, Severity.WARNING,
                       f"The cert_file {path} cannot be read: whether its certificate is deployed is unknown.",
                       "The monitor compares the certificate the server sends with the file it should load; "
                       "without the file it cannot tell a renewal that was never deployed.",
                       (f"cert_file: {path}", f"error: {exc.message}"),
                       "Fix cert_file (the path of the file the server loads, e.g. "
                       "/etc/letsencrypt/live/NAME/fullchain.pem), or make it readable by the monitor.",
                       Actor.SERVER_OPERATOR, None, rule="cert_file_unreadable")
    info = next((i for i in infos if i.is_ca is not True), infos[0])
    mine = R.facts(info, 0, row.checked_at, True)
    if mine.fingerprint_sha256 == served.fingerprint_sha256:
        return None
    newer = (mine.not_before, mine.not_after) > (served.not_before, served.not_after)
    if not newer:
        return None
    same_key = mine.spki_pin == served.spki_pin
    return Finding(
        Code.NOT_DEPLOYED, Severity.WARNING,
        f"The server still serves its old certificate: {path} holds a newer one "
        f"(notAfter {mine.not_after:%Y-%m-%d}, served {served.not_after:%Y-%m-%d}).",
        "The certificate was renewed on disk but the server was not reloaded (or loads another file): "
        f"clients get the old one until it expires ({served.days_left} day(s) left).",
        (f"cert_file: {path}", f"file leaf: serial {mine.serial}, notBefore {mine.not_before:%Y-%m-%dT%H:%M:%SZ}, "
         f"notAfter {mine.not_after:%Y-%m-%dT%H:%M:%SZ}, sha256 {mine.fingerprint_sha256}",
         f"served leaf: serial {served.serial}, notBefore {served.not_before:%Y-%m-%dT%H:%M:%SZ}, "
         f"notAfter {served.not_after:%Y-%m-%dT%H:%M:%SZ}, sha256 {served.fingerprint_sha256}",
         f"key: {'the same' if same_key else 'a new one'} ({mine.spki_pin})"),
        _FIX, Actor.SERVER_OPERATOR, 0, rule="newer_file_not_served")


__all__ = ["check_deployed", "RULES"]
