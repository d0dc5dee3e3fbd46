"""The party's peer: the same line protocol, on the websockets library's broadcast().

    python -m bench.websockets_party --port 8083

A guest joins at /party?name=Sam; everyone hears "* Sam joined the party", then
"Sam: <text>" for each line Sam says, and "* Sam left". broadcast() encodes a line
once, frames it for each connection and writes it straight to each, with no task
and no await per guest (and no backpressure: a slow guest's buffer just grows).
No compression, the defences' heartbeat and size limit, asyncio's own event loop:
as `python -m step9_redis` runs. Names are not checked: only the fan-out is compared.
"""

import argparse
import asyncio
import contextlib
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed

from bench.websockets_echo import HEARTBEAT_SECONDS, MAX_MESSAGE_BYTES

GUESTS: set[ServerConnection] = set()


async def party(websocket: ServerConnection) -> None:
    assert websocket.request is not None  # the handshake is done
    name = parse_qs(urlsplit(websocket.request.path).query)["name"][0]
    GUESTS.add(websocket)
    broadcast(GUESTS, f"* {name} joined the party")
    try:
        async for text in websocket:
            broadcast(GUESTS, f"{name}: {text!s}")
    except ConnectionClosed:  # a guest who just vanished
        pass
    finally:
        GUESTS.discard(websocket)
        broadcast(GUESTS, f"* {name} left")


async def serve_forever(host: str, port: int) -> None:
    async with serve(
        party,
        host,
        port,
        compression=None,
        ping_interval=HEARTBEAT_SECONDS,
        ping_timeout=HEARTBEAT_SECONDS / 2,
        max_size=MAX_MESSAGE_BYTES - 1,
        close_timeout=1,  # Ctrl+C: a guest slow to answer our 1001 waits 1 s, not 10
    ) as server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl+C stops it; no traceback
        asyncio.run(serve_forever(args.host, args.port))
