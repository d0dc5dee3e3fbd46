"""Stage 7: more connections than the file table holds, and connections that idle.

The finished stage keeps all of it, so every test runs against it too.
"""

import asyncio
import contextlib
import importlib
import os
import resource
import select
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import ModuleType

import pytest

from harness import ROOT, free_port, server_command, wait_until_listening
from tests.wsclient import chat

pytestmark = pytest.mark.stage("step7_crowds", kept=True)

FILES = 400  # the hard limit on open files that the test gives the server


def still_open(crowd: list[socket.socket]) -> int:
    """How many of `crowd` the server has neither reset nor closed, once that number
    has not changed for 2.5 s (asyncio waits a second to accept again when the
    file table is full), ten seconds at most."""
    open_ones = set(crowd)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        ended, _, _ = select.select(list(open_ones), [], [], 2.5)
        if not ended:
            break  # no news
        for sock in ended:  # readable: an end (no client here sent a request)
            open_ones.discard(sock)
    return len(open_ones)


def sockets_of(pid: int) -> int:
    """How many sockets the process has open (Linux: /proc/PID/fd)."""
    fds = Path(f"/proc/{pid}/fd")
    return sum(os.readlink(fd).startswith("socket:") for fd in fds.iterdir())


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="needs Linux's /proc")
def test_a_full_file_table_turns_newcomers_away_quietly(
    stage: str, tmp_path: Path
) -> None:
    """With room for 400 files, 400 idle connections: the excess is reset at once,
    the log says so in a line a second at most, never a traceback; and once the
    crowd leaves, a chat works."""
    port = free_port()
    log_path = tmp_path / "server.log"

    def few_files() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (FILES, FILES))

    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            server_command(stage, "127.0.0.1", port),
            cwd=ROOT,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            preexec_fn=few_files,
        )
    crowd: list[socket.socket] = []
    try:
        wait_until_listening(port, process, seconds=15)
        started = time.monotonic()
        for _ in range(400):
            with contextlib.suppress(OSError):
                crowd.append(socket.create_connection(("127.0.0.1", port), timeout=2))
        assert still_open(crowd) >= 50  # many are let in...
        most = FILES - min(2 * 128 + 64, FILES // 4)  # ...but no more (crowds.serve)
        assert sockets_of(process.pid) <= most + 5, log_path.read_text()  # + its own
        seconds = time.monotonic() - started
        for sock in crowd:
            sock.close()
        time.sleep(0.2)
        with chat(f"ws://127.0.0.1:{port}/robots/ada") as ws:
            assert ws.recv()
    finally:
        for sock in crowd:
            sock.close()
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)
    log = log_path.read_text()
    assert "Traceback" not in log
    lines = [line for line in log.splitlines() if "turned connections away" in line]
    assert 1 <= len(lines) <= seconds + 2, lines


async def test_a_connection_that_sends_no_request_is_closed(
    app_module: ModuleType, monkeypatch
) -> None:
    """A connection that never sends a request is closed once IDLE_SECONDS pass."""
    crowds = importlib.import_module(f"{app_module.__package__}.crowds")
    monkeypatch.setattr(crowds, "IDLE_SECONDS", 0.5)
    port = free_port()
    serving = asyncio.create_task(
        crowds.serve(app_module.create_app(), "127.0.0.1", port)
    )
    try:
        for _ in range(100):  # until it listens
            with contextlib.suppress(OSError):
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                break
            await asyncio.sleep(0.05)
        assert await asyncio.wait_for(reader.read(), timeout=5) == b""  # closed
        writer.close()
    finally:
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await serving
