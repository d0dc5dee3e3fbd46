"""Stage 6: floods of every kind of frame, and a message that never ends.

Most of these attack a real server with a bare socket, the way a flooder would. The
finished stage keeps all of it, so every test runs against it too.
"""

import asyncio
import contextlib
import importlib
import signal
import socket
import threading
import time
from types import ModuleType

import pytest

from tests.wsclient import (
    chat,
    ping_frame,
    raw_websocket,
    text_frame,
    upgrade_request,
)

pytestmark = pytest.mark.stage("step6_floods", kept=True)


@pytest.fixture
def floods(app_module: ModuleType) -> ModuleType:
    return importlib.import_module(f"{app_module.__package__}.floods")


class FakeWatch:
    """A StallWatch whose stalls the test decides."""

    def __init__(self) -> None:
        self.stalled = 0.0

    def seconds(self) -> float:
        return self.stalled


@pytest.fixture
def clock(floods, monkeypatch) -> list[float]:
    """The meter's clock, moved by the test: `clock[0] += 1` is one second later."""
    now = [1000.0]
    monkeypatch.setattr(floods, "monotonic", lambda: now[0])
    return now


def allowed(rate, frames: int) -> int:
    return sum(rate.allows_one_more() for _ in range(frames))


def test_a_burst_of_a_seconds_worth_is_fine_and_one_more_is_not(floods, clock) -> None:
    """20 frames at once are fine; the 21st in the same instant is one too many."""
    rate = floods.FrameRate(20, FakeWatch())
    assert allowed(rate, 20) == 20
    assert not rate.allows_one_more()


def test_the_limit_refills_as_time_goes_by(floods, clock) -> None:
    """A second later, a second's worth more; never more than that, however idle."""
    rate = floods.FrameRate(20, FakeWatch())
    assert allowed(rate, 20) == 20
    clock[0] += 0.5
    assert allowed(rate, 20) == 10
    clock[0] += 60
    assert allowed(rate, 30) == 20


@pytest.mark.parametrize("stall", [5, 10])
def test_a_stall_of_the_server_is_forgiven(floods, clock, stall: int) -> None:
    """After a pause of ours of up to 10 s, a client that spoke 10 times a second
    meanwhile has all its messages read, and still has its normal second's worth."""
    watch = FakeWatch()
    rate = floods.FrameRate(20, watch)
    clock[0] += stall
    watch.stalled += stall
    assert allowed(rate, 10 * stall) == 10 * stall
    assert allowed(rate, 20) == 20


def test_a_real_flood_is_not_forgiven(floods, clock) -> None:
    """Credit for a stall is bounded: 100 messages a second through a 5 s pause is
    far beyond it."""
    watch = FakeWatch()
    rate = floods.FrameRate(20, watch)
    clock[0] += 5
    watch.stalled += 5
    assert allowed(rate, 500) < 200


def read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        more = sock.recv(size - len(data))
        assert more, "the connection ended before the server said goodbye"
        data += more
    return data


def read_until_close(sock: socket.socket) -> tuple[int, str]:
    """Skip the server's frames up to its close frame; read only, never answer."""
    while True:
        opcode, length = read_exactly(sock, 2)
        if length == 126:
            length = int.from_bytes(read_exactly(sock, 2), "big")
        payload = read_exactly(sock, length)
        if opcode & 0x0F == 0x8:
            return int.from_bytes(payload[:2], "big"), payload[2:].decode()


def flood_until_closed(sock: socket.socket, frame: bytes) -> tuple[int, str, float]:
    """Send `frame` over and over; return the server's close code and reason, and
    how long the connection lasted after the close frame."""
    sock.settimeout(5)
    stop = threading.Event()

    def flood() -> None:
        try:
            while not stop.is_set():
                sock.sendall(frame * 10)
        except OSError:
            pass  # cut off: that is the point

    flooder = threading.Thread(target=flood)
    flooder.start()
    try:
        code, reason = read_until_close(sock)
        closed_at = time.monotonic()
        try:
            while sock.recv(65536):
                pass  # the rest, up to the end
        except OSError:
            pass  # a reset ends it too
        return code, reason, time.monotonic() - closed_at
    finally:
        stop.set()
        flooder.join()
        sock.close()


@pytest.mark.parametrize(
    "frame",
    [text_frame("hello"), ping_frame(b"ping"), bytes([0x8A, 0x80, 0, 0, 0, 0])],
    ids=["text", "ping", "pong"],
)
def test_a_flood_of_any_kind_of_frame_gets_1008_and_is_gone_in_a_second(
    shared_server, frame: bytes
) -> None:
    """Texts, pings or unasked-for pongs, far beyond 20 a second: 1008, and the
    connection ends within a second; everyone else is fine."""
    sock = raw_websocket(shared_server.port, "/robots/ada")
    code, _reason, lasted = flood_until_closed(sock, frame)
    assert code == 1008
    assert lasted < 1.5
    with chat(f"{shared_server.url}/robots/bolt") as ws:
        assert ws.recv()


async def test_a_message_that_never_ends_is_cut_off(aiohttp_client, app_module) -> None:
    """Endless empty pieces of one message: aiohttp never shows them, the meter does.

    The rate limit is lifted here, so that the bytes are what give the flood away.
    """
    client = await aiohttp_client(app_module.create_app(messages_per_second=0))
    sock = await asyncio.to_thread(raw_websocket, client.port, "/robots/ada")
    start = bytes([0x01, 0x80, 0, 0, 0, 0])  # a text frame, FIN not set, empty
    continuation = bytes([0x00, 0x80, 0, 0, 0, 0])
    sock.sendall(start)
    code, reason, _lasted = await asyncio.to_thread(
        flood_until_closed, sock, continuation
    )
    assert (code, reason) == (1008, "too many bytes")


def test_a_server_paused_for_five_seconds_forgives_its_polite_clients(server) -> None:
    """SIGSTOP, 5 s, SIGCONT: a client that spoke 10 times a second meanwhile gets
    every answer, and no 1008."""
    with chat(f"{server.url}/robots/dusty") as ws:
        ws.recv()  # the greeting
        server.process.send_signal(signal.SIGSTOP)
        try:
            for number in range(50):
                ws.send(f"hello {number}")
                time.sleep(0.1)
        finally:
            server.process.send_signal(signal.SIGCONT)
        answers = [ws.recv() for _ in range(50)]
        assert all(isinstance(answer, str) and answer for answer in answers)
        ws.send("one more")
        assert ws.recv()


def test_messages_sent_with_the_handshake_are_counted_too(shared_server) -> None:
    """A flood written in one go with the upgrade request (before the meter can
    see it) still gets 1008 after about 20 answers, not 1,000."""
    sock = socket.create_connection(("127.0.0.1", shared_server.port))
    handshake = upgrade_request(shared_server.port, "/robots/ada")
    sock.sendall(handshake + text_frame("hello") * 1000)
    sock.settimeout(5)
    received = b""
    with contextlib.suppress(OSError):
        while chunk := sock.recv(65536):
            received += chunk
    sock.close()
    assert b"\x88" in received  # a close frame...
    assert b"\x03\xf0too many messages" in received  # ...with 1008
    assert received.count(b"\x81") < 60  # the greeting and some 20 answers, no more
