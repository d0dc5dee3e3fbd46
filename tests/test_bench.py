"""The benchmark still works: its servers, its clients, its report and its chart.

These are smoke tests: they check what the tools report, never how fast anything
was. Speed is for `make bench` to print, not for tests to assert.
"""

import importlib
import json
import math
import runpy
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import pytest

from bench import aiohttp_echo, fanout, instructions, limits, run, websockets_echo
from bench.report import Figures, Memory, Ratio, fanout_report, report
from harness import (
    FINISHED_STAGE,
    ROOT,
    STAGES,
    find_program,
    free_port,
    start_server,
    wait_until_listening,
)
from tests.conftest import missing_program
from tests.wsclient import chat, receive_close

ECHOES = ["bench.picows_echo", "bench.aiohttp_echo", "bench.websockets_echo"]


def run_load(url: str, *options: str, module: str = "bench.load") -> dict:
    result = subprocess.run(
        [sys.executable, "-m", module, url, "--json", *options],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout.splitlines()[-1])


@pytest.fixture(scope="module")
def echo_urls() -> Iterator[dict[str, str]]:
    """Each echo server started as `make bench` starts it, all at once: their URLs."""
    ports = {module: free_port() for module in ECHOES}
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", module, "--port", str(port)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )
        for module, port in ports.items()
    ]
    try:
        for process, port in zip(processes, ports.values(), strict=True):
            wait_until_listening(port, process, seconds=10)
        yield {module: f"ws://127.0.0.1:{port}/" for module, port in ports.items()}
    finally:
        for process in processes:
            process.terminate()
            process.wait()


@pytest.mark.stage("step2_loop")
def test_chat_load_reports_round_trips_and_no_errors(server) -> None:
    report = run_load(server.url, "--chats", "5", "--seconds", "1")
    assert report["errors"] == 0
    assert report["messages_per_second"] > 0
    assert 0 < report["p50_ms"] <= report["p99_ms"] <= report["max_ms"]


@pytest.mark.stage(run.MEMORY_STAGE)
def test_idle_load_opens_every_chat(server) -> None:
    report = run_load(
        f"{server.url}/robots/ada", "--greeting", "--idle", "50", "--hold", "0"
    )
    assert report == {"opened": 50, "errors": 0}


@pytest.mark.stage(run.MEMORY_STAGE)
def test_bye_load_ends_every_date_with_the_farewell_and_the_close(server) -> None:
    """Each bye chat counts only once it read the farewell and then the close."""
    report = run_load(f"{server.url}/robots/ada", "--greeting", "--bye", "20")
    assert report == {"finished": 20, "errors": 0}


@pytest.mark.parametrize("module", ECHOES)
def test_echo_server_sends_each_message_back(echo_urls: dict, module: str) -> None:
    with chat(echo_urls[module]) as ws:
        for message in ("hello!", "how are you?"):
            ws.send(message)
            assert ws.recv() == message


def test_echoes_keep_the_finished_stages_heartbeat_and_size_limit() -> None:
    """The baselines are fair only with the settings of the defences (stage 5 on)."""
    app = importlib.import_module(f"{FINISHED_STAGE}.app")
    defences = importlib.import_module(f"{FINISHED_STAGE}.defences")
    heartbeat = app.create_app()[defences.heartbeat]
    for echo in (aiohttp_echo, websockets_echo):
        assert echo.HEARTBEAT_SECONDS == heartbeat
        assert echo.MAX_MESSAGE_BYTES == defences.MAX_MESSAGE_BYTES
    assert len(instructions.LONG.encode()) < defences.MAX_MESSAGE_BYTES


def test_bench_measures_the_stages_as_they_are() -> None:
    """Every stage the benchmarks name exists; the bounds are the finished stage's."""
    named = {c.stage for c in run.CONTENDERS if c.stage is not None}
    named |= {row.module for row in instructions.ROWS if row.module.startswith("step")}
    assert named <= set(STAGES)
    assert run.DEPLOYED_STAGE == FINISHED_STAGE
    assert (ROOT / run.MEMORY_STAGE / "defences.py").exists()
    rows = {row.key: row for row in instructions.ROWS}
    assert rows["finished"].module == rows["finished_long"].module == FINISHED_STAGE


def test_make_bench_leaves_the_books_chart_alone_unless_asked() -> None:
    """The chart goes where git ignores it; CHART=docs/bench.png redraws the book's."""
    folder = run.CHART.parent.relative_to(ROOT).as_posix()
    assert f"{folder}/" in (ROOT / ".gitignore").read_text().splitlines()
    commands = {}
    for chart in ("", "docs/bench.png"):
        commands[chart] = subprocess.run(
            ["make", "--no-print-directory", "-n", "bench", f"CHART={chart}"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    assert "-m bench.run" in commands[""]
    assert "--chart" not in commands[""]
    assert '-m bench.run --chart "docs/bench.png"' in commands["docs/bench.png"]


@pytest.mark.parametrize("module", ["bench.aiohttp_echo", "bench.websockets_echo"])
def test_echo_closes_a_message_of_the_limit_with_1009(
    echo_urls: dict, module: str
) -> None:
    """aiohttp refuses a message of exactly max_msg_size; the websockets echo too."""
    with chat(echo_urls[module]) as ws:
        ws.send("x" * aiohttp_echo.MAX_MESSAGE_BYTES)
        assert receive_close(ws)[0] == 1009


@pytest.mark.parametrize(("offer", "compressed"), [(True, 3), (False, 0)])
def test_idle_client_offers_compression_only_when_asked(
    echo_urls: dict, offer: bool, compressed: int
) -> None:
    """aiohttp's echo accepts permessage-deflate whenever a client offers it."""
    options = ["--idle", "3", "--hold", "0"] + (["--offer-deflate"] if offer else [])
    url = echo_urls["bench.aiohttp_echo"]
    report = run_load(url, *options, module="bench.compression")
    assert report == {"opened": 3, "compressed": compressed, "errors": 0}


def figures(key: str, server_cpu: float, generator_cpu: float) -> Figures:
    return Figures(
        key=key,
        label=key.replace("_", " "),
        ours=key.startswith("stage"),
        messages_per_second=1000,
        p50_ms=1.0,
        p99_ms=2.0,
        errors=0,
        server_us_per_message=500,
        server_cpu=server_cpu,
        generator_cpu=generator_cpu,
        kib_per_idle_chat=10,
    )


def test_report_says_neither_side_is_saturated_below_90_percent() -> None:
    """59 % of a core for the server and 40 % for the generator name no bottleneck."""
    text = report([figures("stage_3", 59, 40)], [], None, "best of 3 rounds")
    assert "neither side is saturated" in text
    assert "bottleneck" not in text


def test_report_points_to_cpu_per_message_when_a_server_was_held_back() -> None:
    text = report(
        [figures("stage_7", 59, 40), figures("aiohttp_echo", 99, 60)],
        [Ratio("stage_7", over="aiohttp_echo")],
        None,
        "best of 3 rounds",
    )
    assert "from server CPU per message: 1.00" in text
    assert "the second figure is the steadier one" in text


def test_report_names_the_side_that_used_a_whole_core() -> None:
    text = report(
        [figures("stage_3", 98, 50), figures("picows_echo", 30, 97)],
        [],
        None,
        "best of 3 rounds",
    )
    assert "the server is the bottleneck" in text
    assert "the load generator is the bottleneck" in text


def test_report_gives_ratios_and_memory_against_their_targets() -> None:
    memory = Memory(
        label="stage 5",
        idle_chats=10,
        kib_offered=100,
        kib_not_offered=10,
        compressed=10,
        bye_chats=10,
        bye_finished=10,
        bye_errors=0,
        bye_mb=1.0,
        settle_seconds=2,
        many_chats=10,
        many_opened=10,
        many_errors=0,
    )
    text = report(
        [
            figures("stage_3", 99, 50),
            figures("aiohttp_echo", 99, 60),
            figures("gunicorn", 99, 70),
        ],
        [
            Ratio("stage_3", over="aiohttp_echo"),  # a figure to read, no target
            Ratio("gunicorn", over="stage_3", at_least=1.05),
        ],
        memory,
        "best of 3 rounds",
    )
    assert "stage 3 / aiohttp echo: 1.00; from server CPU per message" in text
    assert "gunicorn / stage 3: 1.00 (target ≥ 1.05: not met)" in text
    assert "the second figure is the steadier one" not in text  # both saturated
    assert "offered / not offered" in text
    assert "10.00  (target ≤ 1.5: not met)" in text


def test_chart_is_written_as_a_png(tmp_path: Path) -> None:
    chart = tmp_path / "docs" / "bench.png"
    from bench.chart import draw  # matplotlib: only this test needs it

    draw(
        [figures("picows_echo", 30, 97), figures("stage_3", 98, 50)],
        title="make bench",
        caption="a tiny run",
        path=chart,
    )
    assert chart.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_instruction_bounds_are_the_finished_stages() -> None:
    """Its 4 KB message costs at most 3 short ones; an echo needs 0.80 of its count."""
    counts = {row.key: 100_000.0 for row in instructions.ROWS}
    counts |= {"echo": 79_000, "finished_long": 300_000}
    text = instructions.report(counts)
    assert f"aiohttp echo / {instructions.FINISHED}" in text
    assert "0.79  (target ≥ 0.8: not met)" in text
    assert "3.00  (target ≤ 3: met)" in text


def test_gunicorn_config_uses_the_uvloop_worker_where_uvloop_is_installed() -> None:
    """make bench compares this production path with python -m of the same stage."""
    pytest.importorskip("uvloop")  # not on Windows: the config falls back then
    config = runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))
    assert config["worker_class"] == "aiohttp.GunicornUVLoopWebWorker"


def test_fanout_follows_every_line_to_every_guest() -> None:
    """A tiny fan-out: every line reaches every guest, at the party, at its peer and
    on two processes sharing Redis. Whether a step was fast enough is not checked."""
    if find_program("redis-server") is None:
        missing_program("redis-server not found: `apt install redis-server`")
    tiny = ["--guests", "10", "--steps", "1", "--first-rate", "200", "--seconds", "0.5"]
    command = [sys.executable, "-m", "bench.fanout", *tiny, "--json"]
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True) as run:
        try:
            output, _ = run.communicate(timeout=45)
        except subprocess.TimeoutExpired:
            run.terminate()  # SIGTERM: bench.fanout stops its servers on the way out
            run.communicate()
            raise
    assert run.returncode == 0
    assert limits.LIMIT_LIFTED in output
    searches = json.loads(output.splitlines()[-1])["searches"]
    assert [s["key"] for s in searches] == ["party", "peer", "redis"]
    for search in searches:
        assert search["guests"] == 10
        [step] = search["steps"]
        assert step["missing"] == step["lost"] == 0, search["label"]
        # Lines of the measured window were heard (a starved machine may hear them
        # only after the window: then the rate is 0, and that is not this test's).
        assert 0 < step["p50_ms"] <= step["p99_ms"] < math.inf


@pytest.mark.parametrize("module", [FINISHED_STAGE, fanout.PEER])
def test_peer_speaks_the_partys_line_protocol(tmp_path: Path, module: str) -> None:
    """The broadcast() peer says what the party says, line for line."""
    server = start_server(module, tmp_path / "server.log")
    try:
        with chat(f"{server.url}/party?name=Sam") as sam:
            assert sam.recv() == "* Sam joined the party"
            with chat(f"{server.url}/party?name=Kim") as kim:
                assert kim.recv() == sam.recv() == "* Kim joined the party"
                kim.send("hello!")
                assert kim.recv() == sam.recv() == "Kim: hello!"
            assert sam.recv() == "* Kim left"
    finally:
        server.stop()


def step(rate: float, passed: bool, limit: str = "the server") -> fanout.Step:
    return fanout.Step(
        asked_per_second=rate,
        speakers=10,
        delivered_per_second=rate if passed else rate / 2,
        p50_ms=1.0,
        p99_ms=2.0 if passed else 500.0,
        missing=0,
        lost=0,
        shares={"the server": 0.99 if limit == "the server" else 0.5},
        elsewhere=0.0,
        server_us_per_delivery=20.0,
        limit=limit,
        passed=passed,
    )


def test_search_grows_the_rate_then_closes_in_on_the_limit() -> None:
    """Up 1.5 times while steps pass; after a fail, halfway in ratio, twice; done."""
    assert fanout.next_rate([], 1000) == 1000
    steps = [step(1000, True), step(1500, True)]
    assert fanout.next_rate(steps, 1000) == pytest.approx(2250)
    steps.append(step(2250, False))
    between = fanout.next_rate(steps, 1000)
    assert between is not None
    assert between == pytest.approx((1500 * 2250) ** 0.5)
    steps.append(step(between, True))
    closer = fanout.next_rate(steps, 1000)
    assert closer is not None
    assert closer == pytest.approx((between * 2250) ** 0.5)
    steps.append(step(closer, False))
    assert fanout.next_rate(steps, 1000) is None


def test_search_runs_a_step_again_when_nothing_was_saturated() -> None:
    """Other work on the machine may have held it; after RETRIES, the fail counts."""
    steps = [step(1000, True)]
    for _ in range(fanout.RETRIES + 1):
        steps.append(step(1500, False, limit="nothing saturated"))
        expected = 1500 if len(steps) <= fanout.RETRIES + 1 else (1000 * 1500) ** 0.5
        assert fanout.next_rate(steps, 1000) == pytest.approx(expected)


def test_search_ends_when_the_generator_is_the_limit() -> None:
    """Even when the server used a whole core too: the load can grow no more."""
    shares = {"the server": 0.95, "the generator": 0.99}
    both = fanout.what_held_it(shares, elsewhere=0.0, pinned=True)
    assert both == "the server and the generator"
    steps = [step(1000, True), step(1500, True, limit=both)]
    assert fanout.next_rate(steps, 1000) is None
    assert fanout.next_rate([step(1000, False)], 1000) is None  # below the first


def search(key: str, guests: int, best: float, limit: str) -> dict:
    rates = [(20_000, True), (best, True), (best * 1.5, False)]
    steps = [asdict(step(rate, passed, limit)) for rate, passed in rates]
    labels = {"party": "the party", "peer": "the peer, broadcast()"}
    return {
        "key": key,
        "label": labels[key],
        "guests": guests,
        "join_seconds": 1.5,
        "kib_per_guest": 20.0,
        "steps": steps,
        "best": steps[1],
        "limit": limit,
    }


def test_fanout_counts_a_ratio_only_when_both_servers_were_the_limit() -> None:
    result = {
        "searches": [
            search("party", 100, 30_000, "the server"),
            search("peer", 100, 60_000, "the server"),
            search("party", 1000, 30_000, "the server"),
            search("peer", 1000, 40_000, "nothing saturated"),
        ]
    }
    text = fanout_report(result)
    assert "the party, 1,000 guests" in text
    assert "100 guests: deliveries/s 0.50 (counted" in text
    assert "1,000 guests: deliveries/s 0.75 (not counted" in text
    assert "at 20,000/s, the highest rate both passed" in text
    assert "a ratio of 1.00" in text


def test_fanout_marks_a_rate_the_generator_could_not_raise() -> None:
    """Not the server's limit: it could do more, as far as anyone knows."""
    result = {"searches": [search("party", 100, 30_000, "the generator")]}
    assert "≥ 30,000" in fanout_report(result)
    for limit in ("the server", "the server and the generator"):
        result = {"searches": [search("party", 100, 30_000, limit)]}
        assert "≥" not in fanout_report(result)


def test_chart_draws_the_fanout_below_the_chats(tmp_path: Path) -> None:
    chart = tmp_path / "bench.png"
    from bench.chart import draw  # matplotlib: only the chart tests need it

    result = {"searches": [search("party", 100, 30_000, "the server")]}
    draw([figures("stage_3", 98, 50)], "make bench", "a tiny run", chart, result)
    assert chart.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_bench_lifts_the_frame_limit_of_the_stages_that_have_one() -> None:
    """Its chats send hundreds of messages a second: 20 would cut them off."""
    for contender in run.CONTENDERS:
        if contender.key != "gunicorn" and contender.stage and run.present(contender):
            lifted = "--messages-per-second" in contender.command
            assert lifted == limits.counts_frames(contender.stage), contender.key
    assert limits.counts_frames(FINISHED_STAGE)
    assert not limits.counts_frames(run.MEMORY_STAGE)


def test_bench_gunicorn_config_is_deploys_with_no_frame_limit() -> None:
    """bench/gunicorn.conf.py keeps every production setting but the limit."""
    deployed = runpy.run_path(str(run.DEPLOY_CONFIG))
    bench = runpy.run_path(str(run.BENCH_CONFIG))
    assert [c.command[3] for c in run.CONTENDERS if c.key == "gunicorn"] == [
        str(run.BENCH_CONFIG)
    ]
    for name in ("worker_class", "workers", "bind", "graceful_timeout"):
        assert bench[name] == deployed[name]
    from gunicorn.util import import_app  # type: ignore[import-untyped]  # gunicorn's way

    app = import_app(bench["wsgi_app"])
    floods = importlib.import_module(f"{run.DEPLOYED_STAGE}.floods")
    assert app[floods.frames_per_second] == 0
