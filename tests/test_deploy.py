"""The finished stage on many processes: gunicorn and nginx, with deploy/'s configs.

The processes share the party through a real redis-server. nginx and redis-server
come from the system (Debian: `apt install nginx-light redis-server`). Without them
these tests skip and say so, except in CI (CI=true), where they must run.
"""

import contextlib
import os
import re
import runpy
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
    FINISHED_STAGE,
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

# What deploy/ serves, step9_redis; nginx, gunicorn and Redis stay on one worker.
pytestmark = [pytest.mark.stage(FINISHED_STAGE), pytest.mark.xdist_group("deploy")]


def established(pid: int, port: int) -> int:
    """How many connections process `pid` has open on local `port`."""
    return sum(
        1
        for conn in psutil.Process(pid).net_connections("tcp")
        if conn.status == psutil.CONN_ESTABLISHED and conn.laddr.port == port
    )


def test_deploy_serves_the_finished_stage(stage: str) -> None:
    """gunicorn's app and nginx's example commands name the stage `make run` starts."""
    config = runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))
    assert config["wsgi_app"].startswith(f"{stage}.app:create_app(")
    commands = re.findall(
        r"python -m (\w+)", (ROOT / "deploy" / "nginx.conf").read_text()
    )
    assert commands == [stage, stage]


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
def backends(
    stage: str, redis: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[Server]]:
    """Two processes of the stage, sharing the party through `redis`."""
    folder = tmp_path_factory.mktemp("backends")
    servers = [
        start_server(stage, folder / f"backend{n}.log", "--redis", redis.url)
        for n in (1, 2)
    ]
    yield servers
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def nginx(
    backends: list[Server], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[dict[str, int], Path]]:
    """deploy/nginx.conf as it is, on free ports, with a throw-away certificate.

    Yields nginx's ports, by scheme, and the folder that holds the certificate.
    """
    nginx = find_program("nginx")
    openssl = find_program("openssl")
    if nginx is None or openssl is None:
        missing_program("nginx or openssl not found: `apt install nginx-light openssl`")
    folder = tmp_path_factory.mktemp("nginx")
    certificate = "req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost"
    certificate += " -addext subjectAltName=DNS:localhost"
    certificate += " -keyout robot-dates.key -out robot-dates.crt"
    subprocess.run(
        [openssl, *certificate.split()], cwd=folder, capture_output=True, check=True
    )
    ports = {"8080": free_port(), "8443": free_port()}
    ports |= {"8081": backends[0].port, "8082": backends[1].port}
    config = re.sub(
        r"127\.0\.0\.1:(8080|8443|8081|8082)\b",
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
        wait_until_listening(ports["8080"], process, seconds=10)
        wait_until_listening(ports["8443"], process, seconds=10)
        yield {"http": ports["8080"], "https": ports["8443"]}, folder
    finally:
        process.send_signal(signal.SIGQUIT)  # nginx's graceful stop
        _output, errors = process.communicate(timeout=10)
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


def test_nginx_spreads_chats_over_two_processes(nginx, backends) -> None:
    """Through deploy/nginx.conf, chats reach both processes of the stage, and work."""
    ports, _folder = nginx
    url = f"ws://127.0.0.1:{ports['http']}/robots/clank"
    with chat(url) as first, chat(url) as second:
        for ws in (first, second):
            assert ws.recv()  # greeting
            ws.send("What is your name?")
            assert "Clank" in ws.recv()
        one_on_each(backends)  # nginx's default round robin
    origin = f"http://127.0.0.1:{ports['http']}"
    with chat(f"ws://127.0.0.1:{ports['http']}/", origin=origin) as ws:
        assert ws.recv()  # the Host nginx passes on matches the browser's Origin


def test_a_browser_chats_over_tls_through_nginx(nginx) -> None:
    """wss:// through nginx, with a browser's https Origin: TLS ends at the proxy."""
    ports, folder = nginx
    port = ports["https"]
    certificate = {"ca_certs": str(folder / "robot-dates.crt")}
    with chat(
        f"wss://localhost:{port}/robots/ada",
        origin=f"https://localhost:{port}",
        sslopt=certificate,
    ) as ws:
        assert ws.recv()  # the greeting: the Origin passed
        ws.send("What is your name?")
        assert "Ada" in ws.recv()
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(
            f"wss://localhost:{port}/robots/ada",
            origin="https://evil.example",
            sslopt=certificate,
        )
    assert refused.value.status_code == 403


def test_guests_behind_nginx_on_two_processes_hear_each_other(nginx, backends) -> None:
    """Two guests through nginx land on different processes, and share one party."""
    ports, _folder = nginx
    url = f"ws://127.0.0.1:{ports['http']}/party"
    with chat(f"{url}?name=Sam") as sam:
        assert sam.recv() == "* Sam joined the party"
        with chat(f"{url}?name=Kim") as kim:
            assert kim.recv() == "* Kim joined the party"
            assert sam.recv() == "* Kim joined the party"
            one_on_each(backends)
            kim.send("hello, Sam")
            assert sam.recv() == "Kim: hello, Sam"
            assert kim.recv() == "Kim: hello, Sam"
