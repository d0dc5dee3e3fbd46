"""What a WebSocket server needs before strangers reach it, in one place.

The handlers in app.py stay as they were; these limits and clean-ups guard them:
a size limit, no compression, a heartbeat for peers that vanish, a cut-off for
clients that stop reading, a log that a bad client cannot flood, and a goodbye on
shutdown that never waits forever.
"""

import asyncio
import contextlib
import logging
import socket
import struct
import time
import weakref
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import WSCloseCode, web
from aiohttp.abc import AbstractStreamWriter
from aiohttp.http_exceptions import HttpProcessingError

MAX_MESSAGE_BYTES = 4096  # a message this long or longer closes the chat with 1009
BACKLOG_BYTES = 64 * 1024  # unread replies we hold for a client before we cut it off
KERNEL_SEND_BYTES = 64 * 1024  # the kernel's share for one client (Linux doubles it)
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

    def __init__(self, request: web.Request, **options: Any) -> None:
        super().__init__(
            heartbeat=request.app[heartbeat],
            max_msg_size=MAX_MESSAGE_BYTES,
            compress=False,  # short lines gain nothing from it, and it costs memory
            **options,  # anything else aiohttp's WebSocketResponse takes
        )

    async def prepare(self, request: web.BaseRequest) -> AbstractStreamWriter:
        """The handshake; then a small kernel buffer, so that a client that stops
        reading is cut off (see cut_off_stuck_clients) before it costs much memory.
        """
        writer = await super().prepare(request)
        if request.transport is not None:  # None if the client has left already
            sock = request.transport.get_extra_info("socket")
            with contextlib.suppress(OSError, ValueError):  # closed already
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, KERNEL_SEND_BYTES)
        return writer

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


class OncePerSecond(logging.Filter):
    """One short line a second for each kind of record that a client can repeat.

    aiohttp logs a whole traceback for every request it cannot parse: one client
    could write megabytes of them. Such records become one line, and at most one a
    second of each kind; an error in a handler keeps its traceback.
    """

    def __init__(self, is_noise: Callable[[logging.LogRecord], bool]) -> None:
        super().__init__()
        self.is_noise = is_noise
        self.last: dict[object, float] = {}  # by kind: the record's format string

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.is_noise(record):
            return True
        now = time.monotonic()
        if now - self.last.get(record.msg, -1.0) < 1:
            return False
        self.last[record.msg] = now
        line = record.getMessage()
        if record.exc_info:  # the error's own words, without its traceback
            line = f"{line}: {record.exc_info[1]}"
        record.msg, record.args = " ".join(line.split()), ()  # one line, truly
        record.exc_info, record.exc_text = None, None
        return True


def is_client_noise(record: logging.LogRecord) -> bool:
    """A request aiohttp cannot parse, or a client gone: what a client can repeat."""
    error = record.exc_info[1] if record.exc_info else None
    gone = str(record.msg).startswith(("chat ended", "cut off a client"))
    return isinstance(error, HttpProcessingError) or gone


# aiohttp logs to "aiohttp.server" under `python -m`, and to "gunicorn.error" under
# gunicorn; app.py and this module to the root logger, "".
CLIENT_NOISE = OncePerSecond(is_client_noise)
for name in ("aiohttp.server", "gunicorn.error", ""):
    logging.getLogger(name).addFilter(CLIENT_NOISE)  # once, however many apps


def protect(app: web.Application, *, heartbeat_seconds: float) -> None:
    """Give `app` every defence above."""
    app[chats] = weakref.WeakKeyDictionary()
    app[heartbeat] = heartbeat_seconds
    app.cleanup_ctx.append(cut_off_stuck_clients)
    app.on_shutdown.append(close_websockets)
