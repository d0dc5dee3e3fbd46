"""Start the real things: stage servers, system programs and a browser.

One plain module that the tests, the benchmark and the scripts all import, so each
of them starts a stage exactly the way a learner does (`python -m step3_robots`).
Fixtures that use it live in tests/conftest.py.
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
STAGES = sorted(path.parent.name for path in ROOT.glob("step*/__main__.py"))
FINISHED_STAGE = STAGES[-1]  # what `make run` starts
# `make check` sets this to a learner's own stage folder: it is started instead of ours.
LEARNER_SRC_VARIABLE = "ROBOT_DATES_SRC"

CHROMIUM_FLAGS = [  # no first-run chores, no calls home: the tests need no internet
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]


def free_port() -> int:
    """A loopback port that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_listening(
    port: int, process: subprocess.Popen[Any], seconds: float
) -> None:
    """Return once `port` accepts connections; fail if `process` exits first."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with code {process.returncode}")
        with contextlib.suppress(OSError):
            socket.create_connection(("127.0.0.1", port)).close()
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {seconds} s")


def server_command(stage: str, host: str, port: int, *options: str) -> list[str]:
    """How a learner starts a stage, with --host, --port and any other options."""
    learner_src = os.environ.get(LEARNER_SRC_VARIABLE)
    if learner_src is None:
        module = ["-m", stage]
    else:
        module = ["-m", "tests.learner", str(Path(learner_src).resolve())]
    return [sys.executable, *module, "--host", host, "--port", str(port), *options]


@dataclass
class Server:
    """A stage running in its own process, as `python -m <stage>` starts it."""

    process: subprocess.Popen[bytes]
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
        try:
            return self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise


def start_server(stage: str, log_path: Path, *options: str) -> Server:
    """Start `python -m <stage>` on a free loopback port, its output in `log_path`."""
    port = free_port()
    with log_path.open("w") as log:
        process = subprocess.Popen(
            server_command(stage, "127.0.0.1", port, *options),
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


@contextlib.contextmanager
def running_server(stage: str, log_path: Path, *options: str) -> Iterator[Server]:
    """A stage server that is stopped (Ctrl+C) however the block ends."""
    server = start_server(stage, log_path, *options)
    try:
        yield server
    finally:
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.stop()


def find_program(name: str) -> str | None:
    """A system program, also where Debian keeps daemons (/usr/sbin: nginx, ...)."""
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    return shutil.which(name, path=path)


def find_chromium() -> str | None:
    """The system's Chromium (Playwright's own downloads are never used)."""
    if "CHROMIUM" in os.environ:
        return os.environ["CHROMIUM"]
    names = ("chromium", "chromium-browser", "google-chrome")
    return next(filter(None, map(find_program, names)), None)
