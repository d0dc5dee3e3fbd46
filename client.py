"""A small WebSocket client: python client.py ws://localhost:8080/robots/ada

It prints each frame the server sends as `wsdump -v` does, plus what wsdump leaves
out: the close code and reason (`close: 1001 server shutdown`). Each line you type
is sent as a text message, except these, which send what a polite client never would:

    /binary      a binary frame            /big N     a text message of N letters
    /empty       an empty text message     /bad-utf8  a text frame that is not UTF-8

It ends when the server closes the chat, on Ctrl+C, or a second after your input ends.
If the server refuses the chat, it shows the server's answer: the status and its text.
"""

import asyncio
import contextlib
import sys
import threading

from aiohttp import (
    ClientConnectionError,
    ClientSession,
    ClientWebSocketResponse,
    WSMsgType,
    WSServerHandshakeError,
    hdrs,
)


async def print_frames(ws: ClientWebSocketResponse) -> None:
    """Print every frame from the server, up to its close frame."""
    while True:
        msg = await ws.receive()
        if msg.type is WSMsgType.TEXT:
            print(f"text: {msg.data}")
        elif msg.type is WSMsgType.BINARY:
            print(f"binary: {msg.data!r}")
        elif msg.type is WSMsgType.PING:  # the server's heartbeat: are you there?
            print("ping:")
            await ws.pong(msg.data)
        elif msg.type is WSMsgType.CLOSE:  # aiohttp has already answered it
            print(f"close: {msg.data} {msg.extra}".rstrip())
            return
        else:  # CLOSING (we close first), CLOSED or ERROR: nothing more will come
            return


async def send(ws: ClientWebSocketResponse, line: str) -> None:
    """Send one line you typed: a text message, or one of the commands above."""
    command, _, argument = line.partition(" ")
    if command == "/binary":
        await ws.send_bytes(b"\x00\x01\x02")
    elif command == "/empty":
        await ws.send_str("")
    elif command == "/big":
        await ws.send_str("x" * int(argument or 5000))
    elif command == "/bad-utf8":  # send_str would encode it properly: go one level down
        await ws.send_frame(b"caf\xe9", WSMsgType.TEXT)  # Latin-1 bytes, not UTF-8
    else:
        await ws.send_str(line)


def read_input(lines: asyncio.Queue[str | None]) -> None:
    """Read stdin in a thread (the portable way), and pass each line to the loop."""
    loop = asyncio.get_running_loop()

    def read() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(lines.put_nowait, line.rstrip("\n"))
        loop.call_soon_threadsafe(lines.put_nowait, None)  # the end of your input

    threading.Thread(target=read, daemon=True).start()


async def send_lines(ws: ClientWebSocketResponse) -> None:
    """Send each line you type, until your input ends or the chat does."""
    lines: asyncio.Queue[str | None] = asyncio.Queue()
    read_input(lines)
    while (line := await lines.get()) is not None:
        try:
            await send(ws, line)
        except ConnectionError:  # the server closed the chat while you typed
            return


async def chat(url: str) -> None:
    async with ClientSession() as session:
        async with session.ws_connect(url, autoping=False) as ws:
            frames = asyncio.create_task(print_frames(ws))
            typing = asyncio.create_task(send_lines(ws))
            await asyncio.wait([frames, typing], return_when=asyncio.FIRST_COMPLETED)
            await asyncio.wait([frames], timeout=1)  # time for the last replies
            typing.cancel()
            if not frames.done():  # your input ended and the chat goes on: close it
                await ws.close()
                print(f"close: {ws.close_code}")  # the server's answer to our 1000
            await frames


async def refusal(url: str) -> str:
    """Why the server said no. ws_connect's error has the status but not the text
    that explains it, so ask again, as ws_connect does, and read the whole answer.
    """
    handshake = {
        hdrs.UPGRADE: "websocket",
        hdrs.CONNECTION: "Upgrade",
        hdrs.SEC_WEBSOCKET_VERSION: "13",
        hdrs.SEC_WEBSOCKET_KEY: "dGhlIHNhbXBsZSBub25jZQ==",  # RFC 6455's example key
    }
    async with ClientSession() as session:
        async with session.get(url, headers=handshake) as answer:
            if answer.status == 101:  # a yes this time: a party name came free, say
                return "The server said no, then yes: try again."
            text = await answer.text(errors="replace")
            return f"No chat: the server said {answer.status} {answer.reason}.\n{text}"


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(chat(sys.argv[1]))
    except WSServerHandshakeError:  # e.g. 404 for a robot that isn't there
        sys.exit(asyncio.run(refusal(sys.argv[1])))
    except ClientConnectionError as error:
        sys.exit(f"{error}. Is the server running?")
