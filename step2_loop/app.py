"""Stage 2: a WebSocket handler that loops and answers every message."""

import asyncio
import logging
import weakref

from aiohttp import WSCloseCode, WSMsgType, web

websockets = web.AppKey("websockets", weakref.WeakSet[web.WebSocketResponse])


async def hello(request: web.Request) -> web.WebSocketResponse:
    """Answer every text message until the client leaves."""
    ws = web.WebSocketResponse()
    await ws.prepare(request)  # the handshake: from here on, this is a WebSocket
    request.app[websockets].add(ws)
    async for msg in ws:  # a CLOSE from the client ends the loop; it never arrives here
        if msg.type is WSMsgType.TEXT:
            await ws.send_str("hello world!")
        elif msg.type is WSMsgType.BINARY:
            await ws.close(
                code=WSCloseCode.UNSUPPORTED_DATA, message=b"text only, please"
            )
        elif msg.type is WSMsgType.ERROR:  # aiohttp has already closed the connection
            logging.warning("chat ended with an error: %s", ws.exception())
    return ws


async def close_websockets(app: web.Application) -> None:
    """On Ctrl+C, say goodbye (1001) to every open chat instead of waiting for them."""
    goodbyes = [
        ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")
        for ws in app[websockets]
    ]
    await asyncio.gather(*goodbyes)


def create_app() -> web.Application:
    """Build the app; tests call this without starting a server."""
    app = web.Application()
    app[websockets] = weakref.WeakSet()
    app.on_shutdown.append(close_websockets)
    app.add_routes([web.get("/", hello)])
    return app
