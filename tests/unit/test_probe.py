"""certdoctor.net.probe's arguments: what it refuses before it opens any socket.

Probing real TLS servers: tests/integration/test_probe.py.
"""

from __future__ import annotations

import pytest

from certdoctor.errors import UsageError
from certdoctor.net.probe import probe, probe_many


def test_bad_arguments_raise_usage_error():
    with pytest.raises(UsageError):
        probe("example.org", 70000)
    with pytest.raises(UsageError):
        probe("", 443)
    with pytest.raises(UsageError):
        probe("example.org", 443, address="not-an-ip")
    with pytest.raises(UsageError):
        probe_many(["example.org:notaport"])
