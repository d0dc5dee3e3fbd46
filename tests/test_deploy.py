"""Stage 3 past one process: under gunicorn, and behind nginx, with deploy/'s configs.

nginx comes from the system (Debian: `apt install nginx-light`). Without it the nginx
test skips and says so, except in CI (CI=true), where it must run.
"""

import contextlib
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import websocket

from harness import (
    ROOT,
    Server,
    find_program,
    free_port,
    start_server,
    wait_until_listening,
)
from tests.conftest import missing_program
from tests.wsclient import chat, receive_close

pytestmark = pytest.mark.stage("step3_robots")


def established(pid: int, port: int) -> int:
    """How many connections process `pid` has open on local `port`."""
    return sum(
        1
        for conn in psutil.Process(pid).net_connections("tcp")
        if conn.status == psutil.CONN_ESTABLISHED and conn.laddr.port == port
    )


@pytest.fixture
def gunicorn(tmp_path: Path) -> Iterator[tuple[subprocess.Popen, int]]:
    port = free_port()
    log = (tmp_path / "gunicorn.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "deploy/gunicorn.conf.py",
            "--bind",
            f"127.0.0.1:{port}",
        ],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until_listening(port, process, seconds=15)
        yield process, port
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        log.close()
    assert "Traceback" not in (tmp_path / "gunicorn.log").read_text()


def test_gunicorn_workers_all_say_1001_on_sigterm(gunicorn) -> None:
    """Chats held on both gunicorn workers should each get 1001 on SIGTERM."""
    process, port = gunicorn
    master = psutil.Process(process.pid)
    deadline = time.monotonic() + 10
    while len(master.children()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)  # the master listens before its workers have booted
    workers = master.children()
    assert len(workers) == 2
    with contextlib.ExitStack() as stack:
        chats: list[websocket.WebSocket] = []
        # The kernel hands each new connection to whichever worker accepts first;
        # keep opening chats until both workers hold some (at most 100).
        while len(chats) < 100 and not all(
            established(worker.pid, port) for worker in workers
        ):
            ws = stack.enter_context(chat(f"ws://127.0.0.1:{port}/robots/ada"))
            assert ws.recv()  # the greeting
            chats.append(ws)
        assert all(established(worker.pid, port) for worker in workers)
        process.send_signal(signal.SIGTERM)
        for ws in chats:
            assert receive_close(ws) == (1001, "server shutdown")
    assert process.wait(timeout=15) == 0


@pytest.fixture
def backends(tmp_path: Path) -> Iterator[list[Server]]:
    servers = [
        start_server("step3_robots", tmp_path / f"backend{n}.log") for n in (1, 2)
    ]
    yield servers
    for server in servers:
        server.stop()


def test_nginx_spreads_chats_over_two_processes(backends, tmp_path: Path) -> None:
    """Through deploy/nginx.conf, chats reach both stage-3 processes and work."""
    nginx = find_program("nginx")
    if nginx is None:
        missing_program("nginx not found: `apt install nginx-light` to run this test")
    front = free_port()
    ports = {
        "8080": str(front),
        "8081": str(backends[0].port),
        "8082": str(backends[1].port),
    }
    config = re.sub(
        r"127\.0\.0\.1:(808[012])",
        lambda match: f"127.0.0.1:{ports[match.group(1)]}",
        (ROOT / "deploy" / "nginx.conf").read_text(),
    )
    (tmp_path / "nginx.conf").write_text(config)
    process = subprocess.Popen(
        [nginx, "-p", str(tmp_path), "-c", "nginx.conf", "-e", "stderr"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until_listening(front, process, seconds=10)
        url = f"ws://127.0.0.1:{front}/robots/clank"
        with chat(url) as first, chat(url) as second:
            for ws in (first, second):
                assert ws.recv()  # greeting
                ws.send("What is your name?")
                assert "Clank" in ws.recv()
            # nginx's default round robin: one chat on each process
            for backend in backends:
                assert established(backend.process.pid, backend.port) == 1
        with chat(f"ws://127.0.0.1:{front}/", origin=f"http://127.0.0.1:{front}") as ws:
            assert ws.recv()  # the Host nginx passes on matches the browser's Origin
    finally:
        process.send_signal(signal.SIGQUIT)  # nginx's graceful stop
        _output, errors = process.communicate(timeout=10)
    assert "[emerg]" not in errors and "[error]" not in errors, errors
