"""Unit tests open no socket: any attempt fails the test (the guard is the layer's definition)."""

from __future__ import annotations

import socket

import pytest


class SocketUsed(AssertionError):
    pass


@pytest.fixture(autouse=True)
def no_sockets(monkeypatch):
    def refuse(*args, **kwargs):
        raise SocketUsed("a unit test tried to open a network connection; move it to tests/integration/")

    for name in ("connect", "connect_ex", "bind"):
        monkeypatch.setattr(socket.socket, name, refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    yield
