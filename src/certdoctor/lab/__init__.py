"""The built-in lab: one real TLS endpoint per failure scenario, on 127.0.0.1.

A private PKI is made at start (current dates); nothing touches the network beyond loopback.

    >>> from certdoctor.lab import Lab, SCENARIOS
    >>> with Lab(scenarios=["good", "expired_leaf"]) as lab, lab.resolving():   # doctest: +SKIP
    ...     ep = lab.endpoint("expired_leaf")
    ...     requests.get(ep.url, verify=str(lab.ca_file))
    Traceback (most recent call last):
    requests.exceptions.SSLError: ... certificate has expired ...

``SCENARIOS`` is importable without starting anything (``certdoctor lab --list``).
"""

from __future__ import annotations

from typing import Any

from certdoctor.lab.scenarios import SCENARIOS, Endpoint, Scenario

__all__ = ["Lab", "Scenario", "Endpoint", "SCENARIOS"]


def __getattr__(name: str) -> Any:
    # Lab pulls in cryptography and the servers: only when asked for
    if name == "Lab":
        from certdoctor.lab.core import Lab

        return Lab
    raise AttributeError(f"module 'certdoctor.lab' has no attribute {name!r}")
