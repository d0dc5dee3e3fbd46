"""`make bench-instructions`: the server's cost per message in CPU instructions.

Messages per second swing by a third between runs on a small shared machine.
Instructions do not: valgrind's callgrind counts every one the server executes, the
same on a busy machine as on an idle one. Each row's server runs twice under
callgrind, once for a few and once for many round trips on one chat; the difference,
divided by the difference in round trips, is the cost of one message, with start-up
and shutdown cancelled out. Python's hash seed is fixed, so that sets and dicts are
laid out alike in every run: start-up then costs the same to within a few thousand
instructions, instead of a few hundred thousand. Since the counts do not depend on
timing, two runs share the machine at once. Needs valgrind (Debian: apt install
valgrind); takes a few minutes. The stages that count frames (step6_floods on) run
with their limit lifted, as in every benchmark (bench/limits.py).

The bounds hold for the finished stage, which `make run` starts and deploy/ serves:
the bare aiohttp echo with the same heartbeat needs at least 0.80 of the stage's
instructions per message, and a 4,000-byte message costs at most 3 short ones.
Stages 2 and 3 (no heartbeat) are rows to read beside them.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import websocket

from bench import machine
from bench.limits import LIMIT_LIFTED, no_frame_limit
from bench.report import target
from harness import FINISHED_STAGE, ROOT, free_port, wait_until_listening

FEW, MANY = 200, 1200
SHORT = "hello! how are you?"
LONG = "ab " * 1333 + "a"  # 4,000 bytes: under the defences' limit of 4,096
RUNS_AT_ONCE = 2


@dataclass(frozen=True)
class Row:
    """A server, and the message its chat sends over and over."""

    key: str
    label: str
    module: str  # python -m <module> --host H --port P starts it
    path: str = "/"
    greeting: bool = False  # the server speaks first
    message: str = SHORT
    few: int = FEW
    many: int = MANY


FINISHED = f"stage {FINISHED_STAGE.removeprefix('step')[0]}"  # "stage 9"
ECHO_OVER_FINISHED_AT_LEAST = 0.80
LONG_OVER_SHORT_AT_MOST = 3

ROWS = [
    Row("echo", "aiohttp echo, same heartbeat", "bench.aiohttp_echo"),
    Row("step2_loop", "stage 2, no heartbeat", "step2_loop"),
    Row(
        "step3_robots",
        "stage 3, no heartbeat",
        "step3_robots",
        "/robots/ada",
        greeting=True,
    ),
    Row("finished", FINISHED, FINISHED_STAGE, "/robots/ada", greeting=True),
    Row(
        "finished_long",
        f"{FINISHED}, a {len(LONG.encode()):,}-byte message",
        FINISHED_STAGE,
        "/robots/ada",
        greeting=True,
        message=LONG,
        few=FEW // 10,  # a long message costs far more: fewer keep the run short
        many=MANY // 10,
    ),
]


def server_environment(folder: Path) -> dict[str, str]:
    """The same hash seed in every run, and compiled modules kept in `folder`."""
    environment = {
        **os.environ,
        "PYTHONHASHSEED": "0",
        "PYTHONPYCACHEPREFIX": str(folder / "pycache"),
    }
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    return environment


def compile_modules(row: Row, folder: Path) -> None:
    """Import the server once outside valgrind, so that no run compiles Python."""
    subprocess.run(
        [sys.executable, "-m", row.module, "--help"],
        cwd=ROOT,
        env=server_environment(folder),
        stdout=subprocess.DEVNULL,
        check=True,
    )


def instructions(row: Row, round_trips: int, folder: Path) -> int:
    """All instructions one server process executes, from start to Ctrl+C."""
    port = free_port()
    counts = folder / f"{row.key}.{round_trips}.callgrind"
    server = subprocess.Popen(
        [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={counts}",
            sys.executable,
            *("-m", row.module, "--host", "127.0.0.1", "--port", str(port)),
            *no_frame_limit(row.module),
        ],
        cwd=ROOT,
        env=server_environment(folder),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_listening(port, server, seconds=300)  # valgrind starts slowly
        ws = websocket.create_connection(f"ws://127.0.0.1:{port}{row.path}", timeout=60)
        if row.greeting:
            ws.recv()
        for _ in range(round_trips):
            ws.send(row.message)
            ws.recv()
        ws.close()
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=120)
    summary = re.search(r"^summary: (\d+)", counts.read_text(), re.M)
    if summary is None:
        raise RuntimeError(f"callgrind wrote no summary line to {counts}")
    return int(summary[1])


def per_message(row: Row, folder: Path) -> float:
    print(f"{row.label}: {row.few} and {row.many} round trips", flush=True)
    began = time.monotonic()
    compile_modules(row, folder)
    few = instructions(row, row.few, folder)
    many = instructions(row, row.many, folder)
    print(f"{row.label}: done in {time.monotonic() - began:.0f} s", flush=True)
    return (many - few) / (row.many - row.few)


def report(counts: dict[str, float]) -> str:
    """The table, and the two ratios of the finished stage with their targets."""
    echo = counts["echo"] / counts["finished"]
    long = counts["finished_long"] / counts["finished"]
    counted = [(row.label, f"{counts[row.key]:,.0f}", "") for row in ROWS]
    ratios = [
        (
            f"aiohttp echo / {FINISHED}",
            f"{echo:.2f}",
            target(echo, at_least=ECHO_OVER_FINISHED_AT_LEAST),
        ),
        (
            f"{FINISHED}, long message / short",
            f"{long:.2f}",
            target(long, at_most=LONG_OVER_SHORT_AT_MOST),
        ),
    ]
    width = max(len(name) for name, _, _ in counted + ratios) + 2

    def lines(rows: list[tuple[str, str, str]]) -> list[str]:
        return [
            f"  {name:{width}}{value:>10}" + (f"  ({note})" if note else "")
            for name, value, note in rows
        ]

    return "\n".join(
        [
            "instructions per message (the server's, one chat)",
            *lines(counted),
            "",
            *lines(ratios),
            f"aiohttp echo / {FINISHED} is the share of the echo's rate that the",
            "finished stage can reach when the server's CPU is the limit.",
        ]
    )


def main() -> None:
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is needed: apt install valgrind (Debian, Ubuntu)")
    began = time.monotonic()
    print(f"machine: {machine.describe()}", flush=True)
    print(LIMIT_LIFTED, flush=True)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        with ThreadPoolExecutor(RUNS_AT_ONCE) as pool:
            futures = {row.key: pool.submit(per_message, row, folder) for row in ROWS}
        counts = {key: future.result() for key, future in futures.items()}
    print()
    print(report(counts))
    print(f"\nmake bench-instructions took {time.monotonic() - began:.0f} s")


if __name__ == "__main__":
    main()
