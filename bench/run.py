"""`make bench`: every server under the same load, side by side, and a chart of it.

    python -m bench.run                          # the chart in bench-results/
    python -m bench.run --chart docs/bench.png   # the book's chart, to commit

The servers in CONTENDERS start on free loopback ports: a picows echo that costs next
to nothing (its figure is the load generator's own ceiling), a bare aiohttp echo with
the heartbeat and size limit of step5_internet/defences.py (what aiohttp itself costs;
all above it is the stage's own code), a bare echo on the websockets library, the
stages, and the production path (gunicorn with deploy/gunicorn.conf.py and one
worker). Stages that do not exist yet are skipped.

The benchmarks lift the 20-a-second limit: a chat here sends its next message as soon
as the answer comes, hundreds a second, and the stages from step6_floods on would cut
it off. So they start with `--messages-per-second 0`, and gunicorn with
bench/gunicorn.conf.py, deploy/'s settings with the same limit lifted.

Each server is warmed first by a few chats that talk and close: a Python server that
has never seen a connection close runs at about half speed (glibc keeps mapping and
unmapping asyncio's read buffer until one is freed). On Linux the servers run on one
core and the load generator on another, so they never fight over a core. The chat
load then runs in rounds that take turns between the servers, and each keeps its best
round, because a small shared machine is noisy. Memory per idle chat follows, then
memory figures of stage 5, the stage that adds the defences, each in a fresh
process. Last comes the party's fan-out beside its peer (bench/fanout.py, in a
process of its own), and the chart shows both. Everything is bounded in connections
and time, and talks over loopback only.
"""

import argparse
import json
import runpy
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import psutil

from bench import machine
from bench.limits import LIMIT_LIFTED, no_frame_limit
from bench.load import TALKING, TIME_IS_UP, allow_many_sockets
from bench.report import Figures, Memory, Ratio, fanout_report, report
from harness import FINISHED_STAGE, ROOT, free_port, wait_until_listening

CHATS = 100
SECONDS = 5
ROUNDS = 2  # 3 before the fan-out search came: `make bench` stays near 6 minutes
WARM_UP_CHATS = 10
IDLE_CHATS = 2000
BYE_CHATS = 6000
SETTLE_SECONDS = 2  # after the bye chats, before the memory is read
MANY_IDLE_CHATS = 10_000
# Untracked (.gitignore): a run on your machine leaves the book's docs/bench.png alone.
CHART = ROOT / "bench-results" / "bench.png"

# The deployment config alone names the app it serves; read it from there.
DEPLOY_CONFIG = ROOT / "deploy" / "gunicorn.conf.py"
DEPLOYED = runpy.run_path(str(DEPLOY_CONFIG))
BENCH_CONFIG = ROOT / "bench" / "gunicorn.conf.py"  # the same, with no frame limit
DEPLOYED_STAGE = DEPLOYED["wsgi_app"].partition(".")[0]
DEPLOYED_LOOP = "uvloop" if "UVLoop" in DEPLOYED["worker_class"] else "asyncio"
MEMORY_STAGE = "step5_internet"  # the stage whose defences.py sets what memory costs


@dataclass(frozen=True)
class Contender:
    """A server to measure, and how to start it on a free port."""

    key: str
    label: str
    command: tuple[str, ...]  # after `python`; "{port}" becomes the port
    path: str = "/"
    greeting: bool = False  # the server speaks first (a robot's greeting)
    stage: str | None = None  # the stage folder it needs; skipped until it exists
    forks_worker: bool = False  # gunicorn: the worker, not the master, serves


def stage_label(folder: str) -> str:
    return f"stage {folder.removeprefix('step')[0]}"  # "step3_robots" -> "stage 3"


def stage(
    folder: str, path: str = "/robots/ada", greeting: bool = True, label: str = ""
) -> Contender:
    """A stage started the way a learner starts it: python -m <folder>, and with no
    frame limit where it has one."""
    return Contender(
        key=folder,
        label=label or stage_label(folder),
        command=(
            *("-m", folder, "--host", "127.0.0.1", "--port", "{port}"),
            *no_frame_limit(folder),
        ),
        path=path,
        greeting=greeting,
        stage=folder,
    )


def echo(name: str, label: str) -> Contender:
    return Contender(name, label, ("-m", f"bench.{name}", "--port", "{port}"))


# One line per server; the table and the chart follow this order.
CONTENDERS = [
    echo("picows_echo", "picows echo (the generator's ceiling)"),
    echo("aiohttp_echo", "aiohttp echo, same heartbeat"),
    echo("websockets_echo", "websockets echo"),
    stage("step2_loop", path="/", greeting=False),
    stage("step3_robots", label="stage 3, no heartbeat"),
    stage("step5_internet", label="stage 5, with its defences"),
    stage(FINISHED_STAGE, label=f"{stage_label(FINISHED_STAGE)}, one-to-one chats"),
    Contender(
        key="gunicorn",
        label=f"{stage_label(DEPLOYED_STAGE)}, gunicorn, 1 {DEPLOYED_LOOP} worker",
        command=(
            *("-m", "gunicorn", "--config", str(BENCH_CONFIG)),
            *("--workers", "1", "--bind", "127.0.0.1:{port}"),
        ),
        path="/robots/ada",
        greeting=True,
        stage=DEPLOYED_STAGE,
        forks_worker=True,
    ),
]
# How much of what aiohttp itself can do the stages keep: figures to read (their
# steady bound is an instruction count: make bench-instructions). The target of
# issue 12 that stays: the production path is faster than `python -m`.
RATIOS = [
    Ratio("step3_robots", over="aiohttp_echo"),
    Ratio(FINISHED_STAGE, over="aiohttp_echo"),
    Ratio("gunicorn", over=DEPLOYED_STAGE, at_least=1.05),
]


CORES = machine.CORES
SERVERS, GENERATOR = 0, 1  # which of the two cores


def pin(process: psutil.Process, side: int) -> None:
    """Keep a process and its children on the servers' core or the generator's."""
    if CORES is not None:
        for each in (process, *process.children(recursive=True)):
            each.cpu_affinity([CORES[side]])


@dataclass
class Running:
    contender: Contender
    url: str
    process: psutil.Process  # the process that serves the chats


def start(stack: ExitStack, contender: Contender, folder: Path) -> Running:
    """Start a server, stopped when `stack` closes; warm it up, and pin it."""
    port = free_port()
    log_path = folder / f"{contender.key}.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, *(part.format(port=port) for part in contender.command)],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    stack.callback(stop, process)
    try:
        wait_until_listening(port, process, seconds=15)
    except RuntimeError:
        raise RuntimeError(f"{contender.label}:\n{log_path.read_text()}") from None
    server = psutil.Process(process.pid)
    pin(server, SERVERS)
    if contender.forks_worker:
        server = the_worker(server)
        pin(server, SERVERS)
    running = Running(contender, f"ws://127.0.0.1:{port}{contender.path}", server)
    run_generator(running, "--chats", str(WARM_UP_CHATS), "--seconds", "1")
    print(f"{contender.label}: warmed up by {WARM_UP_CHATS} chats that talked, closed")
    return running


def the_worker(master: psutil.Process) -> psutil.Process:
    """gunicorn's master listens before its worker has booted: wait for the worker."""
    deadline = time.monotonic() + 15
    while not master.children() and time.monotonic() < deadline:
        time.sleep(0.05)
    return master.children()[0]


def stop(process: subprocess.Popen) -> None:
    process.terminate()  # every server here ends gracefully on SIGTERM, or just ends
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def run_generator(
    running: Running,
    *options: str,
    module: str = "bench.load",
    on_line: Callable[[str, psutil.Process], None] | None = None,
) -> dict:
    """Run a load generator to the end, print its progress, and return its result.

    `on_line` sees each line of progress as it comes, and the generator's process.
    """
    command = [sys.executable, "-m", module, running.url, "--json", *options]
    if running.contender.greeting:
        command.append("--greeting")
    result = {}
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True) as load:
        generator = psutil.Process(load.pid)
        pin(generator, GENERATOR)
        assert load.stdout is not None  # stdout=PIPE above
        for line in load.stdout:
            if line.startswith("{"):
                result = json.loads(line)
                continue
            print(line.rstrip())
            if on_line is not None:
                on_line(line.rstrip(), generator)
    if load.returncode != 0:
        raise RuntimeError(f"{module} failed with {load.returncode}")
    return result


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def chat_load(running: Running) -> Figures:
    """CHATS chats talk for SECONDS; CPU time counts only while they talk."""
    contender = running.contender
    print(f"{contender.label}: {CHATS} chats talking for {SECONDS} s")
    marks = {}  # the clock and both sides' CPU time when the talk starts and stops

    def mark(line: str, generator: psutil.Process) -> None:
        if line in (TALKING, TIME_IS_UP):
            marks[line] = (
                time.monotonic(),
                cpu_seconds(running.process),
                cpu_seconds(generator),
            )

    result = run_generator(
        running, "--chats", str(CHATS), "--seconds", str(SECONDS), on_line=mark
    )
    wall, server, generator = (
        stop - start
        for start, stop in zip(marks[TALKING], marks[TIME_IS_UP], strict=True)
    )
    messages = result["messages_per_second"] * SECONDS
    return Figures(
        key=contender.key,
        label=contender.label,
        ours=contender.stage is not None,
        messages_per_second=result["messages_per_second"],
        p50_ms=result["p50_ms"],
        p99_ms=result["p99_ms"],
        errors=result["errors"],
        server_us_per_message=1e6 * server / messages if messages else 0.0,
        server_cpu=100 * server / wall,
        generator_cpu=100 * generator / wall,
    )


def kib_per_idle_chat(
    running: Running, *options: str, module: str = "bench.load", how: str = ""
) -> dict:
    """Open IDLE_CHATS quiet chats; the server's memory growth per chat, in KiB."""
    print(f"{running.contender.label}: {IDLE_CHATS} idle chats{how}")
    rss_before = rss_open = running.process.memory_info().rss

    def measure(line: str, _generator: psutil.Process) -> None:
        nonlocal rss_open
        if "idle chats open" in line:
            rss_open = running.process.memory_info().rss

    result = run_generator(
        running, "--idle", str(IDLE_CHATS), *options, module=module, on_line=measure
    )
    return {**result, "kib": (rss_open - rss_before) / IDLE_CHATS / 1024}


def idle_chats_from_aiohttp(contender: Contender, folder: Path, offer: bool) -> dict:
    """KiB per idle chat in a fresh server, the client offering compression or not."""
    with ExitStack() as stack:
        running = start(stack, contender, folder)
        if offer:
            options, how = ["--offer-deflate"], " offering compression"
        else:
            options, how = [], " not offering compression"
        return kib_per_idle_chat(running, *options, module="bench.compression", how=how)


def measure_memory(folder: Path) -> Memory:
    """MEMORY_STAGE's memory: each figure in a fresh process, unmixed with others."""
    contender = next(c for c in CONTENDERS if c.key == MEMORY_STAGE)
    offered = idle_chats_from_aiohttp(contender, folder, offer=True)
    not_offered = idle_chats_from_aiohttp(contender, folder, offer=False)
    with ExitStack() as stack:
        running = start(stack, contender, folder)
        print(f"{contender.label}: {BYE_CHATS} chats say bye")
        rss_before = running.process.memory_info().rss
        bye = run_generator(running, "--bye", str(BYE_CHATS))
        time.sleep(SETTLE_SECONDS)
        bye_mb = (running.process.memory_info().rss - rss_before) / 1e6
    with ExitStack() as stack:
        running = start(stack, contender, folder)
        print(f"{contender.label}: {MANY_IDLE_CHATS} idle chats")
        many = run_generator(running, "--idle", str(MANY_IDLE_CHATS))
    return Memory(
        label=contender.label,
        idle_chats=IDLE_CHATS,
        kib_offered=offered["kib"],
        kib_not_offered=not_offered["kib"],
        compressed=offered["compressed"],
        bye_chats=BYE_CHATS,
        bye_finished=bye["finished"],
        bye_errors=bye["errors"],
        bye_mb=bye_mb,
        settle_seconds=SETTLE_SECONDS,
        many_chats=MANY_IDLE_CHATS,
        many_opened=many["opened"],
        many_errors=many["errors"],
    )


def run_fanout() -> dict | None:
    """The party's fan-out (bench/fanout.py) in a process of its own: its figures,
    or None if it failed (the chats' figures are still worth printing)."""
    print("\nthe party's fan-out, beside a peer on websockets' broadcast()", flush=True)
    command = [sys.executable, "-m", "bench.fanout", "--json"]
    result = {}
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True) as run:
        assert run.stdout is not None  # stdout=PIPE above
        for line in run.stdout:
            if line.startswith("{"):
                result = json.loads(line)
            else:
                print(line.rstrip(), flush=True)
    if run.returncode != 0 or not result:
        print(f"bench.fanout failed with {run.returncode}: no fan-out this time")
        return None
    return result


def present(contender: Contender) -> bool:
    return contender.stage is None or (ROOT / contender.stage / "__main__.py").exists()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chart", type=Path, default=CHART, help="the PNG to write")
    args = parser.parse_args()
    began = time.monotonic()
    allow_many_sockets()  # the servers started below inherit the higher limit
    description = machine.describe()
    print(f"machine: {description}")
    print(LIMIT_LIFTED)
    if CORES is None:
        print("servers and load generator share the cores (pinning needs Linux)")
    else:
        print(f"servers run on core {CORES[0]}, the load generator on core {CORES[1]}")
    contenders = [c for c in CONTENDERS if present(c)]
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        with ExitStack() as stack:
            servers = [start(stack, contender, folder) for contender in contenders]
            best: dict[str, Figures] = {}
            for _round in range(ROUNDS):
                for running in servers:
                    figures = chat_load(running)
                    key = running.contender.key
                    if key not in best or (
                        figures.messages_per_second > best[key].messages_per_second
                    ):
                        best[key] = figures
            for running in servers:
                best[running.contender.key].kib_per_idle_chat = kib_per_idle_chat(
                    running
                )["kib"]
        memory = measure_memory(folder)
    fanned = run_fanout()
    results = [best[c.key] for c in contenders]
    heading = f"best of {ROUNDS} rounds"
    print(f"\nmachine: {description}")
    print(LIMIT_LIFTED)
    print(report(results, RATIOS, memory, heading))
    if fanned is not None:
        print(f"\n{fanout_report(fanned)}")
    from bench import chart  # matplotlib: only when a chart is drawn

    chart.draw(
        results,
        title=f"make bench: {CHATS} chats at once, best of {ROUNDS} rounds of "
        f"{SECONDS} s; {IDLE_CHATS:,} idle chats",
        caption=f"{description}, {date.today():%d %B %Y}",
        path=args.chart,
        fanout=fanned,
        fanout_title="the party's fan-out: the most deliveries a second (a line "
        "to a guest) with p99 under 200 ms",
    )
    print(f"\nchart: {args.chart}")
    print(f"make bench took {time.monotonic() - began:.0f} s")


if __name__ == "__main__":
    main()
