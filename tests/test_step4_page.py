"""Stage 4: a web page on the root URL, and no chats opened by other sites' pages.

The finished stage keeps all of it, so every test runs against it too. The page
itself, in a real browser, is tested in test_browser.py.
"""

import contextlib
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from harness import ROOT, free_port, server_command
from tests.wsclient import chat

pytestmark = pytest.mark.stage("step4_page", kept=True)


async def test_browsers_get_a_page_on_the_root_url(site) -> None:
    """GET / without an upgrade should serve the HTML page, locked down by a CSP."""
    async with site.get("/") as response:
        assert response.status == 200
        assert response.content_type == "text/html"
        policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "unsafe-inline" not in policy


async def test_foreign_origin_gets_403(site) -> None:
    """A page from another site must not open a chat (WebSocket hijacking)."""
    async with site.get(
        "/robots/ada",
        headers={
            "Origin": "http://evil.example",
            "Connection": "Upgrade",
            "Upgrade": "websocket",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        },
    ) as response:
        assert response.status == 403


async def test_same_origin_is_welcome(site) -> None:
    """The app's own page, with an Origin of the same host, may chat."""
    async with site.get("/") as response:
        origin = str(response.url.origin())  # e.g. http://127.0.0.1:8080
    async with site.ws_connect("/robots/ada", origin=origin) as ws:
        assert await ws.receive_str()


UPGRADE = {
    "Connection": "Upgrade",
    "Upgrade": "websocket",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
}


@pytest.mark.parametrize(
    ("host", "origin"),
    [
        ("localhost", "http://localhost"),
        ("example.com", "https://example.com"),
        ("example.com", "https://example.com:443"),
        ("Example.COM:8080", "http://example.com:8080"),
        ("[::1]:8080", "http://[::1]:8080"),
        ("[::1]", "https://[::1]"),
    ],
)
async def test_same_site_origin_is_welcome_on_any_port(client, host, origin) -> None:
    """A browser on the app's own site may chat: default ports, IPv6, any case."""
    async with client.get(
        "/robots/ada", headers={**UPGRADE, "Host": host, "Origin": origin}
    ) as response:
        assert response.status == 101


@pytest.mark.parametrize(
    ("host", "origin"),
    [
        ("localhost:8080", "http://evil.example:8080"),
        ("localhost:8080", "http://localhost:8081"),
        ("example.com", "http://example.com:8080"),
        ("example.com", "null"),
        ("example.com", "http://h:99999"),
        ("example.com", "http://["),
        ("127.0.0.1:8080", "http://127.0.0.1:8080, http://b"),
    ],
)
async def test_foreign_or_malformed_origin_gets_403(client, host, origin) -> None:
    """Another site, another port, or an Origin that is not a URL: 403, no error."""
    async with client.get(
        "/robots/ada", headers={**UPGRADE, "Host": host, "Origin": origin}
    ) as response:
        assert response.status == 403


def test_wsdump_style_client_over_ipv6_is_welcome(stage: str, tmp_path: Path) -> None:
    """On --host ::1, a client that sends its own Origin (as wsdump does) may chat."""
    try:
        socket.create_server(("::1", 0), family=socket.AF_INET6).close()
    except OSError:
        pytest.skip("this machine has no IPv6 loopback")
    port = free_port()
    command = server_command(stage, "::1", port)
    with (tmp_path / "server.log").open("w") as log:
        process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 15
        while True:
            with contextlib.suppress(OSError):
                socket.create_connection(("::1", port)).close()
                break
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.05)
        with chat(f"ws://[::1]:{port}/robots/ada") as ws:  # Origin: http://[::1]:port
            assert ws.recv()
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)


async def test_every_response_says_nosniff_and_pages_carry_the_policy(site) -> None:
    """nosniff on every response; the CSP on every HTML page, /static/ included."""
    for path in ("/", "/static/index.html", "/robots", "/robots/ada", "/nowhere"):
        async with site.get(path) as response:
            assert response.headers["X-Content-Type-Options"] == "nosniff", path
            if response.content_type == "text/html":
                policy = response.headers["Content-Security-Policy"]
                assert "default-src 'self'" in policy, path
