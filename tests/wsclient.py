"""Small helpers around websocket-client, the synchronous client the tests use,
and bare sockets for clients that misbehave."""

import contextlib
import socket
import struct
from collections.abc import Iterator

import websocket


@contextlib.contextmanager
def chat(url: str, **options) -> Iterator[websocket.WebSocket]:
    """A connection that is closed and shut down whatever happens."""
    ws = websocket.create_connection(url, timeout=10, **options)
    try:
        yield ws
    finally:
        ws.close(timeout=1)  # does nothing if the server closed first
        ws.shutdown()  # without this the socket is left to warn, and warnings fail


def receive_close(ws: websocket.WebSocket) -> tuple[int, str]:
    """Read frames up to the server's close frame; return its code and reason."""
    while True:
        opcode, frame = ws.recv_data_frame(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return int.from_bytes(frame.data[:2], "big"), frame.data[2:].decode()


def upgrade_request(port: int, path: str = "/") -> bytes:
    """The handshake a WebSocket client starts with, as bytes to send by hand."""
    return (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


def raw_websocket(
    port: int, path: str = "/", *, receive_buffer: int | None = None
) -> socket.socket:
    """A bare socket after a WebSocket handshake: for clients that misbehave."""
    sock = socket.socket()
    if receive_buffer:  # a small window: the server's replies back up quickly
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    sock.sendall(upgrade_request(port, path))
    response = b""
    while b"\r\n\r\n" not in response:
        response += sock.recv(1)  # byte by byte: leave any frame after it unread
    assert response.startswith(b"HTTP/1.1 101"), response
    return sock


def text_frame(text: str) -> bytes:
    """One masked text frame, as a client must send it (short texts only)."""
    payload = text.encode()
    assert len(payload) < 126
    return bytes([0x81, 0x80 | len(payload), 0, 0, 0, 0]) + payload  # mask 0000


def reset(sock: socket.socket) -> None:
    """Close with a TCP reset instead of a goodbye: what a vanished client does."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def ping_frame(payload: bytes = b"x" * 125) -> bytes:
    """One masked ping: the server must answer it with a pong of the same bytes."""
    return bytes([0x89, 0x80 | len(payload), 0, 0, 0, 0]) + payload


def flood_without_reading(port: int, path: str = "/") -> socket.socket:
    """A client that never reads, sending pings until the server stops reading too.

    Every ping asks for a pong, so the server's replies pile up in its buffers; once
    they are full, the server can't send, stops reading, and our send blocks.
    """
    sock = raw_websocket(port, path, receive_buffer=4096)
    sock.settimeout(2)
    pings = ping_frame() * 100
    with contextlib.suppress(TimeoutError, ConnectionResetError, BrokenPipeError):
        for _ in range(10_000):  # at most 130 MB: far more than any buffer holds
            sock.sendall(pings)
    return sock
