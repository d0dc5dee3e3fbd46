"""Stage 3: a dating app for robots, with profiles, chats and a web page."""

import asyncio
import logging
import random
import weakref
from pathlib import Path

from aiohttp import WSCloseCode, WSMsgType, hdrs, web
from yarl import URL

from .conversation import Conversation, Robot
from .robots import ROBOTS

STATIC = Path(__file__).parent / "static"
MAX_MESSAGE_BYTES = 4096  # a message this long or longer closes the chat with 1009
PAGE_HEADERS = {  # the page may run its own script files, and nothing inline
    "Content-Security-Policy": "default-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
}

websockets = web.AppKey("websockets", weakref.WeakSet[web.WebSocketResponse])
rng = web.AppKey("rng", random.Random)
heartbeat = web.AppKey("heartbeat", float)


async def date(request: web.Request, robot: Robot) -> web.WebSocketResponse:
    """Chat with one robot: it greets first, then answers every message."""
    if is_cross_site(request):
        raise web.HTTPForbidden(text="WebSocket connections from other sites are off.")
    ws = web.WebSocketResponse(
        heartbeat=request.app[heartbeat], max_msg_size=MAX_MESSAGE_BYTES
    )
    await ws.prepare(request)  # the handshake: from here on, this is a WebSocket
    request.app[websockets].add(ws)
    conversation = Conversation(robot, request.app[rng])
    await ws.send_str(robot.greeting)
    async for msg in ws:  # a CLOSE from the client ends the loop; it never arrives here
        if msg.type is WSMsgType.TEXT:
            await ws.send_str(conversation.reply_to(msg.data))
            if conversation.is_over:
                await ws.close(message=b"goodbye")
        elif msg.type is WSMsgType.BINARY:
            await ws.send_str(conversation.answer_binary())
        elif msg.type is WSMsgType.ERROR:  # aiohttp has already closed the connection
            logging.warning("chat ended with an error: %s", ws.exception())
    return ws


async def home(request: web.Request) -> web.StreamResponse:
    """Browsers get the web page; WebSocket clients get a blind date."""
    if not web.WebSocketResponse().can_prepare(request):
        return web.FileResponse(STATIC / "index.html", headers=PAGE_HEADERS)
    return await date(request, request.app[rng].choice(ROBOTS))


async def robot_chat(request: web.Request) -> web.WebSocketResponse:
    """A date with the robot that the URL names."""
    slug = request.match_info["slug"]
    robot = next((robot for robot in ROBOTS if robot.slug == slug), None)
    if robot is None:
        names = ", ".join(robot.slug for robot in ROBOTS)
        raise web.HTTPNotFound(text=f"No robot called {slug!r} here. Try: {names}.")
    if not web.WebSocketResponse().can_prepare(request):
        raise web.HTTPUpgradeRequired(
            headers={hdrs.UPGRADE: "websocket"},
            text=f"This address is for WebSocket clients: try wsdump "
            f"ws://{request.host}{request.path}, or open http://{request.host}/ "
            "to chat in your browser.",
        )
    return await date(request, robot)


async def profiles(request: web.Request) -> web.Response:
    """Every robot's profile, for the web page and the curious."""
    return web.json_response([robot.profile() for robot in ROBOTS])


def is_cross_site(request: web.Request) -> bool:
    """True when a page from another site opens the WebSocket (CSWSH).

    Browsers always send Origin; command-line clients may send none, and that's fine.
    """
    origin = request.headers.get(hdrs.ORIGIN)
    return origin is not None and URL(origin).authority != request.host


async def close_websockets(app: web.Application) -> None:
    """On Ctrl+C, say goodbye (1001) to every open chat instead of waiting for them."""
    goodbyes = [
        ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")
        for ws in app[websockets]
    ]
    await asyncio.gather(*goodbyes)


def create_app(
    *, seed: int | None = None, heartbeat_seconds: float = 30
) -> web.Application:
    """Build the app; `seed` makes the robots' choices repeatable."""
    app = web.Application()
    app[websockets] = weakref.WeakSet()
    app[rng] = random.Random(seed)
    app[heartbeat] = heartbeat_seconds  # a peer that misses a ping is dropped
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
