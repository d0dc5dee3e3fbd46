"""Fixtures every stage's tests share. Written to be read.

A test module names its stage once, `pytestmark = pytest.mark.stage("step2_loop")`,
and then asks for what it needs:

- `client`: the stage's app, in this process, behind pytest-aiohttp's test client;
- `server`: the stage started for real, `python -m step2_loop`, on a free port;

`make check` sets ROBOT_DATES_SRC to a learner's own folder, and the very same tests
then judge that folder instead of ours.
"""

import contextlib
import importlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import NoReturn

import pytest
from aiohttp.test_utils import TestClient

from tests import learner

ROOT = Path(__file__).resolve().parent.parent
LEARNER_SRC = os.environ.get("ROBOT_DATES_SRC")


def stage_name(request: pytest.FixtureRequest) -> str:
    marker = request.node.get_closest_marker("stage")
    assert marker is not None, "mark the test module with pytest.mark.stage(...)"
    return marker.args[0]


def load_app_module(name: str) -> ModuleType:
    """The stage's app.py: ours, or the learner's under `make check`."""
    if LEARNER_SRC is None:
        return importlib.import_module(f"{name}.app")
    learner.import_package(Path(LEARNER_SRC))
    return importlib.import_module(f"{learner.PACKAGE}.app")


def server_command(name: str, host: str, port: int, *options: str) -> list[str]:
    """How a learner starts the stage, with --host, --port and any other options."""
    if LEARNER_SRC is None:
        module = ["-m", name]
    else:
        module = ["-m", "tests.learner", str(Path(LEARNER_SRC).resolve())]
    return [sys.executable, *module, "--host", host, "--port", str(port), *options]


def missing_program(message: str) -> NoReturn:
    """A system program a test needs is missing: skip here, but fail in CI."""
    if os.environ.get("CI"):
        pytest.fail(f"CI must run this test. {message}")
    pytest.skip(message)


@pytest.fixture
def app_module(request: pytest.FixtureRequest) -> ModuleType:
    return load_app_module(stage_name(request))


@pytest.fixture
async def client(aiohttp_client, app_module: ModuleType) -> TestClient:
    """The stage's app served in this process: fast, and easy to poke at."""
    return await aiohttp_client(app_module.create_app())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_listening(port: int, process: subprocess.Popen, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with code {process.returncode}")
        with contextlib.suppress(OSError):
            socket.create_connection(("127.0.0.1", port)).close()
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {seconds} s")


@dataclass
class Server:
    """A stage running in its own process, as `python -m <stage>` starts it."""

    process: subprocess.Popen
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self) -> int:
        """Press Ctrl+C and wait for the process to end; return its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=10)


def start_server(name: str, log_path: Path, *options: str) -> Server:
    port = free_port()
    with log_path.open("w") as log:
        process = subprocess.Popen(
            server_command(name, "127.0.0.1", port, *options),
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        wait_until_listening(port, process, seconds=15)
    except RuntimeError:
        process.kill()
        process.wait()
        raise RuntimeError(log_path.read_text()) from None
    return Server(process, port, log_path)


@pytest.fixture
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    """The stage as a real process; afterwards, its log must hold no traceback."""
    running = start_server(stage_name(request), tmp_path / "server.log")
    try:
        yield running
    finally:
        if running.process.poll() is None:
            try:
                running.stop()
            except subprocess.TimeoutExpired:
                running.process.kill()
                running.process.wait()
    assert "Traceback" not in running.log(), running.log()
