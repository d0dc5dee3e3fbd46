"""Two small helpers around websocket-client, the synchronous client the tests use."""

import contextlib
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
