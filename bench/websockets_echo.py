"""A bare echo written with the websockets library, which a learner might pick instead.

    python -m bench.websockets_echo --port 8082

It keeps the heartbeat and size limit of step5_internet/defences.py, as the aiohttp
echo does, and runs on asyncio's own event loop.
"""

import argparse
import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosedError

HEARTBEAT_SECONDS = 30  # the stages': a ping when a chat has been quiet this long
MAX_MESSAGE_BYTES = 4096  # defences.py's: this long or longer closes with 1009


async def echo(websocket: ServerConnection) -> None:
    """Send every message straight back."""
    with contextlib.suppress(ConnectionClosedError):  # a client that just vanished
        async for message in websocket:
            await websocket.send(message)


async def serve_forever(
    handler: Callable[[ServerConnection], Awaitable[None]],
    host: str,
    port: int,
    **options: Any,
) -> None:
    """Serve `handler` with the stages' heartbeat and size limit (and `options`)."""
    async with serve(
        handler,
        host,
        port,
        ping_interval=HEARTBEAT_SECONDS,
        ping_timeout=HEARTBEAT_SECONDS / 2,  # aiohttp too waits this long for a pong
        max_size=MAX_MESSAGE_BYTES - 1,  # websockets lets exactly max_size through
        close_timeout=1,  # Ctrl+C: a client slow to answer our 1001 waits 1 s, not 10
        **options,
    ) as server:
        await server.serve_forever()


def main(
    description: str,
    handler: Callable[[ServerConnection], Awaitable[None]],
    **options: Any,
) -> None:
    """`python -m <module> --port P`: serve until Ctrl+C."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl+C stops it; no traceback
        asyncio.run(serve_forever(handler, args.host, args.port, **options))


if __name__ == "__main__":
    main(__doc__.splitlines()[0], echo)
