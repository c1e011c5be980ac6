"""Integration tests: real TLS servers on 127.0.0.1 (the lab, nginx, openssl, and the one test
server of ``support.servers``), stopped by the tests that start them."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    """The whole built-in lab, started once per session and stopped at its end.

    Names under ``.lab.test`` resolve to 127.0.0.1 in this process while it runs.
    """
    from certdoctor.lab import Lab

    lab = Lab(workdir=tmp_path_factory.mktemp("lab"))
    lab.start()
    try:
        with lab.resolving():
            yield lab
    finally:
        lab.stop()


@pytest.fixture
def servers():
    """``servers.tls(...)``, ``servers.tcp(...)``, ``servers.http(...)`` (``support.servers``): as
    many servers as the test needs, all stopped at its end."""
    from support.servers import ServerGroup

    with ServerGroup() as group:
        yield group
