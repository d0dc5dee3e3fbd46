"""`make bench-instructions`: the server's cost per message in CPU instructions.

Messages per second swing by a third between runs on a small shared machine.
Instructions do not: valgrind's callgrind counts every one the server executes, the
same on a busy machine as on an idle one. Each stage runs twice under callgrind, once
for FEW and once for MANY round trips on one chat; the difference, divided by
MANY - FEW, is the cost of one message, with start-up and shutdown cancelled out.
Needs valgrind (Debian: apt install valgrind); takes about a minute and a half.
"""

import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import websocket

from harness import ROOT, free_port, wait_until_listening

FEW, MANY = 200, 1200
STAGES = {"step2_loop": "/", "step3_robots": "/robots/ada"}


def instructions(stage: str, path: str, round_trips: int, folder: Path) -> int:
    """All instructions one server process executes, from start to Ctrl+C."""
    port = free_port()
    counts = folder / f"{stage}.{round_trips}.callgrind"
    server = subprocess.Popen(
        [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={counts}",
            sys.executable,
            "-m",
            stage,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_listening(port, server, seconds=120)  # valgrind starts slowly
        ws = websocket.create_connection(f"ws://127.0.0.1:{port}{path}", timeout=60)
        if stage == "step3_robots":
            ws.recv()  # the greeting
        for _ in range(round_trips):
            ws.send("hello! how are you?")
            ws.recv()
        ws.close()
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=120)
    return int(re.search(r"^summary: (\d+)", counts.read_text(), re.M).group(1))


def main() -> None:
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is needed: apt install valgrind (Debian, Ubuntu)")
    per_message = {}
    with tempfile.TemporaryDirectory() as name:
        for stage, path in STAGES.items():
            print(f"{stage}: {FEW} and {MANY} round trips under callgrind", flush=True)
            few = instructions(stage, path, FEW, Path(name))
            many = instructions(stage, path, MANY, Path(name))
            per_message[stage] = (many - few) / (MANY - FEW)
    two, three = per_message["step2_loop"], per_message["step3_robots"]
    print(
        f"\n{'instructions per message':28}{'stage 2':>10}{'stage 3':>10}{'2 / 3':>8}"
    )
    print(f"{'(server, one chat)':28}{two:10.0f}{three:10.0f}{two / three:8.2f}")
    print("2 / 3 is the share of stage 2's rate that stage 3 can reach when the")
    print("server's CPU is the limit.")


if __name__ == "__main__":
    main()
