"""Stage 9: one party across processes, through a real Redis.

Two `python -m step9_redis --redis URL` processes share the party through a
redis-server of the module's own (the `redis` fixture).
"""

import asyncio
import contextlib
import signal
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest
import websocket
from aiohttp import ClientSession, WSServerHandshakeError
from redis.asyncio import Redis

from harness import Server, start_redis, start_server
from tests.test_step8_party import lines_until
from tests.wsclient import chat

# One Redis and two servers for the module: on one worker.
pytestmark = [pytest.mark.stage("step9_redis"), pytest.mark.xdist_group("redis")]

LINE_DOWN = "* the party line is down; reconnecting..."
LINE_BACK = "* the party line is back"


@pytest.fixture(scope="module")
def two_servers(stage, redis, tmp_path_factory) -> Iterator[list[Server]]:
    """Two processes of the stage sharing the party through `redis`."""
    folder = tmp_path_factory.mktemp("two-servers")
    servers = [
        start_server(stage, folder / f"{n}.log", "--redis", redis.url) for n in (1, 2)
    ]
    yield servers
    for running in servers:  # every one stopped, before any is judged
        running.stop()
    for running in servers:
        assert "Traceback" not in running.log(), running.log()


async def test_guests_on_two_processes_hear_each_other_exactly_once(
    two_servers,
) -> None:
    """Sam on one process and Kim on another hear every line, each exactly once."""
    first, second = two_servers
    async with ClientSession() as session:
        sam = await session.ws_connect(f"{first.url}/party?name=Sam")
        heard_by_sam = await lines_until(sam, "* Sam joined the party")
        kim = await session.ws_connect(f"{second.url}/party?name=Kim")
        heard_by_kim = await lines_until(kim, "* Kim joined the party")
        heard_by_sam += await lines_until(sam, "* Kim joined the party")
        await sam.send_str("hello from the first process")
        heard_by_kim += await lines_until(kim, "Sam: hello from the first process")
        await kim.send_str("hello from the second")
        heard_by_sam += await lines_until(sam, "Kim: hello from the second")
        await sam.close()
        heard_by_kim += await lines_until(kim, "* Sam left")
        await kim.close()
    assert heard_by_sam == [
        "* Sam joined the party",
        "* Kim joined the party",
        "Sam: hello from the first process",
        "Kim: hello from the second",
    ]
    assert heard_by_kim == [
        "* Kim joined the party",
        "Sam: hello from the first process",
        "Kim: hello from the second",
        "* Sam left",
    ]


async def test_redis_going_away_is_logged_told_and_survived(two_servers, redis) -> None:
    """Redis stops: a log line, guests told. Redis returns: the party goes on."""
    first, second = two_servers
    async with ClientSession() as session:
        sam = await session.ws_connect(f"{first.url}/party?name=Ray")
        kim = await session.ws_connect(f"{second.url}/party?name=Dee")
        await lines_until(sam, "* Dee joined the party")
        await asyncio.to_thread(redis.stop)
        await lines_until(sam, LINE_DOWN)
        await lines_until(kim, LINE_DOWN)
        await sam.send_str("anyone there?")  # lost, and Ray is told so
        assert await sam.receive_str(timeout=10) == LINE_DOWN
        await asyncio.to_thread(redis.start)  # on the same port
        await lines_until(sam, LINE_BACK)
        await lines_until(kim, LINE_BACK)
        await kim.send_str("we are back")
        assert await lines_until(sam, "Dee: we are back") == ["Dee: we are back"]
        await sam.send_str("so we are")
        assert await lines_until(kim, "Ray: so we are") == [
            "Dee: we are back",
            "Ray: so we are",
        ]
        await sam.close()
        await kim.close()
    for server in two_servers:
        log = server.log()
        assert "the party line is down" in log
        assert "the party line is back" in log


def publish_raw(redis, data: bytes) -> None:
    """What anyone who can reach Redis might put on the party's channel."""
    import socket

    with socket.create_connection(("127.0.0.1", redis.port)) as sock:
        command = [b"PUBLISH", b"robot-dates:party", data]
        sock.sendall(
            b"*3\r\n"
            + b"".join(b"$%d\r\n%s\r\n" % (len(part), part) for part in command)
        )
        assert sock.recv(100).startswith(b":")  # the number of listeners


async def test_bad_lines_on_the_channel_cost_a_log_line_not_the_party(
    two_servers, redis
) -> None:
    """Bytes that are not UTF-8, or a line without its time, are dropped with a log
    line; a forged line is cleaned like a guest's; the party goes on."""
    first, second = two_servers
    async with ClientSession() as session:
        sam = await session.ws_connect(f"{first.url}/party?name=Sal")
        await lines_until(sam, "* Sal joined the party")
        publish_raw(redis, b"\xff")
        publish_raw(redis, b"no time here")
        publish_raw(redis, f"{time.time():.3f} Eve: \x1b[2J\u202ehi".encode())
        assert await sam.receive_str(timeout=10) == "Eve:  [2J hi"
        kim = await session.ws_connect(f"{second.url}/party?name=Kip")
        await lines_until(sam, "* Kip joined the party")  # both still listen
        await kim.close()
        await sam.close()
    for server in two_servers:
        assert "dropped a line" in server.log()


async def test_names_are_unique_across_processes(two_servers) -> None:
    """Sam on one process: SAM on another gets 409, until Sam leaves."""
    first, second = two_servers
    async with ClientSession() as session:
        sam = await session.ws_connect(f"{first.url}/party?name=Sam")
        await lines_until(sam, "* Sam joined the party")
        with pytest.raises(WSServerHandshakeError) as refused:
            await session.ws_connect(f"{second.url}/party?name=SAM")
        assert refused.value.status == 409
        await sam.close()
        await lines_until_closed_and_gone(session, second, "SAM")


async def lines_until_closed_and_gone(session, server, name: str) -> None:
    """Join as `name` as soon as the name is free (a second at most), then leave."""
    for _ in range(20):
        try:
            ws = await session.ws_connect(f"{server.url}/party?name={name}")
        except WSServerHandshakeError:
            await asyncio.sleep(0.1)
        else:
            await ws.close()
            return
    pytest.fail(f"{name} never became free")


async def test_a_frozen_redis_is_told_within_two_seconds_and_lines_are_not_lost_twice(
    two_servers, redis
) -> None:
    """Redis stops answering (SIGSTOP): every guest hears it within 2 s, a speaker
    meanwhile is told its line is lost, and nobody hears that line later; "back"
    comes once Redis answers again."""
    first, second = two_servers
    async with ClientSession() as session:
        ray = await session.ws_connect(f"{first.url}/party?name=Rae")
        dee = await session.ws_connect(f"{second.url}/party?name=Dea")
        await lines_until(ray, "* Dea joined the party")
        redis.process.send_signal(signal.SIGSTOP)
        try:
            await ray.send_str("is anyone there?")
            assert await asyncio.wait_for(lines_until(ray, LINE_DOWN), 1.5)  # lost
            assert await asyncio.wait_for(lines_until(dee, LINE_DOWN), 2)  # told
            await asyncio.sleep(1)  # long enough for both processes to notice
        finally:
            redis.process.send_signal(signal.SIGCONT)
        heard_by_dee = await lines_until(dee, LINE_BACK)
        await lines_until(ray, LINE_BACK)
        await ray.send_str("and now?")
        heard_by_dee += await lines_until(dee, "Rae: and now?")
        assert "Rae: is anyone there?" not in heard_by_dee
        await ray.close()
        await dee.close()


def test_sigterm_while_redis_is_frozen_ends_the_process_in_seconds(
    stage, redis, tmp_path
) -> None:
    """A frozen Redis cannot hold up a shutdown: SIGTERM, and it exits in 2 s or so.

    Its Redis is its own: the module's two servers need theirs to stay awake.
    """
    frozen = start_redis(redis.program, tmp_path)
    server = start_server(stage, tmp_path / "server.log", "--redis", frozen.url)
    assert frozen.process is not None  # started
    frozen.process.send_signal(signal.SIGSTOP)
    try:
        time.sleep(0.5)
        assert seconds_to_exit_after_sigterm(server) < 3
    finally:
        frozen.process.send_signal(signal.SIGCONT)
        frozen.stop()
    assert "Traceback" not in server.log()


def test_sigterm_while_a_guest_joins_through_a_frozen_redis_ends_in_seconds(
    stage, redis, tmp_path
) -> None:
    """A guest whose name is being claimed when SIGTERM comes (the claim waits up
    to a second for a frozen Redis) joins after the goodbyes were said: it cannot
    hold up the shutdown either, and the guests on their way out (each waiting out
    Redis too) cost no traceback."""
    frozen = start_redis(redis.program, tmp_path)
    server = start_server(stage, tmp_path / "server.log", "--redis", frozen.url)
    assert frozen.process is not None  # started
    guests = [
        threading.Thread(target=join_quietly, args=(f"{server.url}/party?name={name}",))
        for name in [*(f"Guest{number}" for number in range(10)), "Lou"]  # Lou: late
    ]
    for guest in guests[:-1]:
        guest.start()
    time.sleep(0.5)  # they are in
    frozen.process.send_signal(signal.SIGSTOP)
    try:
        guests[-1].start()
        time.sleep(0.4)  # Lou's claim is waiting on the frozen Redis
        assert seconds_to_exit_after_sigterm(server) < 12  # ~6 s: Lou's join, 3 s twice
    finally:
        frozen.process.send_signal(signal.SIGCONT)
        frozen.stop()
        for guest in guests:
            guest.join()
    assert "Traceback" not in server.log()


def seconds_to_exit_after_sigterm(server: Server) -> float:
    """SIGTERM; seconds until the server exits (past 15: a failure, with its log)."""
    started = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()
        pytest.fail(f"still running 15 s after SIGTERM; its log:\n{server.log()}")
    return time.monotonic() - started


def join_quietly(url: str) -> None:
    """Join and wait for the server to end the chat, however it ends it."""
    with contextlib.suppress(OSError, websocket.WebSocketException):
        with chat(url) as ws:
            while ws.recv():
                pass


async def until_redis_has(key: str, url: str, seconds: float = 10) -> None:
    """Wait until `key` is in Redis (about a second, slower on a busy machine)."""
    async with Redis.from_url(url) as redis:
        deadline = time.monotonic() + seconds
        while not await redis.exists(key):
            assert time.monotonic() < deadline, f"{key} not claimed in {seconds} s"
            await asyncio.sleep(0.1)


async def test_names_are_claimed_again_when_redis_restarts_empty(
    two_servers, redis
) -> None:
    """Redis killed and back at once, its memory empty: a name still in use is
    claimed again (within a second or two), and another process refuses it."""
    first, second = two_servers
    async with ClientSession() as session:
        xen = await session.ws_connect(f"{first.url}/party?name=Xen")
        await lines_until(xen, "* Xen joined the party")
        redis.process.kill()  # no goodbye, nothing saved
        redis.process.wait()
        await asyncio.to_thread(redis.start)  # on the same port, empty
        await until_redis_has("robot-dates:name:xen", redis.url)  # the claim, anew
        with pytest.raises(WSServerHandshakeError) as refused:
            await session.ws_connect(f"{second.url}/party?name=XEN")
        assert refused.value.status == 409
        await xen.close()
