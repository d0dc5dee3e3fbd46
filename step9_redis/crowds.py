"""Defences against crowds: more connections than the file table holds.

Each connection costs a file descriptor, and a process may open only so many. At
the limit, asyncio cannot accept anyone (and says so, with a traceback, thousands
of times a second). So serve() raises the limit as far as the system allows, keeps
some descriptors back, and resets a newcomer beyond that at once; connections that
send no request are closed after IDLE_SECONDS.
"""

import asyncio
import contextlib
import logging
import signal
import sys
from typing import cast

from aiohttp import web
from yarl import URL

from .defences import OncePerSecond, cut_off
from .floods import Relay

if sys.platform != "win32":
    import resource

BACKLOG = 128  # connections asyncio may accept in one go, before it counts any
# File descriptors kept back: two such goes of connections that are on their way
# out (a reset closes its descriptor a moment later), and logs, Redis, files.
FILE_HEADROOM = 2 * BACKLOG + 64
IDLE_SECONDS = 10  # a connection that sends no request in this time is closed
# On shutdown, after the goodbyes: how long handlers still running may take before
# they are stopped. Longer than a guest's way out (two Redis timeouts, in stage 9):
# aiohttp 3.14 logs a traceback when a handler ends just as this time runs out.
HANDLERS_SECONDS = 3


class ConnectionCap:
    """aiohttp's server, but beyond `most` open connections a newcomer is reset at
    once: better one client refused than a file table full for everyone."""

    def __init__(self, server: web.Server, most: int) -> None:
        self.server, self.most = server, most
        self.open = 0  # counted as they are accepted, before they say a word

    def __call__(self) -> asyncio.BaseProtocol:
        if self.open < self.most:
            return Counted(cast(asyncio.Protocol, self.server()), self)
        CROWDS_LOG.warning("turned connections away: %d are open", self.open)
        return TurnAway()


class Counted(Relay):
    """aiohttp's protocol for one connection, counted from accept to goodbye."""

    def __init__(self, aiohttp: asyncio.Protocol, cap: ConnectionCap) -> None:
        super().__init__(aiohttp)
        self.cap = cap
        cap.open += 1

    def connection_lost(self, exc: Exception | None) -> None:
        self.cap.open -= 1
        super().connection_lost(exc)


class TurnAway(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        cut_off(cast(asyncio.Transport, transport))


def raise_file_limit() -> int:
    """Let this process open as many files as the system allows it; return how many."""
    if sys.platform == "win32":
        return 512  # the C runtime's usual limit
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, 65536)  # macOS may say "infinity", and mean 10240 or so
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        soft = wanted
    return soft


async def serve(app: web.Application, host: str, port: int) -> None:
    """What web.run_app does, with a cap on connections, until Ctrl+C or SIGTERM."""
    files = raise_file_limit()
    most = files - min(FILE_HEADROOM, files // 4)  # a small limit keeps a quarter
    runner = web.AppRunner(
        app, keepalive_timeout=IDLE_SECONDS, shutdown_timeout=HANDLERS_SECONDS
    )
    await runner.setup()
    assert runner.server is not None
    loop = asyncio.get_running_loop()
    cap = ConnectionCap(runner.server, most)
    listener = await loop.create_server(cap, host, port, backlog=BACKLOG)
    url = URL.build(scheme="http", host=host, port=port)
    print(f"======== Running on {url} ========\n(Press CTRL+C to quit)")
    stop = asyncio.Event()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows: Ctrl+C still works
            loop.add_signal_handler(signal_number, stop.set)
    try:
        await stop.wait()
    finally:
        listener.close()
        await runner.cleanup()


def is_out_of_files(record: logging.LogRecord) -> bool:
    return record.getMessage().startswith("socket.accept() out of system resource")


CROWDS_LOG = logging.getLogger(__name__)
CROWDS_LOG.addFilter(OncePerSecond(lambda record: True))  # one line a second, at most
# asyncio's own loop logs a traceback for each connection it cannot accept.
logging.getLogger("asyncio").addFilter(OncePerSecond(is_out_of_files))
