"""Every threshold, timeout and limit certdoctor applies, in one place, in one unit each.

Days are whole days, durations are float seconds, sizes are bytes. A module that needs one of
these imports it from here instead of writing the number again:

    >>> from certdoctor import policy
    >>> policy.EXPIRING_SOON_DAYS, policy.CLOCK_SKEW_SECONDS
    (30, 300.0)
"""

from __future__ import annotations

import datetime as _dt

# --------------------------------------------------------------------------- expiry
#: A certificate with fewer days left is ``EXPIRING_SOON`` (diagnose) / WARNING (expiry).
EXPIRING_SOON_DAYS = 30
#: ``certdoctor expiry``: fewer days left is CRITICAL.
CRITICAL_DAYS = 7

# --------------------------------------------------------------------------- clocks
#: A clock difference (client vs server, or a revocation answer's thisUpdate vs now) larger
#: than this is reported; the same tolerance OpenSSL-based tools commonly use.
CLOCK_SKEW_SECONDS = 300.0
CLOCK_SKEW = _dt.timedelta(seconds=CLOCK_SKEW_SECONDS)

# --------------------------------------------------------------------------- time
#: ``--timeout`` of every command that connects: one default, one range.
TIMEOUT_SECONDS = 10.0
TIMEOUT_MIN_SECONDS = 0.1
TIMEOUT_MAX_SECONDS = 300.0
#: diagnose: the most AIA chasing may take (the whole chase, not per URL).
AIA_BUDGET_SECONDS = 8.0
#: diagnose: the most revocation checking may take (soft fail after that).
REVOCATION_BUDGET_SECONDS = 4.0
#: ``certdoctor revocation``: per request, and for the whole check.
REVOCATION_TIMEOUT_SECONDS = 5.0
REVOCATION_TOTAL_SECONDS = 20.0
#: probing a second host through a proxy to prove interception.
CANARY_TIMEOUT_SECONDS = 3.0
#: The longest ``fix --client pip`` waits for the real pip (its own start-up included).
PIP_PROOF_SECONDS = 120.0

# --------------------------------------------------------------------------- downloads (AIA, CRL, OCSP)
FETCH_MAX_BYTES = 1 << 20
FETCH_MAX_REDIRECTS = 5
FETCH_TIMEOUT_SECONDS = 5.0
FETCH_BUDGET_SECONDS = 10.0

# --------------------------------------------------------------------------- inputs
#: The largest certificate file or bundle read.
MAX_INPUT_BYTES = 20 << 20
#: The most PEM blocks read from one input.
MAX_PEM_BLOCKS = 10_000
#: The most bytes read from a server during a probe.
PROBE_MAX_BYTES = 1 << 20

# --------------------------------------------------------------------------- bounded by construction (issue 10)
#: The most certificates taken from one AIA answer (a PKCS#7 may hold thousands): those named
#: like the issuer sought first, then the rest, in the order served.
AIA_MAX_CERTS_PER_ANSWER = 10
#: The most AIA downloads rounds (issuers fetched one above the other) for one chain.
AIA_MAX_HOPS = 5
#: What the whole-run deadline allows beyond ``--timeout`` for work after the last network
#: step (judging, rendering): tests assert a run ends within ``--timeout`` plus this.
DEADLINE_MARGIN_SECONDS = 2.5
