"""Stage 3: robots with profiles that greet, chat and say goodbye, on their own URLs.

Most tests run twice, through the `site` fixture: against the app in this process,
and against one real `python -m step3_robots` that the module shares. The finished
stage keeps all of it, so every test runs against it too.
"""

import asyncio
import signal

import pytest
import websocket
from aiohttp import ClientSession, TCPConnector, WSMsgType

from tests.wsclient import chat, receive_close

pytestmark = pytest.mark.stage("step3_robots", kept=True)


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


def test_client_that_vanishes_is_cleaned_up(shared_server) -> None:
    """A client gone without a close frame should not disturb the next one."""
    for _ in range(3):
        with chat(f"{shared_server.url}/robots/bolt") as ws:
            ws.recv()
            ws.sock.close()  # pull the plug: no close frame
    with chat(f"{shared_server.url}/robots/bolt") as ws:
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


async def test_300_chats_at_once_are_all_answered(shared_server) -> None:
    """The real shared_server should hold 300 concurrent chats and answer every one."""
    connector = TCPConnector(limit=0)  # aiohttp's client allows 100 unless told
    async with ClientSession(
        base_url=shared_server.http_url, connector=connector
    ) as session:
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


@pytest.mark.this_stage_only  # from stage 4 on, the root URL serves the web page
async def test_a_plain_get_on_the_root_url_gets_426_with_help(site) -> None:
    """GET / without an upgrade should explain itself (426): this is a chat address."""
    async with site.get("/") as response:
        assert response.status == 426
        assert "wsdump" in await response.text()
