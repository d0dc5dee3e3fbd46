"""Stage 2: the handler loops, answers every message, and says goodbye on Ctrl+C."""

import asyncio
import signal

import pytest
import websocket
from aiohttp import WSMsgType

from tests.wsclient import chat, flood_without_reading, receive_close

pytestmark = pytest.mark.stage("step2_loop")
NO_GOODBYE = (
    "expected close code 1001 within 5 s of the shutdown, and none came: "
    "is every chat kept where on_shutdown finds it?"
)


async def test_answers_every_message(client) -> None:
    """The server should keep the connection open after the first reply."""
    async with client.ws_connect("/") as ws:
        for text in ("hello!", "nice to meet you!", "still there?"):
            await ws.send_str(text)
            assert await ws.receive_str(timeout=5)


async def test_every_reply_is_hello_world(client) -> None:
    """The server should answer each message with "hello world!"."""
    async with client.ws_connect("/") as ws:
        for text in ("hello!", "nice to meet you!"):
            await ws.send_str(text)
            reply = await ws.receive_str(timeout=5)
            assert reply == "hello world!", f"the reply to {text!r} was {reply!r}"


async def test_client_close_ends_the_chat_with_1000(client) -> None:
    """When the client says goodbye, the server should answer with code 1000."""
    async with client.ws_connect("/") as ws:
        await ws.send_str("hello!")
        await ws.receive_str(timeout=5)
        await ws.close()
        assert ws.close_code == 1000


async def test_binary_frame_is_refused_with_1003(client) -> None:
    """Binary data should close the chat with 1003 and a reason: text only."""
    async with client.ws_connect("/") as ws:
        await ws.send_bytes(b"\x00\x01")
        msg = await ws.receive(timeout=5)
        assert msg.type is WSMsgType.CLOSE
        assert (msg.data, msg.extra) == (1003, "text only, please")


async def test_shutdown_says_goodbye_with_1001(client) -> None:
    """When the server shuts down, every open chat should get close code 1001."""
    async with client.ws_connect("/") as first, client.ws_connect("/") as second:
        for ws in (first, second):
            await ws.send_str("hello!")
            await ws.receive_str(timeout=5)
        shutdown = asyncio.ensure_future(client.server.close())
        try:
            goodbyes = await asyncio.gather(
                *(ws.receive(timeout=5) for ws in (first, second))
            )
        except asyncio.TimeoutError:
            pytest.fail(NO_GOODBYE)
        await shutdown
        for msg in goodbyes:
            assert msg.type is WSMsgType.CLOSE
            assert (msg.data, msg.extra) == (1001, "server shutdown")


def test_real_server_answers_every_message(server) -> None:
    """`python -m step2_loop` should answer message after message."""
    with chat(server.url) as ws:
        for text in ("hello!", "nice to meet you!"):
            ws.send(text)
            assert ws.recv()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "term"])
def test_real_server_stops_at_once_with_chats_open(server, sig) -> None:
    """Ctrl+C with chats open should send each one 1001 and end the process."""
    with chat(server.url) as first, chat(server.url) as second:
        first.send("hello!")
        first.recv()
        server.process.send_signal(sig)
        for ws in (first, second):
            ws.settimeout(5)  # ours says goodbye at once; don't wait long for a copy
            try:
                assert receive_close(ws) == (1001, "server shutdown")
            except websocket.WebSocketTimeoutException:
                pytest.fail(NO_GOODBYE)
    # Without the goodbye in on_shutdown, this wait would last about two minutes.
    assert server.process.wait(timeout=10) == 0


def test_invalid_utf8_is_closed_with_1007(server) -> None:
    """Broken text should close the chat with 1007 and a warning, not a traceback."""
    with chat(server.url) as ws:
        ws.send(b"\xff\xfe not utf-8", opcode=websocket.ABNF.OPCODE_TEXT)
        code, _reason = receive_close(ws)
    assert code == 1007
    server.stop()  # let the handler finish before reading its log
    assert "chat ended with an error" in server.log()


def test_client_that_vanishes_is_forgotten(server) -> None:
    """A client that drops without a close frame should not disturb the next one."""
    with chat(server.url) as ws:
        ws.send("hello!")
        ws.recv()
        ws.sock.close()  # pull the plug: no close frame
    with chat(server.url) as ws:
        ws.send("anyone there?")
        assert ws.recv()


def test_ctrl_c_ends_the_server_with_a_client_that_never_reads(server) -> None:
    """A goodbye never waits forever: a client that stopped reading is cut off."""
    stuck = flood_without_reading(server.port)
    with chat(server.url) as polite:
        polite.send("hello!")
        polite.recv()
        server.process.send_signal(signal.SIGINT)
        assert receive_close(polite) == (1001, "server shutdown")
    assert server.process.wait(timeout=5) == 0
    stuck.close()
