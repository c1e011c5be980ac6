"""The checks of a diagnosis: pure functions of the :class:`~certdoctor.evidence.Evidence` and a clock.

No module here opens a socket or reads a file (none imports :mod:`certdoctor.net`): everything a
check needs was gathered before (:mod:`certdoctor.gather`) and travels in the evidence. One
module per theme, each with ``check(ctx) -> list[Finding]``:

==================  =========================================================================
``presentation``    CHAIN_ORDER, CHAIN_EXTRA_CERT
``validity``        EXPIRED, NOT_YET_VALID, EXPIRING_SOON
``hostname``        HOSTNAME_MISMATCH, NO_SAN
``crypto``          WEAK_SIGNATURE, WEAK_KEY, WRONG_EKU
``trust``           CHAIN_INCOMPLETE, UNTRUSTED_ROOT, INTERCEPTING_PROXY, SELF_SIGNED, CERTIFI_OUTDATED
``strict``          STRICT_X509
``pins``            PIN_MISMATCH
``revocation``      REVOKED, REVOCATION_UNKNOWN, REVOCATION_STALE (and the CRL/OCSP verification)
``reconcile``       CLOCK_SKEW, VERDICT_UNCONFIRMED (our verdict against the real client's)
==================  =========================================================================

    >>> from certdoctor.checks import run
    >>> [f.code.value for f in run(evidence, now)]         # doctest: +SKIP
    ['EXPIRED']

:func:`judge` and :func:`run` live in :mod:`certdoctor.checks.runner`; :mod:`certdoctor.checks.context`
derives the chain and the path from the evidence once for all the checks.
"""

from certdoctor.checks.runner import ORDER, Judgement, dedupe, judge, run

__all__ = ["run", "judge", "Judgement", "dedupe", "ORDER"]
