"""Stage 3: a dating app for robots, with profiles, chats and a web page."""

import asyncio
import contextlib
import logging
import random
import socket
import struct
import weakref
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import WSCloseCode, WSMsgType, hdrs, web
from yarl import URL

from .conversation import Conversation, Robot
from .robots import ROBOTS

STATIC = Path(__file__).parent / "static"
MAX_MESSAGE_BYTES = 4096  # a message this long or longer closes the chat with 1009
BACKLOG_BYTES = 64 * 1024  # unread replies we hold for a client before we cut it off
SWEEP_SECONDS = 2  # how often we look for clients that stopped reading
GOODBYE_SECONDS = 1  # how long a goodbye on shutdown may take
PAGE_POLICY = (  # the page may run its own script files, and nothing inline
    "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

# Every open chat, and the connection under it, so that a stuck one can be cut off.
chats = web.AppKey(
    "chats", weakref.WeakKeyDictionary[web.WebSocketResponse, asyncio.Transport]
)
shared_rng = web.AppKey("shared_rng", random.Random)  # the robots' dice
date_seed = web.AppKey("date_seed", int)  # set by --seed: every date goes the same way
heartbeat = web.AppKey("heartbeat", float)


class ChatWebSocket(web.WebSocketResponse):
    """aiohttp's, with one fix: a finished chat does not restart its heartbeat.

    In aiohttp 3.14.5, the client's answer to our closing frame restarts the
    heartbeat timer, and the timer keeps the finished chat in memory for 30-45 s.
    """

    async def close(
        self, *, code: int = WSCloseCode.OK, message: bytes = b"", drain: bool = True
    ) -> bool:
        if not self.prepared:  # the client left during the handshake: nothing to close
            return False
        self._heartbeat = None  # no pings after goodbye, and no timer to restart
        return await super().close(code=code, message=message, drain=drain)


async def date(request: web.Request, robot: Robot) -> web.WebSocketResponse:
    """Chat with one robot: it greets first, then answers every message."""
    if is_cross_site(request):
        raise web.HTTPForbidden(text="WebSocket connections from other sites are off.")
    ws = ChatWebSocket(
        heartbeat=request.app[heartbeat],
        max_msg_size=MAX_MESSAGE_BYTES,
        compress=False,  # short lines gain nothing from it, and it costs memory
    )
    try:
        await ws.prepare(request)  # the handshake: from here on, this is a WebSocket
        if request.transport is not None:  # None if the client has left already
            request.app[chats][ws] = request.transport
        conversation = Conversation(robot, rng_for_a_date(request.app))
        await ws.send_str(robot.greeting)
        async for msg in ws:  # a CLOSE from the client ends the loop
            if msg.type is WSMsgType.TEXT:
                await ws.send_str(conversation.reply_to(msg.data))
                if conversation.is_over:
                    await ws.close(message=b"goodbye")
            elif msg.type is WSMsgType.BINARY:
                await ws.send_str(conversation.answer_binary())
            elif msg.type is WSMsgType.ERROR:  # aiohttp has already closed the chat
                logging.warning("chat ended with an error: %s", ws.exception())
    except ConnectionResetError:  # also aiohttp's ClientConnectionResetError
        logging.warning("chat ended: the connection was lost")
    return ws


async def home(request: web.Request) -> web.StreamResponse:
    """Browsers get the web page; WebSocket clients get a blind date."""
    if not web.WebSocketResponse().can_prepare(request):
        return web.FileResponse(STATIC / "index.html")
    return await date(request, rng_for_a_date(request.app).choice(ROBOTS))


async def robot_chat(request: web.Request) -> web.WebSocketResponse:
    """A date with the robot that the URL names."""
    slug = request.match_info["slug"]
    robot = next((robot for robot in ROBOTS if robot.slug == slug), None)
    if robot is None:
        names = ", ".join(robot.slug for robot in ROBOTS)
        raise web.HTTPNotFound(text=f"No robot called {slug!r} here. Try: {names}.")
    if not web.WebSocketResponse().can_prepare(request):
        raise web.HTTPUpgradeRequired(
            headers={hdrs.UPGRADE: "websocket", hdrs.SEC_WEBSOCKET_VERSION: "13"},
            text=f"This address is for WebSocket clients: try wsdump "
            f"ws://{request.host}{request.path}, or open http://{request.host}/ "
            "to chat in your browser.",
        )
    return await date(request, robot)


def rng_for_a_date(app: web.Application) -> random.Random:
    """With --seed, every date gets dice seeded alike, so every date repeats."""
    if date_seed in app:
        return random.Random(app[date_seed])
    return app[shared_rng]  # 2.5 KB of state: one set for all dates is plenty


async def profiles(request: web.Request) -> web.Response:
    """Every robot's profile, for the web page and the curious."""
    return web.json_response([robot.profile() for robot in ROBOTS])


def is_cross_site(request: web.Request) -> bool:
    """True when a page from another site opens the WebSocket (CSWSH).

    Browsers always send Origin; command-line clients may send none, and that's fine.
    The Origin must name the host and port the browser asked for in Host, where a
    Host without a port means the default one (80 or 443). The scheme is not
    compared: behind a proxy that speaks https to browsers, the app sees http.
    """
    origin = request.headers.get(hdrs.ORIGIN)
    if origin is None:
        return False
    try:
        page, site = URL(origin), URL(f"//{request.host}")
    except ValueError:  # not a URL at all: no browser sends that
        return True
    default_port = {"http": 80, "https": 443}.get(page.scheme)
    return not page.host or (page.host, page.port) != (
        site.host,
        site.explicit_port or default_port,
    )


async def add_security_headers(
    request: web.Request, response: web.StreamResponse
) -> None:
    """Every response: no MIME sniffing. Every page: the policy for its scripts."""
    response.headers["X-Content-Type-Options"] = "nosniff"
    if response.content_type == "text/html":
        response.headers["Content-Security-Policy"] = PAGE_POLICY


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


def cut_off(transport: asyncio.Transport) -> None:
    """Drop a connection now. A TCP reset (SO_LINGER 0) frees the kernel's unsent data
    too: a plain close would keep it for minutes, trying to reach a peer not reading.
    """
    with contextlib.suppress(
        OSError, ValueError
    ):  # closed already (uvloop: ValueError)
        sock = transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


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


def create_app(
    *, seed: int | None = None, heartbeat_seconds: float = 30
) -> web.Application:
    """Build the app; with a `seed`, every date goes the same way."""
    app = web.Application()
    app[chats] = weakref.WeakKeyDictionary()
    app[shared_rng] = random.Random()
    if seed is not None:
        app[date_seed] = seed
    app[heartbeat] = heartbeat_seconds  # a peer that misses a ping is dropped
    app.on_response_prepare.append(add_security_headers)
    app.cleanup_ctx.append(cut_off_stuck_clients)
    app.on_shutdown.append(close_websockets)
    app.add_routes(
        [
            web.get("/", home),
            web.get("/robots", profiles),
            web.get("/robots/{slug}", robot_chat),
            web.static("/static", STATIC),
        ]
    )
    return app
