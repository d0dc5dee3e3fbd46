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
# The files each stage changes or adds, beside its folder's path. Every other file is
# a copy of the previous stage's, byte for byte (tests/test_stages.py checks it), and
# `make carry FILE=...` takes a change to one forward through the stages that copy it.
STAGE_CHANGES = {
    "step1_hello": {"__init__.py", "__main__.py", "app.py"},
    "step2_loop": {"app.py"},
    "step3_robots": {"__main__.py", "app.py", "conversation.py", "robots.py"},
    "step4_page": {
        "app.py",
        *("static/chat.js", "static/favicon.svg", "static/index.html"),
        "static/style.css",
    },
    "step5_internet": {"app.py", "defences.py"},
    "step6_floods": {"__main__.py", "app.py", "floods.py"},
    "step7_crowds": {"__main__.py", "app.py", "crowds.py"},
    "step8_party": {
        *("app.py", "party.py"),
        *("static/index.html", "static/party.js", "static/style.css"),
    },
    "step9_redis": {"__main__.py", "app.py", "party.py", "redis_line.py"},
}
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


def stage_files(stage: str) -> set[str]:
    """Every file of a stage, as a path inside its folder (no bytecode)."""
    folder = ROOT / stage
    return {
        path.relative_to(folder).as_posix()
        for path in folder.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def stages_that_copy(stage: str, file: str) -> list[str]:
    """The later stages whose `file` is a copy of `stage`'s, in order."""
    later = STAGES[STAGES.index(stage) + 1 :]
    copies = []
    for next_stage in later:
        if file in STAGE_CHANGES[next_stage]:
            break
        copies.append(next_stage)
    return copies


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
            with socket.create_connection(("127.0.0.1", port)) as sock:
                # A port of the ephemeral range, with nothing listening yet, can
                # connect to itself (TCP simultaneous open): that is no server.
                if sock.getsockname() != sock.getpeername():
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


@dataclass
class RedisServer:
    """A redis-server of our own: loopback only, nothing saved to disk."""

    program: str
    folder: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start it, or start it again on the same port after stop()."""
        with (self.folder / f"redis-{self.port}.log").open("a") as log:
            self.process = subprocess.Popen(
                [
                    *(self.program, "--port", str(self.port), "--bind", "127.0.0.1"),
                    *("--save", "", "--appendonly", "no", "--dir", str(self.folder)),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_until_listening(self.port, self.process, seconds=10)

    def stop(self) -> None:
        """Stop it (SIGTERM) and wait: its clients see their connections close."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_redis(program: str, folder: Path) -> RedisServer:
    """Start `program` (redis-server) on a free loopback port."""
    redis = RedisServer(program, folder, free_port())
    redis.start()
    return redis


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
