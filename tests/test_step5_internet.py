"""Stage 5: ready for the internet. Limits, heartbeat, stuck clients and resets.

The finished stage keeps all of it, so every test runs against it too.
"""

import asyncio
import contextlib
import gc
import signal
import socket
import time
from pathlib import Path

import pytest
from aiohttp import WSMsgType

from tests.test_step3_robots import close_code
from tests.wsclient import (
    chat,
    flood_without_reading,
    ping_frame,
    raw_websocket,
    receive_close,
    reset,
    text_frame,
    upgrade_request,
)

pytestmark = pytest.mark.stage("step5_internet", kept=True)


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


async def test_browsers_offering_compression_get_none(site) -> None:
    """Chats are short lines: the server turns down permessage-deflate."""
    async with site.ws_connect("/robots/ada", compress=15) as ws:
        assert await ws.receive_str()
        assert ws.compress == 0


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
    assert "cut off a client" in server.log()  # later stages: as a flooder, sooner


def test_ctrl_c_ends_the_server_with_a_client_that_never_reads(server) -> None:
    """Shutdown should not wait on a client that stopped reading."""
    stuck = flood_without_reading(server.port, "/robots/ada")
    with chat(f"{server.url}/robots/dusty") as polite:
        polite.recv()
        server.process.send_signal(signal.SIGINT)
        assert receive_close(polite) == (1001, "server shutdown")
    assert server.process.wait(timeout=5) == 0
    stuck.close()


def test_clients_that_reset_leave_no_traceback(server) -> None:
    """Connections reset mid-handshake or mid-chat cost one short line at most."""
    for _ in range(20):
        gone = socket.create_connection(("127.0.0.1", server.port))
        gone.sendall(upgrade_request(server.port, "/robots/ada"))
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


def test_bad_requests_cost_one_short_line_a_second(server) -> None:
    """50 requests aiohttp cannot parse: 400 each, and one line (no traceback) a
    second in the log, not 50 tracebacks."""
    for _ in range(50):
        with socket.create_connection(("127.0.0.1", server.port)) as bad:
            bad.sendall("GET /?name=Zoë HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            assert bad.recv(12).startswith(b"HTTP/1.")
    server.stop()
    lines = [line for line in server.log().splitlines() if "Error handling" in line]
    assert 1 <= len(lines) <= 3, lines
    assert "Traceback" not in server.log()


def kernel_send_queue(port: int) -> int:
    """The bytes the kernel holds, unsent, for the server's end of connections on
    `port` (Linux's /proc/net/tcp; its numbers are hexadecimal)."""
    held = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, _remote, _state, queues = line.split()[1:5]
        if int(local.split(":")[1], 16) == port:
            held += int(queues.split(":")[0], 16)
    return held


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="Linux only")
def test_a_client_that_never_reads_costs_the_kernel_little(shared_server) -> None:
    """Before it is cut off, the kernel holds at most about 256 KB for such a
    client (it would grow to 4 MB): a hundred of them cannot eat the memory."""
    stuck = raw_websocket(shared_server.port, "/robots/ada", receive_buffer=4096)
    stuck.settimeout(0.2)
    most = 0
    deadline = time.monotonic() + 10
    with contextlib.suppress(OSError):  # until the shared_server cuts it off
        while time.monotonic() < deadline:
            stuck.sendall(ping_frame() * 10)
            most = max(most, kernel_send_queue(shared_server.port))
    stuck.close()
    assert most <= 256 * 1024, most
