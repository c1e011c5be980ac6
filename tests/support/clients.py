"""The real clients' verdict, for tests that compare certdoctor's with it."""

from __future__ import annotations


def real_requests(url: str, verify: str) -> tuple[bool, str | None]:
    """Does a plain ``requests.get(url, verify=verify)`` verify? (ok, the SSLError text)."""
    import requests

    with requests.Session() as s:
        s.trust_env = False
        try:
            s.get(url, verify=verify, timeout=5)
        except requests.exceptions.SSLError as exc:
            return False, str(exc)
    return True, None
