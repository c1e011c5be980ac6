"""The figures of issue 9, item 13, from the openssl-made corpus of
tests/integration/test_openssl_corpus.py (the same table, built and served the same way).

    env -u REQUESTS_CA_BUNDLE -u CURL_CA_BUNDLE -u SSL_CERT_FILE -u SSL_CERT_DIR \
        PYTHONPATH=src .venv/bin/python bench/corpus_figures.py [-v]

Prints: cases; client refusals and the share with a specific (non-VERDICT_UNCONFIRMED) error;
RFC-stricter cases (the client connects, cryptography's verifier refuses) and the share with a
warning; crashes (exceptions); cases where anything disagrees with the table; build time.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests"), str(ROOT / "tests" / "integration")]

import test_openssl_corpus as corpus  # noqa: E402

from support.servers import closed_port, http_server  # noqa: E402


def main(argv: list[str]) -> int:
    verbose = "-v" in argv
    with tempfile.TemporaryDirectory() as tmp, http_server({}) as web:
        start = time.monotonic()
        pki = corpus.build(Path(tmp), aia_closed_url=f"http://127.0.0.1:{closed_port()}/inter.der",
                           aia_404_url=web.url_for("/inter.der"))
        build = time.monotonic() - start
        certs = len(list(Path(tmp).glob("*.pem")))
        outcomes = []
        for case in corpus.CASES:
            o = corpus.run_case(pki, case)
            outcomes.append(o)
            bad = corpus.problems(o)
            if verbose or bad:
                print(f"{case.id:34} real={'ok' if o.real_ok else 'refused':8} "
                      f"codes={sorted(f.code.value + ('/' + f.rule if f.rule else '') for f in o.findings)}")
                for b in bad:
                    print(f"{'':36}PROBLEM: {b}")
                if verbose and o.real_error:
                    print(f"{'':36}{o.real_error[-110:]}")
    refusals = [o for o in outcomes if not o.real_ok]
    specific = [o for o in refusals if o.specific]
    stricter = [o for o in outcomes if o.real_ok and o.rfc5280_refuses]
    warned = [o for o in stricter if o.warned]
    crashes = [o for o in outcomes if o.exception is not None]
    wrong = [o for o in outcomes if corpus.problems(o)]
    agree = [o for o in outcomes if o.diagnosis is not None and o.diagnosis.verifies is o.real_ok]

    def pct(a, b):
        return f"{len(a)}/{len(b)} = {100 * len(a) / len(b):.0f}%" if b else "0/0"

    print(f"cases: {len(outcomes)} ({certs} certificates, {pki.processes} openssl processes, built in {build:.1f} s)")
    print(f"verdict = real requests outcome: {pct(agree, outcomes)}")
    print(f"client refusals: {len(refusals)}; with a specific error code: {pct(specific, refusals)}")
    print(f"RFC-stricter cases (client connects, cryptography's verifier refuses): {len(stricter)}; "
          f"with a warning: {pct(warned, stricter)}")
    print(f"crashes (exceptions): {len(crashes)}")
    print(f"cases disagreeing with the table: {len(wrong)} {[o.case.id for o in wrong]}")
    return 1 if crashes or wrong else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
