"""Stage 3: robots with profiles that greet, chat, say goodbye, and handle bad input.

Most tests run twice: against the app in this process, and against the real server
started with `python -m step3_robots`. Both are reached through aiohttp's client.
"""

import asyncio
import contextlib
import gc
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import websocket
from aiohttp import ClientSession, TCPConnector, WSMsgType

from harness import ROOT, Server, free_port, server_command
from tests.wsclient import (
    chat,
    flood_without_reading,
    ping_frame,
    raw_websocket,
    receive_close,
    reset,
    text_frame,
)

pytestmark = pytest.mark.stage("step3_robots")


@pytest.fixture(params=["in-process", "real-server"])
async def site(request, aiohttp_client, app_module) -> AsyncIterator[ClientSession]:
    """A client for the stage: both kinds have .get(path) and .ws_connect(path)."""
    if request.param == "in-process":
        yield await aiohttp_client(app_module.create_app())
    else:
        server: Server = request.getfixturevalue("server")
        async with ClientSession(base_url=server.http_url) as session:
            yield session


async def close_code(ws) -> int:
    """Wait for the server's close frame and return its code."""
    msg = await ws.receive(timeout=5)
    assert msg.type is WSMsgType.CLOSE, msg
    return msg.data


async def robot_profiles(site) -> list[dict]:
    async with site.get("/robots") as response:
        assert response.status == 200
        return await response.json()


async def test_profiles_list_at_least_four_robots(site) -> None:
    """GET /robots should list every robot with its profile."""
    profiles = await robot_profiles(site)
    assert len(profiles) >= 4
    for profile in profiles:
        assert {"slug", "name", "tagline", "age", "likes", "dislikes"} <= set(profile)
        assert "looking_for" in profile
    assert len({profile["slug"] for profile in profiles}) == len(profiles)


async def test_every_robot_greets_first_and_says_its_name(site) -> None:
    """Each robot should greet first, and answer "What is your name?" with it."""
    for profile in await robot_profiles(site):
        async with site.ws_connect(f"/robots/{profile['slug']}") as ws:
            assert await ws.receive_str()  # the greeting
            await ws.send_str("What is your name?")
            assert profile["name"] in await ws.receive_str()


async def test_every_message_gets_exactly_one_reply(site) -> None:
    """Each text message should get one text reply, and the chat stays open."""
    async with site.ws_connect("/robots/ada", autoping=False) as ws:
        await ws.receive_str()  # the greeting
        for text in ("hello!", "how are you?", "tell me a joke", "qwerty"):
            await ws.send_str(text)
            assert await ws.receive_str()
            # The server answers a ping after everything it sent before it, so a
            # second reply to the same message would arrive here instead of PONG.
            await ws.ping()
            assert (await ws.receive(timeout=5)).type is WSMsgType.PONG
        assert not ws.closed


async def test_blind_date_on_the_root_url(site) -> None:
    """ws://host/ should be a blind date with some robot, as in stages 1 and 2."""
    async with site.ws_connect("/") as ws:
        assert await ws.receive_str()
        await ws.send_str("hello!")
        assert await ws.receive_str()


async def test_browsers_get_a_page_on_the_root_url(site) -> None:
    """GET / without an upgrade should serve the HTML page, locked down by a CSP."""
    async with site.get("/") as response:
        assert response.status == 200
        assert response.content_type == "text/html"
        policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "unsafe-inline" not in policy


async def test_unknown_robot_gets_404_naming_the_robots(site) -> None:
    """An unknown slug should get 404 before any upgrade, listing who exists."""
    async with site.get("/robots/nobody") as response:
        assert response.status == 404
        text = await response.text()
    for profile in await robot_profiles(site):
        assert profile["slug"] in text


async def test_chat_url_in_a_browser_gets_426_with_help(site) -> None:
    """A plain GET on a chat URL should explain itself (426), not a bare 400."""
    async with site.get("/robots/ada") as response:
        assert response.status == 426
        assert "WebSocket" in await response.text()


@pytest.mark.parametrize("goodbye", ["bye", "Goodbye!", "ok, see you later", "ciao"])
async def test_goodbye_gets_a_farewell_then_close_1000(site, goodbye) -> None:
    """Saying "bye" should get the robot's farewell, then a close with 1000."""
    async with site.ws_connect("/robots/bolt") as ws:
        await ws.receive_str()
        await ws.send_str(goodbye)
        assert await ws.receive_str()
        assert await close_code(ws) == 1000


async def test_binary_frame_gets_a_text_reply_and_the_chat_goes_on(site) -> None:
    """Bytes should get a text answer in character, and the chat stays open."""
    async with site.ws_connect("/robots/clank") as ws:
        await ws.receive_str()
        await ws.send_bytes(b"\x00\xff")
        assert await ws.receive_str()
        await ws.send_str("hello?")
        assert await ws.receive_str()


@pytest.mark.parametrize("text", ["", "   ", "\n\t"], ids=["empty", "spaces", "blank"])
async def test_empty_message_gets_a_reply(site, text) -> None:
    """An empty or blank message should still get an answer."""
    async with site.ws_connect("/robots/dusty") as ws:
        await ws.receive_str()
        await ws.send_str(text)
        assert (await ws.receive_str()).strip()


async def test_oversized_message_closes_with_1009(site) -> None:
    """A message of 4 KiB or more should close the chat with 1009 (too big)."""
    async with site.ws_connect("/robots/ada") as ws:
        await ws.receive_str()
        await ws.send_str("x" * 4096)
        assert await close_code(ws) == 1009


async def test_a_message_just_under_4_kib_is_fine(site) -> None:
    """A message of 4095 bytes, just under the limit, still gets a reply."""
    async with site.ws_connect("/robots/ada") as ws:
        await ws.receive_str()
        await ws.send_str("x" * 4095)
        assert await ws.receive_str()


async def test_foreign_origin_gets_403(site) -> None:
    """A page from another site must not open a chat (WebSocket hijacking)."""
    async with site.get(
        "/robots/ada",
        headers={
            "Origin": "http://evil.example",
            "Connection": "Upgrade",
            "Upgrade": "websocket",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        },
    ) as response:
        assert response.status == 403


async def test_same_origin_is_welcome(site) -> None:
    """The app's own page, with an Origin of the same host, may chat."""
    async with site.get("/") as response:
        origin = str(response.url.origin())  # e.g. http://127.0.0.1:8080
    async with site.ws_connect("/robots/ada", origin=origin) as ws:
        assert await ws.receive_str()


async def test_dead_peer_is_dropped_by_the_heartbeat(
    aiohttp_client, app_module
) -> None:
    """A client that stops answering pings should be disconnected."""
    client = await aiohttp_client(app_module.create_app(heartbeat_seconds=0.2))
    async with client.ws_connect("/robots/ada", autoping=False) as ws:
        await ws.receive_str()
        types: list[WSMsgType] = []
        while not types or types[-1] is WSMsgType.PING:
            types.append((await ws.receive(timeout=5)).type)
        assert types[-1] in (WSMsgType.CLOSE, WSMsgType.CLOSED)


async def test_same_seed_means_the_same_date(aiohttp_client, app_module) -> None:
    """create_app(seed=...) should make every date repeatable, not just the first."""
    client = await aiohttp_client(app_module.create_app(seed=7))
    transcripts = []
    for _ in range(2):  # two dates, one after the other, on the same server
        async with client.ws_connect("/") as ws:
            lines = [await ws.receive_str()]
            for text in ("hi", "hi", "joke?", "tell me a joke", "hmm", "my name is Al"):
                await ws.send_str(text)
                lines.append(await ws.receive_str())
        transcripts.append(lines)
    assert transcripts[0] == transcripts[1]


def test_invalid_utf8_closes_with_1007(server) -> None:
    """Broken text should close the chat with 1007, and the server logs one line."""
    with chat(f"{server.url}/robots/ada") as ws:
        ws.recv()
        ws.send(b"\xff\xfe not utf-8", opcode=websocket.ABNF.OPCODE_TEXT)
        code, _reason = receive_close(ws)
    assert code == 1007
    server.stop()  # let the handler finish before reading its log
    assert "chat ended with an error" in server.log()


def test_client_that_vanishes_is_cleaned_up(server) -> None:
    """A client gone without a close frame should not disturb the next one."""
    for _ in range(3):
        with chat(f"{server.url}/robots/bolt") as ws:
            ws.recv()
            ws.sock.close()  # pull the plug: no close frame
    with chat(f"{server.url}/robots/bolt") as ws:
        assert ws.recv()
        ws.send("hello?")
        assert ws.recv()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "term"])
def test_shutdown_closes_every_chat_with_1001(server, sig) -> None:
    """Ctrl+C or SIGTERM should send every chat 1001 with a reason, then exit."""
    with chat(f"{server.url}/robots/ada") as ada, chat(server.url) as blind_date:
        ada.recv()
        blind_date.recv()
        server.process.send_signal(sig)
        assert receive_close(ada) == (1001, "server shutdown")
        assert receive_close(blind_date) == (1001, "server shutdown")
    assert server.process.wait(timeout=5) == 0


async def test_300_chats_at_once_are_all_answered(server) -> None:
    """The real server should hold 300 concurrent chats and answer every one."""
    connector = TCPConnector(limit=0)  # aiohttp's client allows 100 unless told
    async with ClientSession(base_url=server.http_url, connector=connector) as session:
        opened: list[int] = []
        all_open = asyncio.Event()  # (asyncio.Barrier would do, from Python 3.11)

        async def one_date(number: int) -> str:
            async with session.ws_connect("/robots/dusty") as ws:
                await ws.receive_str()
                opened.append(number)
                if len(opened) == 300:
                    all_open.set()
                await all_open.wait()  # every chat is open before anyone talks
                await ws.send_str(f"hello, my name is R{number}")
                return await ws.receive_str()

        replies = await asyncio.wait_for(
            asyncio.gather(*(one_date(n) for n in range(300))), timeout=50
        )
    assert all(replies)
    assert len(replies) == 300


UPGRADE = {
    "Connection": "Upgrade",
    "Upgrade": "websocket",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
}


@pytest.mark.parametrize(
    ("host", "origin"),
    [
        ("localhost", "http://localhost"),
        ("example.com", "https://example.com"),
        ("example.com", "https://example.com:443"),
        ("Example.COM:8080", "http://example.com:8080"),
        ("[::1]:8080", "http://[::1]:8080"),
        ("[::1]", "https://[::1]"),
    ],
)
async def test_same_site_origin_is_welcome_on_any_port(client, host, origin) -> None:
    """A browser on the app's own site may chat: default ports, IPv6, any case."""
    async with client.get(
        "/robots/ada", headers={**UPGRADE, "Host": host, "Origin": origin}
    ) as response:
        assert response.status == 101


@pytest.mark.parametrize(
    ("host", "origin"),
    [
        ("localhost:8080", "http://evil.example:8080"),
        ("localhost:8080", "http://localhost:8081"),
        ("example.com", "http://example.com:8080"),
        ("example.com", "null"),
        ("example.com", "http://h:99999"),
        ("example.com", "http://["),
        ("127.0.0.1:8080", "http://127.0.0.1:8080, http://b"),
    ],
)
async def test_foreign_or_malformed_origin_gets_403(client, host, origin) -> None:
    """Another site, another port, or an Origin that is not a URL: 403, no error."""
    async with client.get(
        "/robots/ada", headers={**UPGRADE, "Host": host, "Origin": origin}
    ) as response:
        assert response.status == 403


def test_wsdump_style_client_over_ipv6_is_welcome(tmp_path: Path) -> None:
    """On --host ::1, a client that sends its own Origin (as wsdump does) may chat."""
    try:
        socket.create_server(("::1", 0), family=socket.AF_INET6).close()
    except OSError:
        pytest.skip("this machine has no IPv6 loopback")
    port = free_port()
    command = server_command("step3_robots", "::1", port)
    with (tmp_path / "server.log").open("w") as log:
        process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 15
        while True:
            with contextlib.suppress(OSError):
                socket.create_connection(("::1", port)).close()
                break
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.05)
        with chat(f"ws://[::1]:{port}/robots/ada") as ws:  # Origin: http://[::1]:port
            assert ws.recv()
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)


async def test_browsers_offering_compression_get_none(site) -> None:
    """Chats are short lines: the server turns down permessage-deflate."""
    async with site.ws_connect("/robots/ada", compress=15) as ws:
        assert await ws.receive_str()
        assert ws.compress == 0


async def test_every_response_says_nosniff_and_pages_carry_the_policy(site) -> None:
    """nosniff on every response; the CSP on every HTML page, /static/ included."""
    for path in ("/", "/static/index.html", "/robots", "/robots/ada", "/nowhere"):
        async with site.get(path) as response:
            assert response.headers["X-Content-Type-Options"] == "nosniff", path
            if response.content_type == "text/html":
                policy = response.headers["Content-Security-Policy"]
                assert "default-src 'self'" in policy, path


async def test_a_finished_chat_is_freed_at_once(aiohttp_client, app_module) -> None:
    """After the robot's goodbye, nothing should keep the chat in memory."""
    app = app_module.create_app()
    client = await aiohttp_client(app)
    async with client.ws_connect("/robots/bolt") as ws:
        await ws.receive_str()
        await ws.send_str("bye")
        await ws.receive_str()
        assert await close_code(ws) == 1000
    for _ in range(20):  # the server finishes its side in a moment
        await asyncio.sleep(0.05)
        gc.collect()
        if not app[app_module.chats]:
            break
    assert len(app[app_module.chats]) == 0


def test_a_client_that_never_reads_is_cut_off(server) -> None:
    """A client that sends and never reads should be cut off, not held forever."""
    stuck = flood_without_reading(server.port, "/robots/ada")
    deadline = time.monotonic() + 10
    with pytest.raises((ConnectionResetError, BrokenPipeError)):
        while time.monotonic() < deadline:  # the server resets the connection
            stuck.sendall(ping_frame())
            time.sleep(0.1)
    stuck.close()
    with chat(f"{server.url}/robots/ada") as ws:  # everyone else is fine
        assert ws.recv()
    server.stop()
    assert "cut off a client that stopped reading" in server.log()


def test_ctrl_c_ends_the_server_with_a_client_that_never_reads(server) -> None:
    """Shutdown should not wait on a client that stopped reading."""
    stuck = flood_without_reading(server.port, "/robots/ada")
    with chat(f"{server.url}/robots/dusty") as polite:
        polite.recv()
        server.process.send_signal(signal.SIGINT)
        assert receive_close(polite) == (1001, "server shutdown")
    assert server.process.wait(timeout=5) == 0
    stuck.close()


UPGRADE_REQUEST = (
    "GET /robots/ada HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n\r\n"
)


def test_clients_that_reset_leave_no_traceback(server) -> None:
    """Connections reset mid-handshake or mid-chat cost one short line at most."""
    for _ in range(20):
        gone = socket.create_connection(("127.0.0.1", server.port))
        gone.sendall(UPGRADE_REQUEST.format(port=server.port).encode())
        gone.close()  # before the handshake's answer
        reset(raw_websocket(server.port, "/robots/ada"))  # right after the handshake
        mid_chat = raw_websocket(server.port, "/robots/bolt")
        mid_chat.sendall(text_frame("hello!") * 20)
        reset(mid_chat)
    with chat(f"{server.url}/robots/ada") as ws:
        assert ws.recv()
    server.stop()
    lines = server.log().splitlines()
    assert len([line for line in lines if "chat ended" in line]) <= 60
    assert not [line for line in lines if line.startswith(" ")]  # no stack frames


def test_ctrl_c_with_every_kind_of_client_connected(server) -> None:
    """Stuck, half-way and polite clients at once: all polite ones get 1001, fast."""
    stuck = flood_without_reading(server.port, "/robots/ada")
    half_request = socket.create_connection(("127.0.0.1", server.port))
    half_request.sendall(b"GET /robots/ada HTTP/1.1\r\nHost: x\r\n")  # no end
    half_frame = raw_websocket(server.port, "/robots/bolt")
    half_frame.sendall(b"\x81\xfe\x0f\xff")  # a 4,095-byte frame, never sent
    with (
        chat(f"{server.url}/robots/clank") as polite,
        chat(
            server.url, header=["Sec-WebSocket-Extensions: permessage-deflate"]
        ) as deflate,
    ):
        polite.recv()
        deflate.recv()
        server.process.send_signal(signal.SIGINT)
        assert receive_close(polite) == (1001, "server shutdown")
        assert receive_close(deflate) == (1001, "server shutdown")
    assert server.process.wait(timeout=5) == 0
    for sock in (stuck, half_request, half_frame):
        sock.close()
