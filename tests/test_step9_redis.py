"""Stage 9: one party across processes, through a real Redis.

Two `python -m step9_redis --redis URL` processes share the party through a
redis-server of the module's own (the `redis` fixture).
"""

import asyncio
from collections.abc import Iterator

import pytest
from aiohttp import ClientSession

from harness import Server, start_server
from tests.test_step8_party import lines_until

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
    for running in servers:
        running.stop()
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
        assert "the party line is down, reconnecting: " in log
        assert "the party line is back" in log
