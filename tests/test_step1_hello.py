"""Stage 1: the handler answers one message with "hello world!", then hangs up."""

import pytest
from aiohttp import WSMsgType

from tests.wsclient import chat, receive_close

pytestmark = pytest.mark.stage("step1_hello")


async def test_answers_the_first_message_with_hello_world(client) -> None:
    """The server should answer the first message with "hello world!"."""
    async with client.ws_connect("/") as ws:
        await ws.send_str("hello!")
        reply = await ws.receive_str(timeout=5)
        assert reply == "hello world!", f"the reply was {reply!r}"


async def test_hangs_up_with_1000_after_the_reply(client) -> None:
    """After its one reply, the server should close the chat with code 1000."""
    async with client.ws_connect("/") as ws:
        await ws.send_str("hello!")
        await ws.receive_str(timeout=5)
        msg = await ws.receive(timeout=5)
        assert msg.type is WSMsgType.CLOSE
        assert ws.close_code == 1000


async def test_greets_every_new_client(client) -> None:
    """The server should keep serving: each new client gets its own reply."""
    for greeting in ("hello!", "hi again!"):
        async with client.ws_connect("/") as ws:
            await ws.send_str(greeting)
            assert await ws.receive_str(timeout=5)


async def test_plain_http_get_gets_400(client) -> None:
    """A browser opening the WebSocket URL should get aiohttp's 400, not a crash."""
    response = await client.get("/")
    assert response.status == 400
    assert "No WebSocket UPGRADE hdr" in await response.text()


def test_real_server_answers_then_closes(server) -> None:
    """`python -m step1_hello` should answer one message and close with 1000."""
    with chat(server.url) as ws:
        ws.send("hello!")
        assert ws.recv()
        assert receive_close(ws) == (1000, "")


def test_real_server_stops_on_ctrl_c(server) -> None:
    """With no chat open, Ctrl+C should stop the server cleanly (exit code 0)."""
    with chat(server.url) as ws:
        ws.send("hello!")
        ws.recv()
    assert server.stop() == 0


def test_a_client_that_leaves_without_a_word_is_no_error(server) -> None:
    """A client that hangs up before its first message should leave no traceback."""
    with chat(server.url) as ws:
        ws.close()
    with chat(server.url) as ws:
        ws.sock.close()  # pull the plug: no close frame
    with chat(server.url) as ws:
        ws.send("hello?")
        assert ws.recv()
    server.stop()  # let the handlers finish; the fixture then checks the log
