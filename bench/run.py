"""`make bench`: the same load against stage 2 and stage 3, side by side.

Three servers start on free loopback ports: a picows echo server that costs next to
nothing (its figure is the load generator's own ceiling), stage 2 and stage 3. Each
is warmed first by a few chats that talk and close: a Python server that has never
seen a connection close runs at about half speed (glibc keeps mapping and unmapping
asyncio's read buffer until one is freed). The chat load then runs in rounds that
take turns between the servers, and each keeps its best round, because a small
shared machine is noisy. Everything is bounded in connections and time.
"""

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import psutil

from bench.load import allow_many_sockets
from harness import free_port, start_server, wait_until_listening

CHATS = 100
SECONDS = 5
ROUNDS = 3
IDLE_CHATS = 2000
MANY_IDLE_CHATS = 10_000


@dataclass
class Target:
    name: str
    url: str
    process: psutil.Process


def run_generator(url: str, *options: str, on_line=print) -> dict:
    """Run bench.load to the end, pass on its progress, and return its result."""
    command = [sys.executable, "-m", "bench.load", url, "--json", *options]
    if "/robots/" in url:
        command.append("--greeting")  # stage 3's robots speak first
    result = {}
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as load:
        for line in load.stdout:
            if line.startswith("{"):
                result = json.loads(line)
            else:
                on_line(line.rstrip())
    if load.returncode != 0:
        raise RuntimeError(f"the load generator failed with {load.returncode}")
    return result


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def children_cpu_seconds() -> float:
    times = os.times()
    return times.children_user + times.children_system


def chat_load(target: Target) -> dict:
    print(f"{target.name}: {CHATS} chats talking for {SECONDS} s")
    server_before, generator_before = (
        cpu_seconds(target.process),
        children_cpu_seconds(),
    )
    started = time.monotonic()
    result = run_generator(target.url, "--chats", str(CHATS), "--seconds", str(SECONDS))
    wall = time.monotonic() - started
    server_cpu = cpu_seconds(target.process) - server_before
    messages = result["messages_per_second"] * SECONDS
    result["server_us_per_msg"] = 1e6 * server_cpu / messages if messages else 0.0
    result["server_cpu_%"] = 100 * server_cpu / wall
    result["generator_cpu_%"] = 100 * (children_cpu_seconds() - generator_before) / wall
    return result


def kib_per_idle_chat(target: Target) -> float:
    print(f"{target.name}: {IDLE_CHATS} idle chats")
    rss_before = target.process.memory_info().rss
    rss_open = rss_before

    def on_line(line: str) -> None:
        nonlocal rss_open
        print(line)
        if "idle chats open" in line:
            rss_open = target.process.memory_info().rss

    run_generator(target.url, "--idle", str(IDLE_CHATS), on_line=on_line)
    return (rss_open - rss_before) / IDLE_CHATS / 1024


def start_echo(stack: ExitStack) -> Target:
    port = free_port()
    command = [sys.executable, "-m", "bench.picows_echo", "--port", str(port)]
    echo = stack.enter_context(subprocess.Popen(command))
    stack.callback(echo.terminate)
    wait_until_listening(port, echo, seconds=10)
    return Target("echo", f"ws://127.0.0.1:{port}/", psutil.Process(echo.pid))


def start_stage(stack: ExitStack, stage: str, path: str, folder: Path) -> Target:
    server = start_server(stage, folder / f"{stage}.log")
    stack.callback(server.stop)
    return Target(stage, server.url + path, psutil.Process(server.process.pid))


def hold_many_idle_chats(folder: Path) -> dict:
    with ExitStack() as stack:
        target = start_stage(stack, "step3_robots", "/robots/ada", folder)
        print(f"step3_robots: {MANY_IDLE_CHATS} idle chats in a fresh process")
        return run_generator(target.url, "--idle", str(MANY_IDLE_CHATS))


def print_report(best: dict, kib: dict, many: dict) -> None:
    two, three = best["step2_loop"], best["step3_robots"]
    two["kib_per_idle_chat"] = kib["step2_loop"]
    three["kib_per_idle_chat"] = kib["step3_robots"]
    heading = f"best of {ROUNDS} rounds"
    print(f"\n{heading:20}{'stage 2':>10}{'stage 3':>10}{'3 / 2':>8}")
    for key in two:
        ratio = f"{three[key] / two[key]:8.2f}" if two[key] else f"{'-':>8}"
        print(f"{key:20}{two[key]:10.1f}{three[key]:10.1f}{ratio}")
    ceiling = best["echo"]["messages_per_second"]
    print(f"\nload generator's ceiling (echo server): {ceiling:.0f} messages/s")
    for stage in ("step2_loop", "step3_robots"):
        server, generator = best[stage]["server_cpu_%"], best[stage]["generator_cpu_%"]
        side = "server" if server >= generator else "load generator"
        share = best[stage]["messages_per_second"] / ceiling
        print(
            f"{stage}: the {side} is the bottleneck (server {server:.0f} %, "
            f"generator {generator:.0f} % of a core; {share:.0%} of the ceiling)"
        )
    print(
        f"step3_robots held {many['opened']} idle chats in one process, "
        f"{many['errors']} errors"
    )


def main() -> None:
    allow_many_sockets()  # the servers started below inherit the higher limit
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, "
        f"Python {platform.python_version()}, {platform.system()}"
    )
    with tempfile.TemporaryDirectory() as name, ExitStack() as stack:
        folder = Path(name)
        targets = [
            start_echo(stack),
            start_stage(stack, "step2_loop", "/", folder),
            start_stage(stack, "step3_robots", "/robots/ada", folder),
        ]
        for target in targets:
            run_generator(target.url, "--chats", "10", "--seconds", "1")
            print(f"{target.name}: warmed up by 10 chats that talked, then closed")
        best: dict[str, dict] = {}
        for _round in range(ROUNDS):
            for target in targets:
                result = chat_load(target)
                if result["messages_per_second"] > best.get(target.name, {}).get(
                    "messages_per_second", -1
                ):
                    best[target.name] = result
        kib = {target.name: kib_per_idle_chat(target) for target in targets[1:]}
    with tempfile.TemporaryDirectory() as name:
        many = hold_many_idle_chats(Path(name))
    print_report(best, kib, many)


if __name__ == "__main__":
    main()
