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


@pytest.fixture
def nginx(backends, tmp_path: Path) -> Iterator[dict[str, int]]:
    """deploy/nginx.conf as it is, on free ports, with a throw-away certificate."""
    nginx = find_program("nginx")
    openssl = find_program("openssl")
    if nginx is None or openssl is None:
        missing_program("nginx or openssl not found: `apt install nginx-light openssl`")
    certificate = "req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost"
    certificate += " -addext subjectAltName=DNS:localhost"
    certificate += " -keyout robot-dates.key -out robot-dates.crt"
    subprocess.run(
        [openssl, *certificate.split()], cwd=tmp_path, capture_output=True, check=True
    )
    ports = {"8080": free_port(), "8443": free_port()}
    ports |= {"8081": backends[0].port, "8082": backends[1].port}
    config = re.sub(
        r"127\.0\.0\.1:(8080|8443|8081|8082)\b",
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
        wait_until_listening(ports["8080"], process, seconds=10)
        wait_until_listening(ports["8443"], process, seconds=10)
        yield {"http": ports["8080"], "https": ports["8443"]}
    finally:
        process.send_signal(signal.SIGQUIT)  # nginx's graceful stop
        _output, errors = process.communicate(timeout=10)
    assert "[emerg]" not in errors and "[error]" not in errors, errors


def test_nginx_spreads_chats_over_two_processes(nginx, backends) -> None:
    """Through deploy/nginx.conf, chats reach both stage-3 processes and work."""
    url = f"ws://127.0.0.1:{nginx['http']}/robots/clank"
    with chat(url) as first, chat(url) as second:
        for ws in (first, second):
            assert ws.recv()  # greeting
            ws.send("What is your name?")
            assert "Clank" in ws.recv()
        # nginx's default round robin: one chat on each process
        for backend in backends:
            assert established(backend.process.pid, backend.port) == 1
    origin = f"http://127.0.0.1:{nginx['http']}"
    with chat(f"ws://127.0.0.1:{nginx['http']}/", origin=origin) as ws:
        assert ws.recv()  # the Host nginx passes on matches the browser's Origin


def test_a_browser_chats_over_tls_through_nginx(nginx, tmp_path: Path) -> None:
    """wss:// through nginx, with a browser's https Origin: TLS ends at the proxy."""
    port = nginx["https"]
    certificate = {"ca_certs": str(tmp_path / "robot-dates.crt")}
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
