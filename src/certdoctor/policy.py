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
#: ``expiry --warn-days/--crit-days``: whole days from 0 to this (100 years: longer than any
#: certificate lives; beyond it a date would leave ``datetime``'s range).
MAX_DAYS = 36_525
#: ``expiry --concurrency`` (endpoints checked at once) and ``lint --jobs`` (worker processes):
#: from 1 to this.
MAX_CONCURRENCY = 256

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
#: ``lab --duration``: the longest a lab may be asked to run (a day); without it, until Ctrl-C.
LAB_MAX_SECONDS = 86_400.0
#: diagnose: the most AIA chasing may take (the whole chase, not per URL).
AIA_BUDGET_SECONDS = 8.0
#: diagnose: the most revocation checking may take (soft fail after that).
REVOCATION_BUDGET_SECONDS = 4.0
#: ``certdoctor revocation``: per request, and for the whole check.
REVOCATION_TIMEOUT_SECONDS = 5.0
REVOCATION_TOTAL_SECONDS = 20.0
#: probing a second host through a proxy to prove interception.
CANARY_TIMEOUT_SECONDS = 3.0
#: the most all the canary probes of one diagnosis may take together (they stop at the first proof).
CANARY_BUDGET_SECONDS = 5.0
#: the direct connection (no proxy) to the same target, compared with the chain through the
#: proxy: short, because a firewall that drops it is common and proves nothing.
DIRECT_PROBE_TIMEOUT_SECONDS = 2.0
#: hosts asked ``--canary``/``CERTDOCTOR_CANARIES`` may name at most (each one costs a probe).
MAX_CANARIES = 8
#: transparent interception (no proxy configured): a leaf whose notBefore is this close to now
#: was minted during the run ...
FRESH_LEAF_MINUTES = 60
FRESH_LEAF = _dt.timedelta(minutes=FRESH_LEAF_MINUTES)
#: ... and one valid (notBefore to notAfter) at most this long is short-lived, as the leaves an
#: intercepting device mints on the fly are.
SHORT_LIFETIME_DAYS = 7
SHORT_LIFETIME = _dt.timedelta(days=SHORT_LIFETIME_DAYS)
#: The longest a pip proof run outside any command waits for the real pip (its own start-up
#: included; a direct ``prove_pip`` call). Under a command its whole-run deadline (``--timeout``)
#: ends it first: pip's process group is then killed.
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

# --------------------------------------------------------------------------- revocation freshness
# A revocation answer proves a status as of its thisUpdate. What certdoctor believes as GOOD
# (checks/revocation.py; README "Revocation"; the choice and its sources in the module docstring):
#   * thisUpdate more than CLOCK_SKEW in the future: not current (NOT_YET_VALID);
#   * nextUpdate in the past: stale (no tolerance: nextUpdate is the CA's own deadline);
#   * an OCSP response without nextUpdate ("newer information is available all the time",
#     RFC 6960 4.2.2.1): believed for OCSP_MAX_AGE_DAYS after thisUpdate (NSS/Firefox: one day;
#     OpenSSL's ``ocsp -status_age`` is the same check, off unless given);
#   * an OCSP response that was not made for this request (no nonce echoed: stapled, cached,
#     pre-signed, or replayed over plain HTTP): believed at most OCSP_MAX_LIFETIME_DAYS after
#     thisUpdate whatever its nextUpdate (the CA/B Forum BR 4.9.10 cap on a subscriber response's
#     validity, and Firefox's cap), OCSP_MAX_LIFETIME_CA_DAYS for a CA certificate (BR: CA status
#     is updated at least every twelve months; Firefox: 365 days);
#   * a CRL without nextUpdate (RFC 5280 requires one): believed CRL_MAX_AGE_DAYS after thisUpdate
#     (BR 4.9.7: a subscriber CRL's nextUpdate is at most ten days after thisUpdate),
#     CRL_MAX_AGE_CA_DAYS for a CA certificate (BR: twelve months).
# A verified REVOKED is believed whatever its age: a revocation is never undone (certificateHold,
# the one reversible reason, is the exception: a stale hold is stale).
OCSP_MAX_AGE_DAYS = 1
OCSP_MAX_LIFETIME_DAYS = 10
OCSP_MAX_LIFETIME_CA_DAYS = 365
CRL_MAX_AGE_DAYS = 10
CRL_MAX_AGE_CA_DAYS = 365
#: the tolerance for a thisUpdate in the future (the same skew as for certificates).
REVOCATION_CLOCK_SKEW = CLOCK_SKEW

# --------------------------------------------------------------------------- bounded by construction (issue 10)
#: The most certificates taken from one AIA answer (a PKCS#7 may hold thousands): those named
#: like the issuer sought first, then the rest, in the order served.
AIA_MAX_CERTS_PER_ANSWER = 10
#: The most AIA downloads rounds (issuers fetched one above the other) for one chain.
AIA_MAX_HOPS = 5
#: What the whole-run deadline allows beyond ``--timeout`` for work after the last network
#: step (judging, rendering): tests assert a run ends within ``--timeout`` plus this.
DEADLINE_MARGIN_SECONDS = 2.5

# --------------------------------------------------------------------------- monitor (issue 11)
#: ``certdoctor monitor``: targets checked at once (one connection each; ``--concurrency``).
MONITOR_CONCURRENCY = 200
#: the most ``--concurrency`` may ask for (each one is an open socket: stay under ``ulimit -n``).
MONITOR_MAX_CONCURRENCY = 5000
#: one target's deadline is its ``timeout`` (DNS, connect, proxy, handshake, downloads) plus this
#: margin for judging; past it the target's row says TIMEOUT and the run goes on.
MONITOR_DEADLINE_MARGIN_SECONDS = 1.0
#: ``confirm = true`` targets: real-client runs (threads) at once, whatever ``--concurrency``.
MONITOR_CONFIRM_CONCURRENCY = 4
#: ``revocation = true`` targets: CRL/OCSP downloads (threads) at once.
MONITOR_REVOCATION_CONCURRENCY = 8
#: judgements the monitor keeps for reuse (an LRU): targets that present the same chain for the
#: same name, trust and options in the same second share one run of the checks. Bounded, so
#: memory grows with this and the concurrency, not with the number of targets.
MONITOR_JUDGEMENT_CACHE = 256
#: the longest line of a ``--targets`` file (a longer one is a bad entry, never read whole).
MONITOR_TARGET_LINE_MAX = 4096
#: the most files one directory or glob of a certificate source expands to.
MONITOR_MAX_FILES_PER_SOURCE = 100_000

# monitor shards (monitor/shard.py: --workers)
#: ``--workers auto``: a fleet of fewer targets than this is checked in one process (starting
#: the children, ~0.1-0.3 s each, costs more than they save); ``auto`` peeks this many specs.
MONITOR_SHARD_MIN_TARGETS = 1000
#: ``--workers auto``: at most this many child processes (one per available core below it).
MONITOR_MAX_WORKERS = 16
#: specs a child may hold queued beyond its share of the concurrency (and the most sent at
#: once): a child never waits for its next spec, and the parent holds at most
#: ``concurrency + workers * this`` specs in flight.
MONITOR_SHARD_BATCH = 32
#: a worker process that died is replaced this many times a run at most (its in-flight targets
#: get an error row; past this, the targets left are error rows too).
MONITOR_SHARD_RESTARTS = 4
#: seconds a stopping run waits for its children to exit before SIGKILL.
MONITOR_SHARD_STOP_SECONDS = 5.0

# monitor on Dask (monitor/dask.py: --dask; docs/SCALE.md)
#: targets per Dask shard (one task): a shard is ``index // this`` of the expanded inventory in
#: its order. Thousands: a task costs the scheduler ~1 ms and a round trip; the result comes
#: back whole, so a shard is also what a lost worker costs in re-checks.
MONITOR_DASK_SHARD_TARGETS = 2000
#: shards in flight per worker (one running, one queued so that no worker waits for its next)
#: and at most this many in all: the coordinator holds at most that many shards' specs.
MONITOR_DASK_SHARDS_PER_WORKER = 2
MONITOR_DASK_MAX_SHARDS_IN_FLIGHT = 64
#: a shard whose task raised is re-run this many times (Dask's ``retries=``); past it, every
#: target of the shard gets an error row.
MONITOR_DASK_RETRIES = 2
#: ``--dask local``: workers a shard may lose (killed, out of memory) before it fails for good
#: (the scheduler's ``distributed.scheduler.allowed-failures``; a remote scheduler's own config
#: decides there).
MONITOR_DASK_ALLOWED_FAILURES = 3
#: seconds to connect to a scheduler and to wait for its first worker.
MONITOR_DASK_CONNECT_SECONDS = 30.0

# monitor outputs: --nagios, --textfile, --serve (the exporter)
#: the longest Prometheus label value the exporter writes (a subject, a target): longer ones are
#: cut and end in ``…`` (a label is an index key in Prometheus; a 10 kB subject is an attack).
MONITOR_LABEL_MAX = 512
#: ``--serve`` with no address: where blackbox's neighbour port convention puts it (loopback only).
MONITOR_SERVE_DEFAULT = "127.0.0.1:9219"
#: ``--interval``: seconds between the starts of two fleet runs of ``--serve``.
MONITOR_SERVE_INTERVAL_SECONDS = 300.0
#: the shortest ``--interval`` (a run every second is for tests; the fleet's own length bounds it anyway).
MONITOR_SERVE_INTERVAL_MIN_SECONDS = 1.0
#: ``/probe`` requests answered at once; the next waits this long for a slot, then gets 503.
MONITOR_PROBE_CONCURRENCY = 16
MONITOR_PROBE_QUEUE_SECONDS = 5.0
#: seconds the exporter waits for a running fleet run or /probe to end after SIGTERM/SIGINT.
MONITOR_SHUTDOWN_SECONDS = 5.0
#: ``--nagios``: the non-ok targets named in the summary line per status (the rest: ``+N more``).
NAGIOS_NAMES_PER_STATUS = 5

# --------------------------------------------------------------------------- monitor state and webhooks (issue 11)
#: ``--state``: how long a run waits for another run's write on the same SQLite file (SQLite's
#: busy timeout) before that row's state update is reported as failed.
MONITOR_STATE_BUSY_TIMEOUT_SECONDS = 30.0
#: transitions kept per target in the state file's history (older ones are pruned).
MONITOR_STATE_HISTORY_PER_TARGET = 200
#: runs kept in the state file's ``runs`` table.
MONITOR_STATE_RUNS_KEPT = 1000
#: ``--webhook``: tries per event (the first and the retries), the wait before each retry,
#: and each try's timeout (connect + send + the answer's head).
WEBHOOK_TRIES = 3
WEBHOOK_BACKOFF_SECONDS = (0.5, 1.0, 2.0)
WEBHOOK_TIMEOUT_SECONDS = 5.0
#: events waiting for delivery at most; past that an event is dropped and reported.
WEBHOOK_MAX_QUEUE = 10_000
#: delivery threads (each sends one event at a time).
WEBHOOK_SENDERS = 4
#: once the last row is out, the run waits at most this long for the events still queued or in
#: flight; what is left then is reported as not delivered (the run never waits on a stalled hook).
WEBHOOK_DRAIN_SECONDS = 10.0
#: the most bytes of a webhook's answer read (the body is discarded).
WEBHOOK_MAX_RESPONSE_BYTES = 65536
#: the largest event body sent (the certificate list is cut first, then the findings).
WEBHOOK_MAX_EVENT_BYTES = 256 * 1024

# --------------------------------------------------------------------------- renew (flow)
#: ``certdoctor renew``: each ACME HTTP request's timeout (``timeouts.acme``).
RENEW_ACME_TIMEOUT_SECONDS = 30.0
#: one certificate's whole order (new order, challenges, validation, finalize, download;
#: ``timeouts.order``).
RENEW_ORDER_TIMEOUT_SECONDS = 300.0
#: the deploy hook (``timeouts.hook``) and the dns-01 hook (``challenge.timeout``): killed after this.
RENEW_HOOK_TIMEOUT_SECONDS = 120.0
#: proving the new leaf is served (``timeouts.verify``): every ``verify`` endpoint is probed until it
#: serves the new leaf or this passes; one probe each ``RENEW_VERIFY_INTERVAL_SECONDS``.
RENEW_VERIFY_TIMEOUT_SECONDS = 60.0
RENEW_VERIFY_INTERVAL_SECONDS = 0.5
#: one probe of a ``verify`` endpoint (bounded by what is left of the verify timeout).
RENEW_VERIFY_PROBE_TIMEOUT_SECONDS = 10.0
#: the new leaf must be seen on this many probes in a row (these seconds apart) to count as served:
#: while a server reloads, an old worker may still answer a new connection after a new one did.
RENEW_VERIFY_CONFIRMATIONS = 3
RENEW_VERIFY_CONFIRM_INTERVAL_SECONDS = 0.2
#: the range every configured timeout must fall in.
RENEW_TIMEOUT_MIN_SECONDS = 0.1
RENEW_TIMEOUT_MAX_SECONDS = 3600.0
#: a transient ACME failure (unreachable, timeout, 5xx, rateLimited with a short Retry-After) is
#: tried this many times in one run, waiting these seconds before each retry (the last repeats).
RENEW_TRIES = 3
RENEW_BACKOFF_SECONDS = (1.0, 4.0)
#: a Retry-After longer than this is not waited out inside the run: the attempt is recorded with
#: its next attempt time and later runs skip the certificate until then (unless ``--force``).
RENEW_MAX_WAIT_IN_RUN_SECONDS = 10.0
#: ``renew --check`` is CRITICAL (2) when less than this fraction of the lifetime is left (the
#: lifetime rule renews at a third left: a tenth left means renewals have failed for a long while).
RENEW_CHECK_CRITICAL_FRACTION = 0.1
#: the deploy hook's stderr: the last bytes kept in an error.
RENEW_HOOK_STDERR_TAIL = 2000
#: attempts kept per certificate in the attempt record (older ones pruned).
RENEW_RECORD_ATTEMPTS_KEPT = 200
#: the attempt record's SQLite busy timeout.
RENEW_RECORD_BUSY_TIMEOUT_SECONDS = 10.0
#: where certdoctor's own http-01 server listens when a challenge names neither listen nor webroot
#: (the CA connects to port 80 of every name).
RENEW_HTTP01_LISTEN = "0.0.0.0:80"

# --------------------------------------------------------------------------- renew (acme) (issue 12)
#: the longest challenge token accepted from a CA (RFC 8555 asks for >= 128 bits of base64url:
#: 22+ characters; anything this long is not a token but an attack on a path).
ACME_TOKEN_MAX_CHARS = 256
#: certdoctor's http-01 server: the largest request head read, the time one request may take
#: (head in, answer out), and the connections served at once (more are dropped, not queued).
ACME_HTTP01_MAX_REQUEST_BYTES = 8192
ACME_HTTP01_REQUEST_SECONDS = 10.0
ACME_HTTP01_MAX_CONNECTIONS = 64
#: a dns-01 hook run (set or clear): killed with its process group after this long.
ACME_DNS_HOOK_SECONDS = 120.0
#: characters of a failing hook's stderr tail shown in the one-line error.
ACME_HOOK_STDERR_CHARS = 300
#: one ACME request (connect + answer; ``ClientNetwork``'s timeout), capped by the run's deadline.
ACME_REQUEST_TIMEOUT_SECONDS = 30.0
#: polling an authorization or an order: the first wait, the factor, the longest wait (a
#: server's Retry-After is honoured within [first, longest]).
ACME_POLL_FIRST_SECONDS = 0.5
ACME_POLL_FACTOR = 1.5
ACME_POLL_MAX_SECONDS = 10.0
#: the largest answer read from an ACME server (a certificate chain is a few kB; a directory less).
ACME_MAX_RESPONSE_BYTES = 1024 * 1024
#: a rate-limited answer's Retry-After is kept within [0, this] seconds (a CA's "come back in a
#: year" becomes a day; the next run reads it again).
ACME_RETRY_AFTER_MAX_SECONDS = 86400.0
#: the most characters of a server's problem detail kept in an AcmeFailure (one line).
ACME_DETAIL_MAX_CHARS = 500

# --------------------------------------------------------------------------- renew (pure parts) (issue 12)
#: the smallest RSA key a CSR is made with (--key): CAs refuse less (CA/B BR 6.1.5), so we do first.
RENEW_RSA_MIN_BITS = 2048
#: identifiers (DNS names + IP addresses) in one CSR at most: Let's Encrypt's limit per order.
RENEW_MAX_IDENTIFIERS = 100
#: a CSR's commonName at most (RFC 5280 ub-common-name): a longer first name leaves the CN out.
RENEW_CN_MAX = 64
#: the most bytes of a key file ``--key`` reads.
RENEW_MAX_KEY_BYTES = 1 << 20
#: the most bytes of a renewalInfo answer read (RFC 9773 §4.2: a small JSON object).
ARI_MAX_BYTES = 64 << 10
#: Retry-After of a renewalInfo answer is held to [min, max] seconds (RFC 9773 §4.3's example bounds).
ARI_RETRY_MIN_S = 60.0
ARI_RETRY_MAX_S = 86400.0
#: without a Retry-After: when to ask for renewalInfo again (RFC 9773 §4.3; certbot's 6 h).
ARI_RETRY_DEFAULT_S = 6 * 3600.0
#: without ARI: renew at this fraction of the lifetime (notBefore + f * lifetime) …
RENEW_LIFETIME_FRACTION = 2 / 3
#: … or at this one for certificates shorter than RENEW_SHORT_LIFETIME_DAYS (certbot 4's rule).
RENEW_SHORT_LIFETIME_FRACTION = 1 / 2
RENEW_SHORT_LIFETIME_DAYS = 10
#: a certificate not due: look again at most this long from now (twice a day, as cron/timers run us).
RENEW_CHECK_INTERVAL_S = 12 * 3600.0

# --------------------------------------------------------------------------- HTML report (issue 14)
#: the expiry timeline's axis (render/html.py): linear from this many days before today to
#: REPORT_NEAR_DAYS after it, over REPORT_NEAR_SHARE of the width; later dates share the rest
#: (compressed linearly up to the last notAfter); earlier ones are clipped at the left edge.
REPORT_PAST_DAYS = 30
REPORT_NEAR_DAYS = 90
REPORT_NEAR_SHARE = 0.75
#: the timeline draws at most this many certificates (the soonest to expire; the rest are counted).
REPORT_TIMELINE_MAX_BARS = 500
#: recent changes listed (newest first), and per target in its section.
REPORT_CHANGES_MAX = 200
REPORT_CHANGES_PER_TARGET = 10
