"""Stage 4 past one process: under gunicorn, and behind nginx, with deploy/'s configs.

The processes share the party through a real redis-server. nginx and redis-server
come from the system (Debian: `apt install nginx-light redis-server`). Without them
these tests skip and say so, except in CI (CI=true), where they must run.
"""

import contextlib
import os
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
    RedisServer,
    Server,
    find_program,
    free_port,
    start_server,
    wait_until_listening,
)
from tests.conftest import missing_program
from tests.wsclient import chat, receive_close

pytestmark = pytest.mark.stage("step4_party")


def established(pid: int, port: int) -> int:
    """How many connections process `pid` has open on local `port`."""
    return sum(
        1
        for conn in psutil.Process(pid).net_connections("tcp")
        if conn.status == psutil.CONN_ESTABLISHED and conn.laddr.port == port
    )


@pytest.fixture
def gunicorn(
    redis: RedisServer, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen, int]]:
    """deploy/gunicorn.conf.py, with its two workers sharing the party via `redis`."""
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
        env={**os.environ, "REDIS_URL": redis.url},
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


def booted_workers(process: subprocess.Popen) -> list[psutil.Process]:
    """gunicorn's two workers, once both have booted."""
    master = psutil.Process(process.pid)
    deadline = time.monotonic() + 10
    while len(master.children()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)  # the master listens before its workers have booted
    workers = master.children()
    assert len(workers) == 2
    return workers


def worker_holding(ws: websocket.WebSocket, workers: list[psutil.Process]) -> int:
    """The pid of the worker at the other end of this client's connection."""
    assert ws.sock is not None
    here = ws.sock.getsockname()[1]
    for worker in workers:
        for conn in worker.net_connections("tcp"):
            if conn.raddr and conn.raddr.port == here:
                return worker.pid
    raise AssertionError("no worker holds this connection")


def test_a_guest_on_each_gunicorn_worker_hears_the_other(gunicorn) -> None:
    """Guests on different gunicorn workers are at one party, thanks to Redis."""
    process, port = gunicorn
    workers = booted_workers(process)
    with contextlib.ExitStack() as stack:
        guests: dict[int, tuple[str, websocket.WebSocket]] = {}  # by worker pid
        for number in range(100):  # the kernel picks the worker; try until both
            name = f"Guest{number}"
            ws = stack.enter_context(chat(f"ws://127.0.0.1:{port}/party?name={name}"))
            assert ws.recv() == f"* {name} joined the party"
            guests.setdefault(worker_holding(ws, workers), (name, ws))
            if len(guests) == 2:
                break
        (first_name, first), (_, second) = guests.values()
        first.send("hello from one worker")
        assert second.recv() == f"{first_name}: hello from one worker"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0


def test_gunicorn_workers_all_say_1001_on_sigterm(gunicorn) -> None:
    """Chats held on both gunicorn workers should each get 1001 on SIGTERM."""
    process, port = gunicorn
    workers = booted_workers(process)
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


@pytest.fixture(scope="module")
def behind_nginx(
    redis: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[int, list[Server]]]:
    """deploy/nginx.conf in front of two stage-4 processes sharing `redis`.

    Yields nginx's port and the two processes.
    """
    nginx = find_program("nginx")
    if nginx is None:
        missing_program("nginx not found: `apt install nginx-light` to run this test")
    folder = tmp_path_factory.mktemp("nginx")
    backends = [
        start_server("step4_party", folder / f"backend{n}.log", "--redis", redis.url)
        for n in (1, 2)
    ]
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
    (folder / "nginx.conf").write_text(config)
    process = subprocess.Popen(
        [nginx, "-p", str(folder), "-c", "nginx.conf", "-e", "stderr"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until_listening(front, process, seconds=10)
        yield front, backends
    finally:
        process.send_signal(signal.SIGQUIT)  # nginx's graceful stop
        _output, errors = process.communicate(timeout=10)
        for backend in backends:
            backend.stop()
    assert "[emerg]" not in errors and "[error]" not in errors, errors


def one_on_each(backends: list[Server]) -> None:
    """Each backend holds exactly one connection (nginx's round robin at work)."""
    deadline = time.monotonic() + 5  # connections a test before closed may linger
    while time.monotonic() < deadline and any(
        established(backend.process.pid, backend.port) != 1 for backend in backends
    ):
        time.sleep(0.05)
    for backend in backends:
        assert established(backend.process.pid, backend.port) == 1


def test_nginx_spreads_chats_over_two_processes(behind_nginx) -> None:
    """Through deploy/nginx.conf, chats reach both stage-4 processes and work."""
    front, backends = behind_nginx
    url = f"ws://127.0.0.1:{front}/robots/clank"
    with chat(url) as first, chat(url) as second:
        for ws in (first, second):
            assert ws.recv()  # greeting
            ws.send("What is your name?")
            assert "Clank" in ws.recv()
        one_on_each(backends)
    with chat(f"ws://127.0.0.1:{front}/", origin=f"http://127.0.0.1:{front}") as ws:
        assert ws.recv()  # the Host nginx passes on matches the browser's Origin


def test_guests_behind_nginx_on_two_processes_hear_each_other(behind_nginx) -> None:
    """Two guests through nginx land on different processes, and share one party."""
    front, backends = behind_nginx
    with chat(f"ws://127.0.0.1:{front}/party?name=Sam") as sam:
        assert sam.recv() == "* Sam joined the party"
        with chat(f"ws://127.0.0.1:{front}/party?name=Kim") as kim:
            assert kim.recv() == "* Kim joined the party"
            assert sam.recv() == "* Kim joined the party"
            one_on_each(backends)
            kim.send("hello, Sam")
            assert sam.recv() == "Kim: hello, Sam"
            assert kim.recv() == "Kim: hello, Sam"
