"""Stage 9: a party for robots and their guests, on one process or many."""

import logging
import random
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import WSMsgType, hdrs, web
from yarl import URL

from .conversation import Conversation, Robot
from .defences import chats, protect
from .floods import MESSAGES_PER_SECOND, MeteredWebSocket, protect_from_floods
from .party import InProcessLine, PartyLine, Room, text_frame
from .redis_line import RedisLine
from .robots import ROBOTS

STATIC = Path(__file__).parent / "static"
PAGE_POLICY = (  # the page may run its own script files, and nothing inline
    "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

shared_rng = web.AppKey("shared_rng", random.Random)  # the robots' dice
date_seed = web.AppKey("date_seed", int)  # set by --seed: every date goes the same way
party_room = web.AppKey("party_room", Room)


async def date(request: web.Request, robot: Robot) -> web.WebSocketResponse:
    """Chat with one robot: it greets first, then answers every message."""
    if is_cross_site(request):
        raise web.HTTPForbidden(text="WebSocket connections from other sites are off.")
    ws = MeteredWebSocket(request)
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
        raise upgrade_required(request)
    return await date(request, robot)


async def party(request: web.Request) -> web.WebSocketResponse:
    """The party: every guest hears every line, and robots answer to their names."""
    if not web.WebSocketResponse().can_prepare(request):
        raise upgrade_required(request)
    if is_cross_site(request):
        raise web.HTTPForbidden(text="WebSocket connections from other sites are off.")
    ws = MeteredWebSocket(request)
    room = request.app[party_room]
    guest = await room.arrive(request.query.get("name", ""), ws)  # or 400/409
    try:
        await ws.prepare(request)
        if request.transport is None:  # the guest has left already
            return ws
        request.app[chats][ws] = request.transport
        guest.transport = request.transport  # from now on, lines for them are sent
        await room.say(f"* {guest.name} joined the party", guest)
        async for msg in ws:
            if msg.type is WSMsgType.TEXT:
                await room.speak(guest, msg.data)
            elif msg.type is WSMsgType.BINARY:
                room.post(text_frame("* text only, please"), guest)
            elif msg.type is WSMsgType.ERROR:  # aiohttp has already closed the chat
                logging.warning("chat ended with an error: %s", ws.exception())
    except ConnectionResetError:  # also aiohttp's ClientConnectionResetError
        logging.warning("chat ended: the connection was lost")
    finally:
        await room.leave(guest)
    return ws


async def profiles(request: web.Request) -> web.Response:
    """Every robot's profile, for the web page and the curious."""
    return web.json_response([robot.profile() for robot in ROBOTS])


def upgrade_required(request: web.Request) -> web.HTTPUpgradeRequired:
    """426 for a plain HTTP request to a chat address, and what to do instead."""
    return web.HTTPUpgradeRequired(
        headers={hdrs.UPGRADE: "websocket", hdrs.SEC_WEBSOCKET_VERSION: "13"},
        text=f"This address is for WebSocket clients: try wsdump "
        f"ws://{request.host}{request.path}, or open http://{request.host}/ "
        "to chat in your browser.",
    )


def rng_for_a_date(app: web.Application) -> random.Random:
    """With --seed, every date gets dice seeded alike, so every date repeats."""
    if date_seed in app:
        return random.Random(app[date_seed])
    return app[shared_rng]  # 2.5 KB of state: one set for all dates is plenty


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


async def host_the_party(app: web.Application) -> AsyncIterator[None]:
    """Open the party line before the first guest arrives; close it after the last."""
    async with app[party_room]:
        yield


def create_app(
    *,
    seed: int | None = None,
    heartbeat_seconds: float = 30,
    messages_per_second: float = MESSAGES_PER_SECOND,
    redis_url: str | None = None,
) -> web.Application:
    """Build the app; a `seed` makes dates repeat; a `redis_url` shares the party."""
    app = web.Application()
    protect(app, heartbeat_seconds=heartbeat_seconds)
    protect_from_floods(app, messages_per_second=messages_per_second)
    line: PartyLine = RedisLine(redis_url) if redis_url else InProcessLine()
    app[party_room] = Room(line, random.Random(seed))
    app[shared_rng] = random.Random()
    if seed is not None:
        app[date_seed] = seed
    app.on_response_prepare.append(add_security_headers)
    app.cleanup_ctx.append(host_the_party)
    app.add_routes(
        [
            web.get("/", home),
            web.get("/robots", profiles),
            web.get("/robots/{slug}", robot_chat),
            web.get("/party", party),
            web.static("/static", STATIC),
        ]
    )
    return app
