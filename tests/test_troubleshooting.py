"""The book's Troubleshooting page describes real failures: here they happen."""

import subprocess
import sys
from pathlib import Path

import websocket

from harness import ROOT, free_port, start_server, wait_until_listening
from tests.wsclient import chat


def test_a_second_server_on_the_same_port_says_address_in_use(tmp_path: Path) -> None:
    first = start_server("step2_loop", tmp_path / "first.log")
    try:
        second = subprocess.run(
            [
                sys.executable,
                "-m",
                "step2_loop",
                "--host",
                "127.0.0.1",
                "--port",
                str(first.port),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    finally:
        first.stop()
    assert second.returncode != 0
    assert "address already in use" in second.stderr


def test_a_forgotten_await_sends_nothing_and_warns(tmp_path: Path) -> None:
    broken = tmp_path / "broken_step1"
    broken.mkdir()
    for name in ("__init__.py", "__main__.py"):
        (broken / name).write_text((ROOT / "step1_hello" / name).read_text())
    app = (ROOT / "step1_hello" / "app.py").read_text()
    assert "    await ws.send_str(" in app
    (broken / "app.py").write_text(app.replace("await ws.send_str(", "ws.send_str("))

    port = free_port()
    with (tmp_path / "server.log").open("w") as log:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.learner",
                str(broken),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_listening(port, server, seconds=15)
        with chat(f"ws://127.0.0.1:{port}") as ws:
            ws.send("hello!")
            opcode, _frame = ws.recv_data_frame(control_frame=True)
            assert opcode == websocket.ABNF.OPCODE_CLOSE  # no "hello world!" before it
    finally:
        server.terminate()
        server.wait(timeout=10)
    warning = "RuntimeWarning: coroutine 'WebSocketResponse.send_str' was never awaited"
    assert warning in (tmp_path / "server.log").read_text()


def test_client_shows_why_the_server_refused_the_chat(tmp_path: Path) -> None:
    """A refused handshake: client.py prints the status and the server's own words."""
    server = start_server("step3_robots", tmp_path / "server.log")
    try:
        client = subprocess.run(
            [sys.executable, "client.py", f"{server.url}/robots/zed"],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    finally:
        assert server.stop() == 0
    assert client.returncode == 1
    said, explained = client.stderr.splitlines()
    assert said == "No chat: the server said 404 Not Found."
    assert explained.startswith("No robot called 'zed' here. Try: ada, ")
    assert "Traceback" not in server.log()
