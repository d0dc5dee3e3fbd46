"""The baseline: a bare aiohttp echo with the defences' heartbeat and size limit.

    python -m bench.aiohttp_echo --port 8081

It keeps the settings of step5_internet/defences.py, which every later stage copies.
What this costs per message is what aiohttp itself costs with them; all that a stage
from 5 on costs above it is the stage's own code. It runs on asyncio's own event
loop, as `python -m step9_redis` does.
"""

import argparse

from aiohttp import WSMsgType, web

HEARTBEAT_SECONDS = 30  # the stages': a ping when a chat has been quiet this long
MAX_MESSAGE_BYTES = 4096  # defences.py's: this long or longer closes with 1009


async def echo(request: web.Request) -> web.WebSocketResponse:
    """Send every text message straight back."""
    ws = web.WebSocketResponse(
        heartbeat=HEARTBEAT_SECONDS, max_msg_size=MAX_MESSAGE_BYTES
    )
    await ws.prepare(request)
    async for msg in ws:
        if msg.type is WSMsgType.TEXT:
            await ws.send_str(msg.data)
    return ws


def create_app() -> web.Application:
    app = web.Application()
    app.add_routes([web.get("/", echo)])
    return app


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    web.run_app(create_app(), host=args.host, port=args.port)
