"""Stage 1: a WebSocket handler that answers one message, then returns.

A teaching stage: to put robots on the internet, start from step5_internet.
"""

from aiohttp import WSMsgType, web


async def hello(request: web.Request) -> web.WebSocketResponse:
    """Wait for one message, answer it, and hang up."""
    ws = web.WebSocketResponse()
    await ws.prepare(request)  # the handshake: from here on, this is a WebSocket
    msg = await ws.receive()  # wait for the first message
    if msg.type is WSMsgType.TEXT:  # not a client that left without a word
        await ws.send_str("hello world!")
    return ws  # returning ends the chat: aiohttp closes it with code 1000


def create_app() -> web.Application:
    """Build the app; tests call this without starting a server."""
    app = web.Application()
    app.add_routes([web.get("/", hello)])
    return app
