"""Hostile TCP servers for the monitor's tests (handlers for ``support.servers.tcp_server``): a
server that stalls, one that resets, one that answers garbage, one that sends an endless
"chain" (TLS handshake records without end, far over the probe's byte cap), and a TLS server that
counts the connections open at once."""

from __future__ import annotations

import os
import socket
import ssl
import struct
import threading


def stall(conn, srv) -> None:
    """Accept, read the ClientHello, then say nothing until the server stops."""
    try:
        conn.recv(65536)
    except OSError:
        pass
    srv.stopping.wait(60)


def reset(conn, srv) -> None:
    """Read the ClientHello, then reset the connection (RST: SO_LINGER 0)."""
    try:
        conn.recv(65536)
    except OSError:
        pass
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def garbage(conn, srv) -> None:
    """Answer the ClientHello with random bytes that are no TLS record."""
    try:
        conn.recv(65536)
        conn.sendall(b"\x00garbage" + os.urandom(4096))
    except OSError:
        pass
    srv.stopping.wait(0.5)


def huge_chain(total: int = 10 << 20):
    """A handler answering with ``total`` bytes of well-formed TLS handshake records (a
    Certificate message that never ends): the 10 MB chain."""
    record = b"\x16\x03\x03" + struct.pack(">H", 16384) + b"\x0b" + b"\xff" * 16383

    def handler(conn, srv) -> None:
        try:
            conn.recv(65536)
            sent = 0
            while sent < total and not srv.stopping.is_set():
                conn.sendall(record)
                sent += len(record)
        except OSError:
            pass

    return handler


class Counting:
    """A TLS handler that counts connections open at once (``peak``). Each is held ``hold``
    seconds before its ClientHello is answered and counted until its handshake completes: a
    client cannot have closed a connection whose handshake the server has not finished, so every
    overlap counted is real (counting until the server notices the close would add the server's
    own scheduling lag)."""

    def __init__(self, ctx: ssl.SSLContext, hold: float = 0.05) -> None:
        self.ctx, self.hold = ctx, hold
        self.lock = threading.Lock()
        self.active = 0
        self.peak = 0
        self.total = 0

    def __call__(self, conn, srv) -> None:
        with self.lock:
            self.active += 1
            self.total += 1
            self.peak = max(self.peak, self.active)
        tls = None
        try:
            srv.stopping.wait(self.hold)
            tls = self.ctx.wrap_socket(conn, server_side=True)
        except (OSError, ssl.SSLError):
            pass
        finally:
            with self.lock:
                self.active -= 1
        if tls is None:
            return
        try:
            tls.settimeout(2)
            while tls.recv(4096):
                pass
        except (OSError, ssl.SSLError):
            pass
