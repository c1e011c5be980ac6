"""A TCP relay on 127.0.0.1 that adds a one-way delay each way (bench/diagnose.sh's slow link).

    python bench/latency_relay.py --delay 0.025 TARGET_PORT [TARGET_PORT ...]

listens on one free port per target (port 0) and prints them, space-separated, on one line once
they listen; then relays every connection to 127.0.0.1:TARGET_PORT until stdin closes (or
SIGTERM). Every chunk is delivered ``delay`` seconds after it was read, order kept, EOF
included: ``2 * delay`` of round-trip time. The TCP handshake of a real link costs one round
trip before the client's first byte leaves; on loopback the client's ``connect`` returns at once,
so the first bytes towards the server are held until ``3 * delay`` after the accept (SYN,
SYN-ACK, then the data's own way), as they would arrive over such a link.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys


async def _pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter, delay: float, not_before: float) -> None:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()

    async def read() -> None:
        while True:
            try:
                data = await src.read(65536)
            except (ConnectionError, OSError):
                data = b""
            queue.put_nowait((loop.time(), data))
            if not data:
                return

    async def write() -> None:
        while True:
            at, data = await queue.get()
            wait = max(at + delay, not_before) - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                with contextlib.suppress(OSError, RuntimeError):
                    if dst.can_write_eof():
                        dst.write_eof()
                return
            try:
                dst.write(data)
                await dst.drain()
            except (ConnectionError, OSError):
                return

    await asyncio.gather(read(), write())


async def _relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int, delay: float) -> None:
    loop = asyncio.get_running_loop()
    accepted = loop.time()
    try:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        writer.close()
        return
    try:
        await asyncio.gather(_pump(reader, up_writer, delay, accepted + 3 * delay),
                             _pump(up_reader, writer, delay, 0.0))
    finally:
        for w in (writer, up_writer):
            with contextlib.suppress(Exception):
                w.close()


async def main(targets: list[int], delay: float) -> None:
    servers = []
    for port in targets:
        servers.append(await asyncio.start_server(lambda r, w, p=port: _relay(r, w, p, delay), "127.0.0.1", 0))
    print(" ".join(str(s.sockets[0].getsockname()[1]) for s in servers), flush=True)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    with contextlib.suppress(NotImplementedError):
        loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_reader(sys.stdin.fileno(), lambda: stop.set() if not sys.stdin.buffer.read1(1) else None)
    await stop.wait()
    for s in servers:
        s.close()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--delay", type=float, default=0.025, help="one-way delay in seconds (default 0.025)")
    ap.add_argument("targets", type=int, nargs="+")
    args = ap.parse_args()
    asyncio.run(main(args.targets, args.delay))
