"""Defences against floods of frames of any kind. Every later stage keeps them.

aiohttp hands a handler whole messages only, never a ping, a pong or a piece of a
message: so FrameMeter reads the head of every frame as it arrives, before aiohttp.
"""

import asyncio
import logging
import math
import struct
from collections.abc import AsyncIterator
from time import monotonic
from typing import cast

from aiohttp import WSCloseCode, WSMessage, WSMsgType, web
from aiohttp.abc import AbstractStreamWriter

from .defences import MAX_MESSAGE_BYTES, ChatWebSocket, OncePerSecond, cut_off

MESSAGES_PER_SECOND = 20  # frames of any kind, pings included, on average...
MOST_FORGIVEN_SECONDS = 10  # ...and more after a stall of ours, up to this long
CLOSE_SECONDS = 1  # how long a flooder may take to hear its 1008 before a reset
STALL_TICK_SECONDS = 0.5  # how often the watch looks: a stall shorter is harmless

frames_per_second = web.AppKey("frames_per_second", float)  # 0: no limit


class StallWatch:
    """How long this process could not run (a pause, a stop, a busy event loop):
    messages that arrived meanwhile are read all at once, and are not a flood."""

    def __init__(self) -> None:
        self.stalled = 0.0  # seconds, in total
        self.due = math.inf  # when watch() should wake next: not before it starts

    def seconds(self) -> float:
        """Every stall so far, the one going on now (if any) included."""
        return self.stalled + max(0.0, monotonic() - self.due)

    async def watch(self) -> None:
        while True:
            self.due = monotonic() + STALL_TICK_SECONDS
            await asyncio.sleep(STALL_TICK_SECONDS)
            self.stalled += max(0.0, monotonic() - self.due)


stall_watch = web.AppKey("stall_watch", StallWatch)


class FrameRate:
    """A token bucket: a second's worth of frames, refilled as time goes by, and
    credit for time the server itself stalled (up to MOST_FORGIVEN_SECONDS)."""

    def __init__(self, per_second: float, watch: StallWatch) -> None:
        self.per_second = per_second
        self.watch = watch
        self.tokens = per_second
        self.checked_at = monotonic()
        self.stalled = watch.seconds()

    def allows_one_more(self) -> bool:
        if not self.per_second:
            return True  # no limit
        now, stalled = monotonic(), self.watch.seconds()
        refill = (now - self.checked_at) * self.per_second
        refilled = min(self.tokens + refill, self.per_second)  # a second's worth
        credit = (stalled - self.stalled) * self.per_second
        most = self.per_second * (1 + MOST_FORGIVEN_SECONDS)
        self.tokens = min(max(self.tokens, refilled) + credit, most)
        self.checked_at, self.stalled = now, stalled
        self.tokens -= 1
        return self.tokens >= 0


class Relay(asyncio.Protocol):
    """Stands between a connection and aiohttp's protocol, and passes all on."""

    def __init__(self, aiohttp: asyncio.Protocol) -> None:
        self.aiohttp = aiohttp

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.aiohttp.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.aiohttp.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self.aiohttp.data_received(data)

    def eof_received(self) -> bool | None:
        return self.aiohttp.eof_received()

    def pause_writing(self) -> None:
        self.aiohttp.pause_writing()

    def resume_writing(self) -> None:
        self.aiohttp.resume_writing()


class FrameMeter(Relay):
    """Reads the head of each frame a client sends, then passes the bytes to aiohttp.

    A client that sends frames faster than FrameRate allows, or more than
    MAX_MESSAGE_BYTES without finishing a message, hears 1008 and is cut off.
    """

    def __init__(self, ws: "MeteredWebSocket", transport: asyncio.Transport) -> None:
        super().__init__(cast(asyncio.Protocol, transport.get_protocol()))
        self.ws, self.transport = ws, transport
        self.head = b""  # the start of a frame's head, until it is whole
        self.payload_left = 0  # bytes of the current frame's payload still to come
        self.message_bytes = 0  # of the message that is arriving, heads included
        self.flooded = False

    def data_received(self, data: bytes) -> None:
        if self.flooded:
            return  # nothing from a flooder reaches the handler any more
        position = 0
        while position < len(data):
            if self.payload_left:
                taken = min(self.payload_left, len(data) - position)
                self.payload_left -= taken
                position += taken
                continue
            frame_start = position - len(self.head)  # < 0: it began in earlier data
            head = self.head + data[position : position + 14]  # 14: the longest head
            needed = head_size(head)
            if len(head) < needed:  # its end comes with the next read
                self.head = head
                break
            position += needed - len(self.head)
            self.head = b""
            self.count(head[:needed])
            if self.flooded:  # aiohttp gets the frames before this one only
                self.aiohttp.data_received(data[: max(frame_start, 0)])
                return
        self.aiohttp.data_received(data)

    def count(self, head: bytes) -> None:
        """One whole frame head: its opcode, FIN bit and payload length."""
        self.payload_left = payload_length(head)
        is_data = head[0] & 0x0F < 0x8  # text, binary or a continuation
        if is_data:
            self.message_bytes += len(head) + self.payload_left
        if self.message_bytes > 2 * MAX_MESSAGE_BYTES:  # a message that never ends
            self.stop("too many bytes")
        elif not self.ws.rate.allows_one_more():
            self.stop("too many messages")
        elif is_data and head[0] & 0x80:  # FIN: the message is whole
            self.message_bytes = 0
            self.ws.metered += 1

    def stop(self, reason: str) -> None:
        """Say 1008 to a flooder, and cut it off if it has not left a second later."""
        self.flooded = True
        FLOODS_LOG.warning("cut off a client that sent %s", reason)
        self.goodbye = asyncio.ensure_future(
            self.ws.close(code=WSCloseCode.POLICY_VIOLATION, message=reason.encode())
        )
        self.goodbye.add_done_callback(lambda _: cut_off(self.transport))


def head_size(start: bytes) -> int:
    """How long a frame's head is, from its first two bytes (or less)."""
    if len(start) < 2:
        return 2
    length = start[1] & 0x7F
    extended = 2 if length == 126 else 8 if length == 127 else 0
    masked = 4 if start[1] & 0x80 else 0
    return 2 + extended + masked


def payload_length(head: bytes) -> int:
    length = head[1] & 0x7F
    if length == 126:
        return int(struct.unpack("!H", head[2:4])[0])
    if length == 127:
        return int(struct.unpack("!Q", head[2:10])[0])
    return length


class MeteredWebSocket(ChatWebSocket):
    """ChatWebSocket, with every frame the client sends counted as it arrives."""

    def __init__(self, request: web.Request) -> None:
        super().__init__(request, timeout=CLOSE_SECONDS)  # to wait for a close reply
        self.rate = FrameRate(request.app[frames_per_second], request.app[stall_watch])
        self.metered = self.received = 0  # whole messages, as they came and were read

    async def receive(self, timeout: float | None = None) -> WSMessage:
        """A message that came with the handshake, before the meter, counts here."""
        msg = await super().receive(timeout)
        if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
            self.received += 1
            if self.received > self.metered and not self.rate.allows_one_more():
                goodbye = b"too many messages"
                await self.close(code=WSCloseCode.POLICY_VIOLATION, message=goodbye)
                return await super().receive()  # closed: the chat is over
        return msg

    async def prepare(self, request: web.BaseRequest) -> AbstractStreamWriter:
        writer = await super().prepare(request)
        if request.transport is not None:  # None if the client has left already
            request.transport.set_protocol(FrameMeter(self, request.transport))
        return writer


async def watch_for_stalls(app: web.Application) -> AsyncIterator[None]:
    watching = asyncio.create_task(app[stall_watch].watch())
    yield
    watching.cancel()


def protect_from_floods(app: web.Application, *, messages_per_second: float) -> None:
    """Give `app` the frame meter's limits; 0 messages a second means no limit."""
    app[frames_per_second] = messages_per_second
    app[stall_watch] = StallWatch()
    app.cleanup_ctx.append(watch_for_stalls)


FLOODS_LOG = logging.getLogger(__name__)
FLOODS_LOG.addFilter(OncePerSecond(lambda record: True))  # a thousand floods: one line
