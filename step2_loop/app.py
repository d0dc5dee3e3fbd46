"""Stage 2: a WebSocket handler that loops and answers every message.

A teaching stage: to put robots on the internet, start from step5_internet.
"""

import asyncio
import logging
import weakref

from aiohttp import WSCloseCode, WSMsgType, web

GOODBYE_SECONDS = 1  # how long a goodbye on shutdown may take

# Every open chat, and the connection under it, so that a stuck one can be cut off.
chats = web.AppKey(
    "chats", weakref.WeakKeyDictionary[web.WebSocketResponse, asyncio.Transport]
)


async def hello(request: web.Request) -> web.WebSocketResponse:
    """Answer every text message until the client leaves."""
    ws = web.WebSocketResponse()
    await ws.prepare(request)  # the handshake: from here on, this is a WebSocket
    if request.transport is not None:  # None if the client has left already
        request.app[chats][ws] = request.transport
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
        transport.abort()  # does nothing to a connection that closed already


def create_app() -> web.Application:
    """Build the app; tests call this without starting a server."""
    app = web.Application()
    app[chats] = weakref.WeakKeyDictionary()
    app.on_shutdown.append(close_websockets)
    app.add_routes([web.get("/", hello)])
    return app
