"""What a WebSocket server needs before strangers reach it, in one place.

The handlers in app.py stay as they were; these limits and clean-ups guard them:
a size limit, no compression, a heartbeat for peers that vanish, a cut-off for
clients that stop reading, and a goodbye on shutdown that never waits forever.
"""

import asyncio
import contextlib
import logging
import socket
import struct
import weakref
from collections.abc import AsyncIterator

from aiohttp import WSCloseCode, web

MAX_MESSAGE_BYTES = 4096  # a message this long or longer closes the chat with 1009
BACKLOG_BYTES = 64 * 1024  # unread replies we hold for a client before we cut it off
SWEEP_SECONDS = 2  # how often we look for clients that stopped reading
GOODBYE_SECONDS = 1  # how long a goodbye on shutdown may take

# Every open chat, and the connection under it, so that a stuck one can be cut off.
chats = web.AppKey(
    "chats", weakref.WeakKeyDictionary[web.WebSocketResponse, asyncio.Transport]
)
heartbeat = web.AppKey("heartbeat", float)  # a peer that misses a ping is dropped


class ChatWebSocket(web.WebSocketResponse):
    """aiohttp's WebSocket with our limits, and one fix.

    The fix: in aiohttp 3.14.5, the client's answer to our closing frame restarts
    the heartbeat timer, and the timer keeps the finished chat in memory for 30-45 s.
    """

    def __init__(self, request: web.Request) -> None:
        super().__init__(
            heartbeat=request.app[heartbeat],
            max_msg_size=MAX_MESSAGE_BYTES,
            compress=False,  # short lines gain nothing from it, and it costs memory
        )

    async def close(
        self, *, code: int = WSCloseCode.OK, message: bytes = b"", drain: bool = True
    ) -> bool:
        if not self.prepared:  # the client left during the handshake: nothing to close
            return False
        self._heartbeat = None  # no pings after goodbye, and no timer to restart
        return await super().close(code=code, message=message, drain=drain)


def cut_off(transport: asyncio.Transport) -> None:
    """Drop a connection now. A TCP reset (SO_LINGER 0) frees the kernel's unsent data
    too: a plain close would keep it for minutes, trying to reach a peer not reading.
    """
    # A connection closed already raises OSError (uvloop's: ValueError).
    with contextlib.suppress(OSError, ValueError):
        sock = transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


async def cut_off_stuck_clients(app: web.Application) -> AsyncIterator[None]:
    """Now and then, hang up on clients that have stopped reading (backpressure).

    A client that sends but never reads would have its replies pile up here, and
    the handler would wait forever to send the next one. Aborting the connection
    frees both, and costs nothing for clients that read.
    """

    async def sweep() -> None:
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            for transport in list(app[chats].values()):
                if transport.get_write_buffer_size() > BACKLOG_BYTES:
                    logging.warning("cut off a client that stopped reading")
                    cut_off(transport)

    sweeper = asyncio.create_task(sweep())
    yield
    sweeper.cancel()


async def close_websockets(app: web.Application) -> None:
    """On Ctrl+C, say goodbye (1001) to every chat; cut off any that cannot hear it."""
    goodbyes = [
        asyncio.ensure_future(
            ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")
        )
        for ws in app[chats]
    ]
    if goodbyes:  # a client that stopped reading would keep us waiting forever
        await asyncio.wait(goodbyes, timeout=GOODBYE_SECONDS)
    for transport in list(app[chats].values()):
        cut_off(transport)  # does nothing to a connection that closed already


def protect(app: web.Application, *, heartbeat_seconds: float) -> None:
    """Give `app` every defence above."""
    app[chats] = weakref.WeakKeyDictionary()
    app[heartbeat] = heartbeat_seconds
    app.cleanup_ctx.append(cut_off_stuck_clients)
    app.on_shutdown.append(close_websockets)
