"""A small TCP forward: `python -m harness.tcpforward LISTEN_HOST:PORT TARGET_HOST:PORT`.

The multi-node harness (`harness/nodes.py`) runs one on the host's bridge address (10.77.0.1:5432 →
127.0.0.1:5432), so that processes in the node namespaces reach PostgreSQL, which listens on the
loopback only. A forward changes nothing in PostgreSQL's configuration (adding the bridge to
`listen_addresses` would need a server *restart*, not a reload, on a server other people share), and
the connections reach PostgreSQL from 127.0.0.1, which its pg_hba.conf already trusts. It is asyncio
in one process: each byte is copied once in user space, a few microseconds per round trip.
"""

from __future__ import annotations

import asyncio
import signal
import sys


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            writer.close()
        except (ConnectionError, OSError):
            pass


async def _serve(listen: tuple[str, int], target: tuple[str, int]) -> None:
    async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*target)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(_pipe(client_reader, upstream_writer), _pipe(upstream_reader, client_writer))

    server = await asyncio.start_server(handle, *listen, reuse_address=True, backlog=512)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("forwarding", listen, "->", target, flush=True)
    async with server:
        await stop.wait()


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


if __name__ == "__main__":
    asyncio.run(_serve(_address(sys.argv[1]), _address(sys.argv[2])))
