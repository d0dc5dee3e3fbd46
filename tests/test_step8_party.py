"""Stage 8: the robot party, in one process.

The party's behaviours run twice, through the `site` fixture: in this process, and
against one real `python -m step8_party` shared by the module (each test's guests
have left before the next test's arrive). Tests that stop a server start their own.
The finished stage keeps all of it, so every test runs against it too.
"""

import asyncio
import logging
import signal
import sys

import pytest
import websocket
from aiohttp import (
    ClientWebSocketResponse,
    WSMsgType,
    WSServerHandshakeError,
)

from tests.wsclient import (
    chat,
    flood_without_reading,
    raw_websocket,
    receive_close,
    reset,
)

pytestmark = pytest.mark.stage("step8_party", kept=True)


async def join(site, name: str) -> ClientWebSocketResponse:
    """Join the party as `name`, and wait until the party says so."""
    ws = await site.ws_connect(f"/party?name={name}")
    await lines_until(ws, f"* {name} joined the party")
    return ws


async def lines_until(ws: ClientWebSocketResponse, last: str) -> list[str]:
    """Every line up to and including `last`."""
    lines: list[str] = []
    while not lines or lines[-1] != last:
        lines.append(await ws.receive_str(timeout=10))
    return lines


async def flood_with(ws: ClientWebSocketResponse, lines: list[str]) -> None:
    """Send every line in one burst, or as many as go before the party hangs up.

    A burst, because TCP resets a connection that receives data after its close,
    and a reset destroys what the client had not read yet: its 1008.
    """
    for line in lines:
        try:
            await ws.send_str(line)
        except ConnectionResetError:  # the 1008 and the hang-up came first: fine
            return


async def close_code(ws: ClientWebSocketResponse) -> int:
    """Skip any lines still on their way; return the code of the server's close."""
    while True:
        msg = await ws.receive(timeout=10)
        if msg.type is not WSMsgType.TEXT:
            assert msg.type is WSMsgType.CLOSE, msg
            return msg.data


async def test_every_guest_hears_every_line_with_the_senders_name(site) -> None:
    """A line reaches every guest, the sender too, once, as "Name: text"."""
    sam, kim = await join(site, "Sam"), await join(site, "Kim")
    await lines_until(sam, "* Kim joined the party")
    await sam.send_str("hello everyone!")
    await lines_until(kim, "Sam: hello everyone!")
    await kim.send_str("hi Sam")
    assert await lines_until(sam, "Kim: hi Sam") == [
        "Sam: hello everyone!",
        "Kim: hi Sam",
    ]
    assert await lines_until(kim, "Kim: hi Sam") == ["Kim: hi Sam"]
    await sam.close()
    await kim.close()


async def test_every_line_is_one_line_of_printable_text(site) -> None:
    """Newlines and escape sequences become spaces: nobody fakes a line or a screen."""
    eve = await join(site, "Eve")
    await eve.send_str("hi\n* Ada left\x1b[2J\r")
    assert await eve.receive_str(timeout=10) == "Eve: hi * Ada left [2J "
    await eve.close()


async def test_bidi_controls_and_long_lines_are_neutralised(site) -> None:
    """Bidi controls (U+202E...) become spaces too, and a line has a size limit."""
    eve = await join(site, "Eve")
    await eve.send_str("hi \u202eevil\u2066")
    assert await eve.receive_str(timeout=10) == "Eve: hi  evil "
    await eve.send_str("é" * 2047)  # 4,094 bytes: just under the size limit
    assert len(await eve.receive_str(timeout=10)) <= 4200
    await eve.close()


async def test_a_flooder_is_gone_within_a_second_and_its_name_is_free(site) -> None:
    """After its 1008, a flooder's name may join again at once."""
    flood = await join(site, "Flood")
    await flood_with(flood, [f"spam {number}" for number in range(25)])
    assert await close_code(flood) == 1008
    again = await asyncio.wait_for(join(site, "Flood"), 2)
    await again.close()


async def test_joins_and_leaves_are_announced(site) -> None:
    """Everyone hears "* Name joined the party" and "* Name left"."""
    ana = await join(site, "Ana")
    bo = await join(site, "Bo")
    await bo.close()
    assert await lines_until(ana, "* Bo left") == [
        "* Bo joined the party",
        "* Bo left",
    ]
    await ana.close()


@pytest.mark.parametrize("text", ["Hi Ada, what is your name?", "ada: your name?"])
async def test_a_robot_named_in_a_line_answers_everyone(site, text) -> None:
    """A line that names a robot (any case) gets its answer, in character, for all."""
    ida, jo = await join(site, "Ida"), await join(site, "Jo")
    await ida.send_str(text)
    for guest in (ida, jo):
        await lines_until(guest, f"Ida: {text}")
        answer = await guest.receive_str(timeout=10)
        assert answer.startswith("Ada: ") and "Ada Lovebyte" in answer
    await ida.close()
    await jo.close()


async def test_two_robots_named_both_answer_and_others_stay_quiet(site) -> None:
    """Naming Bolt and Clank gets one answer from each; a line naming none, none."""
    lu = await join(site, "Lu")
    await lu.send_str("bolt and CLANK, how are you?")
    await lu.send_str("Adam and Boltzmann are not robots")
    await lu.send_str("over")
    lines = await lines_until(lu, "Lu: over")
    speakers = [line.split(":")[0] for line in lines]
    assert speakers == ["Lu", "Bolt", "Clank", "Lu", "Lu"]
    await lu.close()


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?name=",
        "?name=Sam%20Smith",
        "?name=" + "x" * 21,
        "?name=Zo%C3%AB",
        "?name=<b>",
    ],
    ids=["no-name", "empty", "space", "too-long", "not-ascii", "markup"],
)
async def test_a_bad_name_gets_400_before_the_upgrade(site, query) -> None:
    """Names are 1 to 20 letters, digits, - or _; anything else gets a clear 400."""
    with pytest.raises(WSServerHandshakeError) as refused:
        await site.ws_connect(f"/party{query}")
    assert refused.value.status == 400


async def test_a_name_taken_gets_409_whatever_its_case(site) -> None:
    """Two guests can't share a name on one process: "sam" is taken by "Sam"."""
    sam = await join(site, "Sam")
    with pytest.raises(WSServerHandshakeError) as refused:
        await site.ws_connect("/party?name=sam")
    assert refused.value.status == 409
    await sam.close()
    again = await join(site, "sam")  # free once Sam has left
    await again.close()


@pytest.mark.parametrize("name", ["Ada", "bolt", "CLANK", "Dusty"])
async def test_no_guest_takes_a_robots_name(site, name) -> None:
    """The robots are at the party already: their first names get 409."""
    with pytest.raises(WSServerHandshakeError) as refused:
        await site.ws_connect(f"/party?name={name}")
    assert refused.value.status == 409


async def test_flooding_closes_with_1008_and_the_excess_reaches_no_one(site) -> None:
    """The 21st message within a second closes with 1008; it and later ones vanish."""
    ear = await join(site, "Ear")
    flood = await join(site, "Flood")
    await flood_with(flood, [f"spam {number}" for number in range(1, 26)])
    assert await close_code(flood) == 1008
    lines = await lines_until(ear, "* Flood left")  # the server's side is done
    await ear.send_str("over")
    lines += await lines_until(ear, "Ear: over")
    spam = lines[1:-2]  # what came through, if anything: the first ones, in order
    assert spam == [f"Flood: spam {number}" for number in range(1, len(spam) + 1)]
    assert len(spam) <= 20
    assert lines[:1] + lines[-2:] == [
        "* Flood joined the party",
        "* Flood left",
        "Ear: over",
    ]
    await ear.close()


async def test_twenty_messages_at_once_are_fine(client) -> None:
    """A guest may say 20 things at once (how the limit refills: test_step6_floods)."""
    chatty = await join(client, "Chatty")
    for number in range(20):
        await chatty.send_str(f"line {number}")
    await lines_until(chatty, "Chatty: line 19")
    await chatty.close()


async def test_binary_gets_a_text_only_notice(site) -> None:
    """Bytes reach no one; the sender is told the party is text only."""
    bea = await join(site, "Bea")
    await bea.send_bytes(b"\x00\xff")
    assert await bea.receive_str(timeout=10) == "* text only, please"
    await bea.close()


async def test_party_url_in_a_browser_gets_426(site) -> None:
    """A plain GET on /party explains itself (426), as stage 3's chat URLs do."""
    async with site.get("/party?name=Sam") as response:
        assert response.status == 426
        assert "wsdump" in await response.text()


async def test_a_foreign_origin_gets_403_at_the_party(site) -> None:
    """A page from another site must not join the party (WebSocket hijacking)."""
    with pytest.raises(WSServerHandshakeError) as refused:
        await site.ws_connect("/party?name=Eve", origin="http://evil.example")
    assert refused.value.status == 403


async def test_the_party_turns_down_compression(site) -> None:
    """Every line goes to every guest: the server turns down permessage-deflate."""
    async with site.ws_connect("/party?name=Zip", compress=15) as ws:
        await lines_until(ws, "* Zip joined the party")
        assert ws.compress == 0


async def test_robot_dates_still_work(site) -> None:
    """Stage 3's routes are all still here: profiles, a date, a blind date."""
    async with site.get("/robots") as response:
        assert len(await response.json()) >= 4
    for path in ("/robots/ada", "/"):
        async with site.ws_connect(path) as ws:
            assert await ws.receive_str()
            await ws.send_str("hello!")
            assert await ws.receive_str()


async def test_a_guest_too_far_behind_is_cut_off_and_nobody_waits(
    aiohttp_client, app_module, caplog
) -> None:
    """A guest who stops reading is cut off once 256 KB wait for them; everyone who
    reads hears every line.

    Stage 5's sweeper would cut them off too, within two seconds; it is left out
    here, so that nothing but the party's own limit can save the room.
    """
    app = app_module.create_app()
    defences = sys.modules[f"{app_module.__package__}.defences"]
    app.cleanup_ctx.remove(defences.cut_off_stuck_clients)
    for once_a_second in logging.getLogger().filters:  # each stage's, on the root
        getattr(once_a_second, "last", {}).clear()  # logger: forget earlier tests
    client = await aiohttp_client(app)
    ear = await join(client, "Ear")
    stuck = await asyncio.to_thread(
        raw_websocket, client.port, "/party?name=Stuck", receive_buffer=4096
    )  # it never reads
    talkers = [await join(client, f"Talker{n}") for n in range(8)]
    listening = [asyncio.create_task(read_until_closed(t)) for t in talkers]
    heard: list[str] = []
    for number in range(20):  # 640 kB: far more than Stuck's connection holds
        said = {f"Talker{n}: {number:02} " + "x" * 3990 for n in range(8)}
        for line in sorted(said):
            talker, text = line.split(": ", 1)
            await talkers[int(talker.removeprefix("Talker"))].send_str(text)
        while not said <= set(heard):  # Ear reads as a phone would, nobody waits
            heard.append(await ear.receive_str(timeout=10))
    sent = {f"Talker{n}: {m:02} " + "x" * 3990 for n in range(8) for m in range(20)}
    while "* Stuck left" not in heard:
        heard.append(await ear.receive_str(timeout=10))
    assert len([line for line in heard if line.startswith("Talker")]) == len(sent)
    assert caplog.text.count("too far behind") == 1  # Stuck's, nobody else's
    assert "cut off a client too far behind: Stuck" in caplog.text
    stuck.close()
    for guest in (ear, *talkers):
        await guest.close()
    await asyncio.gather(*listening)


async def read_until_closed(ws: ClientWebSocketResponse) -> None:
    """A polite guest: reads every line, until the party is over for them."""
    while (await ws.receive()).type is WSMsgType.TEXT:
        pass


def text_from(ws: websocket.WebSocket) -> str:
    """The next line, with websocket-client (which the tests use for raw clients)."""
    line = ws.recv()
    assert isinstance(line, str), line
    return line


def test_a_guest_that_never_reads_is_cut_off_while_others_talk(shared_server) -> None:
    """On the real server, a guest that never reads is cut off; the rest hear all."""
    url = f"{shared_server.url}/party"
    with chat(f"{url}?name=Kim") as kim, chat(f"{url}?name=Sam") as sam:
        stuck = flood_without_reading(shared_server.port, "/party?name=Stuck")
        for number in range(10):
            sam.send(f"line {number}")
        heard: list[str] = []
        while "* Stuck left" not in heard or "Sam: line 9" not in heard:
            heard.append(text_from(kim))
        stuck.close()
    said = [line for line in heard if line.startswith("Sam: ")]
    assert said == [f"Sam: line {number}" for number in range(10)]
    assert "cut off" in shared_server.log()  # written before "* Stuck left" was said


def test_guests_who_vanish_cost_a_log_line_and_a_goodbye(shared_server) -> None:
    """Guests reset mid-party cost one short log line at most, and are said gone."""
    with chat(f"{shared_server.url}/party?name=Kim") as kim:
        kim.recv()
        for number in range(10):
            reset(raw_websocket(shared_server.port, f"/party?name=Ghost{number}"))
        heard: list[str] = []
        while len([line for line in heard if line.endswith(" left")]) < 10:
            heard.append(text_from(kim))
    lines = shared_server.log().splitlines()
    assert not [line for line in lines if line.startswith(" ")]  # no stack frames


def test_sigterm_says_1001_to_every_guest_even_with_one_that_never_reads(
    server,
) -> None:
    """SIGTERM (or Ctrl+C): every guest gets 1001, and the process ends at once."""
    stuck = flood_without_reading(server.port, "/party?name=Stuck")
    url = f"{server.url}/party"
    with chat(f"{url}?name=Sam") as sam, chat(f"{url}?name=Kim") as kim:
        sam.recv()
        kim.recv()
        server.process.send_signal(signal.SIGTERM)
        assert receive_close(sam) == (1001, "server shutdown")
        assert receive_close(kim) == (1001, "server shutdown")
    assert server.process.wait(timeout=5) == 0
    stuck.close()
