"""The party's peer: the same line protocol, on the websockets library's broadcast().

    python -m bench.websockets_party --port 8083

A guest joins at /party?name=Sam; everyone hears "* Sam joined the party", then
"Sam: <text>" for each line Sam says, and "* Sam left". broadcast() encodes a line
once, frames it for each connection and writes it straight to each, with no task
and no await per guest (and no backpressure: a slow guest's buffer just grows).
No compression, the defences' heartbeat and size limit, asyncio's own event loop:
as `python -m step9_redis` runs. Names are not checked: only the fan-out is compared.
"""

from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, broadcast
from websockets.exceptions import ConnectionClosed

from bench.websockets_echo import main

GUESTS: set[ServerConnection] = set()


async def party(websocket: ServerConnection) -> None:
    assert websocket.request is not None  # the handshake is done
    name = parse_qs(urlsplit(websocket.request.path).query)["name"][0]
    GUESTS.add(websocket)
    broadcast(GUESTS, f"* {name} joined the party")
    try:
        async for text in websocket:
            broadcast(GUESTS, f"{name}: {text!s}")
    except ConnectionClosed:  # a guest who just vanished
        pass
    finally:
        GUESTS.discard(websocket)
        broadcast(GUESTS, f"* {name} left")


if __name__ == "__main__":
    main(__doc__.splitlines()[0], party, compression=None)
