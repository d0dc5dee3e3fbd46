"""`make bench`: the same load against stage 2 and stage 3, side by side.

First the generator's own ceiling, against a picows echo server that costs next to
nothing. Then each stage in its own process on a free loopback port. Before a stage
is measured, a few chats talk and close: a Python server that has never seen a
connection close runs at about half speed (glibc keeps mapping and unmapping
asyncio's read buffer until one is freed), which would not be a fair start.
Everything is bounded in connections and time, and stops by itself.
"""

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from bench.load import allow_many_sockets
from tests.conftest import Server, free_port, start_server, wait_until_listening

CHATS = 100
SECONDS = 10
IDLE_CHATS = 2000
MANY_IDLE_CHATS = 10_000
STAGES = {"step2_loop": "/", "step3_robots": "/robots/ada"}


def run_generator(url: str, *options: str) -> dict:
    """Run bench.load to the end, echo its progress, and return its result."""
    command = [sys.executable, "-m", "bench.load", url, "--json", *options]
    if "/robots/" in url:
        command.append("--greeting")
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as load:
        for line in load.stdout:
            if line.startswith("{"):
                result = json.loads(line)
            else:
                print(line, end="", flush=True)
    if load.returncode != 0:
        raise RuntimeError(f"the load generator failed ({load.returncode})")
    return result


def children_cpu_seconds() -> float:
    times = os.times()
    return times.children_user + times.children_system


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def chat_load(name: str, url: str, server: psutil.Process) -> dict:
    run_generator(url, "--chats", "10", "--seconds", "1")
    print(f"{name}: warmed up: 10 chats talked for a second, then closed")
    print(f"{name}: {CHATS} chats talking for {SECONDS} s")
    server_before, generator_before = cpu_seconds(server), children_cpu_seconds()
    started = time.monotonic()
    result = run_generator(url, "--chats", str(CHATS), "--seconds", str(SECONDS))
    wall = time.monotonic() - started
    result["server_cpu_%"] = 100 * (cpu_seconds(server) - server_before) / wall
    result["generator_cpu_%"] = 100 * (children_cpu_seconds() - generator_before) / wall
    return result


def kib_per_idle_chat(name: str, url: str, server: psutil.Process) -> float:
    print(f"{name}: {IDLE_CHATS} idle chats")
    rss_before = server.memory_info().rss
    command = [sys.executable, "-m", "bench.load", url, "--idle", str(IDLE_CHATS)]
    if "/robots/" in url:
        command.append("--greeting")
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as load:
        for line in load.stdout:
            print(line, end="", flush=True)
            if "idle chats open" in line:
                rss_open = server.memory_info().rss
    return (rss_open - rss_before) / IDLE_CHATS / 1024


def measure_stage(stage: str, folder: Path) -> dict:
    server: Server = start_server(stage, folder / f"{stage}.log")
    try:
        process = psutil.Process(server.process.pid)
        url = server.url + STAGES[stage]
        result = chat_load(stage, url, process)
        result["kib_per_idle_chat"] = kib_per_idle_chat(stage, url, process)
        return result
    finally:
        server.stop()


def measure_ceiling() -> dict:
    port = free_port()
    command = [sys.executable, "-m", "bench.echo", "--port", str(port)]
    with subprocess.Popen(command) as echo:
        try:
            wait_until_listening(port, echo, seconds=10)
            return chat_load(
                "echo (ceiling)", f"ws://127.0.0.1:{port}/", psutil.Process(echo.pid)
            )
        finally:
            echo.terminate()


def hold_many_idle_chats(folder: Path) -> dict:
    server = start_server("step3_robots", folder / "many.log")
    try:
        print(f"step3_robots: {MANY_IDLE_CHATS} idle chats in one process")
        return run_generator(f"{server.url}/robots/ada", "--idle", str(MANY_IDLE_CHATS))
    finally:
        server.stop()


def main() -> None:
    allow_many_sockets()  # the servers started below inherit the higher limit
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {platform.system()}"
    )
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        ceiling = measure_ceiling()
        results = {stage: measure_stage(stage, folder) for stage in STAGES}
        many = hold_many_idle_chats(folder)

    two, three = results["step2_loop"], results["step3_robots"]
    print(f"\n{'':20}{'stage 2':>10}{'stage 3':>10}{'3 / 2':>8}")
    for key in two:
        ratio = f"{three[key] / two[key]:8.2f}" if two[key] else f"{'-':>8}"
        print(f"{key:20}{two[key]:10.1f}{three[key]:10.1f}{ratio}")
    top_rate = ceiling["messages_per_second"]
    print(f"\ngenerator ceiling (picows echo server): {top_rate:.0f} messages/s")
    for stage, result in results.items():
        server, generator = result["server_cpu_%"], result["generator_cpu_%"]
        side = "server" if server >= generator else "generator"
        share = result["messages_per_second"] / top_rate
        print(
            f"{stage}: the {side} is the bottleneck (server {server:.0f} %, "
            f"generator {generator:.0f} % of a core; {share:.0%} of the ceiling)"
        )
    opened, errors = many["opened"], many["errors"]
    print(f"step3_robots held {opened} idle chats in one process, {errors} errors")


if __name__ == "__main__":
    main()
