"""What aiohttp 3.14.5 does that a careful server would not (docs/known-limits.md).

Each test reproduces one behaviour with a bare aiohttp handler and a raw socket, and
asserts it *still happens*. When an aiohttp upgrade fixes one, its test fails: update
the page (and drop any workaround in the stages) then.
"""

import asyncio
import gc
import logging
import weakref

import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestServer

HANDSHAKE = (
    "GET / HTTP/{http}\r\nHost: localhost\r\nUpgrade: websocket\r\n"
    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: {version}\r\n\r\n"
)
MASK = b"\x00\x00\x00\x00"  # a zero mask leaves the payload as it is


async def echo(request: web.Request) -> web.WebSocketResponse:
    """The plainest handler: aiohttp's defaults, a heartbeat, and an echo. It notes
    the type of every message it is handed."""
    ws = web.WebSocketResponse(heartbeat=30)
    await ws.prepare(request)
    request.app[sockets].add(ws)
    async for msg in ws:
        request.app[handed].append(msg.type)
        if msg.type is WSMsgType.TEXT:
            await ws.send_str(msg.data)
            if msg.data == "bye":
                await ws.close()
    return ws


sockets = web.AppKey("sockets", weakref.WeakSet[web.WebSocketResponse])
handed = web.AppKey("handed", list[WSMsgType])


@pytest.fixture
async def bare_server(aiohttp_server) -> TestServer:
    app = web.Application()
    app[sockets] = weakref.WeakSet()
    app[handed] = []
    app.add_routes([web.get("/", echo)])
    return await aiohttp_server(app)


async def handshake(
    server: TestServer, http: str = "1.1", version: str = "13"
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]:
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(HANDSHAKE.format(http=http, version=version).encode())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    return reader, writer, head


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    first, length = await asyncio.wait_for(reader.readexactly(2), 5)
    return first & 0x0F, await reader.readexactly(length & 0x7F)


async def test_unmasked_client_frames_are_accepted(bare_server) -> None:
    """RFC 6455 5.1: a server must close on an unmasked frame. aiohttp answers it."""
    reader, writer, head = await handshake(bare_server)
    assert head.startswith(b"HTTP/1.1 101")
    writer.write(b"\x81\x05hello")  # mask bit off
    assert await read_frame(reader) == (0x1, b"hello")
    writer.close()


async def test_http_1_0_upgrades_are_accepted(bare_server) -> None:
    """RFC 6455 4.1 asks for HTTP/1.1 or higher. aiohttp upgrades HTTP/1.0 too."""
    _reader, writer, head = await handshake(bare_server, http="1.0")
    assert head.startswith(b"HTTP/1.0 101")
    writer.close()


async def test_an_unsupported_version_gets_400_without_the_version_header(
    bare_server,
) -> None:
    """RFC 6455 4.4 asks for 426 and Sec-WebSocket-Version. prepare() sends 400."""
    _reader, writer, head = await handshake(bare_server, version="99")
    assert head.startswith(b"HTTP/1.1 400")
    assert b"sec-websocket-version" not in head.lower()
    writer.close()


async def test_close_code_1006_from_a_client_is_accepted(bare_server) -> None:
    """1006 must never be sent (RFC 6455 7.4.1); aiohttp takes it as a normal close."""
    reader, writer, _head = await handshake(bare_server)
    writer.write(b"\x88\x82" + MASK + (1006).to_bytes(2, "big"))
    opcode, payload = await read_frame(reader)
    assert opcode == 0x8 and payload[:2] == (1000).to_bytes(2, "big")  # not 1002
    writer.close()


async def test_pings_pongs_and_pieces_of_a_message_never_reach_the_handler(
    bare_server,
) -> None:
    """The handler is handed whole messages only. A message begun and never
    finished, 50 empty pieces of it, 20 pings and 20 pongs: it sees none of them,
    so it cannot count them (stage 6's FrameMeter reads them before aiohttp)."""
    reader, writer, _head = await handshake(bare_server)
    started = asyncio.get_running_loop().time()
    writer.write(b"\x01\x80" + MASK)  # a text frame without FIN, empty
    writer.write((b"\x00\x80" + MASK) * 50)  # empty continuation frames
    writer.write((b"\x89\x80" + MASK) * 20)  # pings
    writer.write((b"\x8a\x80" + MASK) * 20)  # pongs nobody asked for
    assert [await read_frame(reader) for _ in range(20)] == [(0xA, b"")] * 20
    await asyncio.sleep(1 - (asyncio.get_running_loop().time() - started))
    assert bare_server.app[handed] == []  # nothing, a second later
    writer.close()


async def test_a_closed_chat_is_held_by_its_heartbeat(bare_server) -> None:
    """After the server closes, the client's answer restarts the heartbeat timer,
    and the timer holds the finished chat for 30-45 s (stage 3's ChatWebSocket fixes).
    """
    reader, writer, _head = await handshake(bare_server)
    writer.write(b"\x81\x83" + MASK + b"bye")
    assert await read_frame(reader) == (0x1, b"bye")
    opcode, _payload = await read_frame(reader)  # the server closes
    assert opcode == 0x8
    writer.write(b"\x88\x82" + MASK + (1000).to_bytes(2, "big"))  # our answer
    await writer.drain()
    await asyncio.sleep(0.3)  # the server's close() returns
    gc.collect()
    assert len(bare_server.app[sockets]) == 1  # still in memory
    writer.close()


stalled = web.AppKey("stalled", asyncio.Future)


async def hold(request: web.Request) -> web.WebSocketResponse:
    """Hand the open chat to the test, and keep it open."""
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    request.app[stalled].set_result(ws)
    async for _msg in ws:
        pass
    return ws


async def test_a_close_after_a_cancelled_send_raises_and_leaves_the_socket_open(
    aiohttp_server,
) -> None:
    """A send to a client that never reads is cancelled (a timeout); then close()
    raises CancelledError at once and the connection stays open, its data unsent.
    The party (stage 8) never cancels a send: it aborts the transport of a guest
    too far behind.
    """
    app = web.Application()
    app[stalled] = asyncio.get_running_loop().create_future()
    app.add_routes([web.get("/", hold)])
    server = await aiohttp_server(app)
    _reader, writer = await asyncio.open_connection(server.host, server.port)
    client = writer.transport
    assert isinstance(client, asyncio.Transport)
    client.pause_reading()  # a client that never reads
    writer.write(HANDSHAKE.format(http="1.1", version="13").encode())
    ws = await asyncio.wait_for(app[stalled], 5)
    with pytest.raises(asyncio.TimeoutError):  # not yet TimeoutError on Python 3.10
        for _ in range(1000):  # until a send has to wait for the client
            await asyncio.wait_for(ws.send_bytes(b"x" * 65536), 0.5)
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(ws.close(), 5)  # at once, not after 5 s
    await asyncio.sleep(0.2)
    sock = ws.get_extra_info("socket")
    assert sock is not None and sock.fileno() != -1  # still open
    client.abort()


async def test_a_malformed_request_line_logs_a_traceback(
    bare_server, caplog, monkeypatch
) -> None:
    """A raw UTF-8 byte in the URL gets 400, and a traceback in the log.

    Stage 5's filter (installed once imported, by any test) is taken off here:
    this is what aiohttp does without it.
    """
    monkeypatch.setattr(logging.getLogger("aiohttp.server"), "filters", [])
    reader, writer = await asyncio.open_connection(bare_server.host, bare_server.port)
    writer.write("GET /?name=Zoë HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
    assert (await asyncio.wait_for(reader.readline(), 5)).startswith(b"HTTP/1.0 400")
    writer.close()
    [record] = [r for r in caplog.records if "Error handling request" in r.getMessage()]
    assert record.exc_info is not None  # the whole traceback, for one bad client
