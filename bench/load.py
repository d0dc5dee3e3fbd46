"""A load generator for a running stage: many chats at once, round trips measured.

    python -m bench.load ws://127.0.0.1:8080/ --chats 100 --seconds 10
    python -m bench.load ws://127.0.0.1:8080/robots/ada --greeting --idle 2000
    python -m bench.load ws://127.0.0.1:8080/robots/ada --greeting --bye 6000

Chat mode opens C chats, then each sends a message and waits for the reply, over and
over, for a fixed time. It prints progress each second, then messages per second,
p50/p99/max round-trip latency and errors. Idle mode opens N chats that stay quiet,
holds them, and reports how many opened. Bye mode has N short dates, a batch at a
time: each says "bye", reads the robot's farewell and answers the server's close.

A plain Python client is slower than an aiohttp server, and would measure itself.
This one is built on picows and uvloop, whose callbacks cost a fraction of a
coroutine's, so that the server is the side that runs out of CPU first.
"""

import argparse
import asyncio
import json
import math
import resource
import statistics
import time

import uvloop
from picows import WSCloseCode, WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

MESSAGE = b"hello! how are you?"
BATCH = 200  # connections opened at once, so the server's backlog never overflows
# Chat mode prints these two lines when the talking starts and stops, so that whoever
# runs it can measure CPU time over exactly that window.
TALKING = "  ... all chats open, talking"
TIME_IS_UP = "  ... time is up"


class Chat(WSListener):
    """One chat: waits for the greeting if asked to, then talks until the deadline."""

    def __init__(self, greeting: bool, latencies: list[float]) -> None:
        self.latencies = latencies
        self.ready = asyncio.get_running_loop().create_future()
        self.expect_greeting = greeting
        self.deadline = 0.0
        self.sent_at = 0.0
        self.done = asyncio.get_running_loop().create_future()

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport
        if not self.expect_greeting:
            self.ready.set_result(None)

    def talk_until(self, deadline: float) -> None:
        self.deadline = deadline
        self.send()

    def send(self) -> None:
        self.sent_at = time.perf_counter()
        self.transport.send(WSMsgType.TEXT, MESSAGE)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type is WSMsgType.TEXT:
            if not self.ready.done():  # the greeting
                self.ready.set_result(None)
                return
            self.latencies.append(time.perf_counter() - self.sent_at)
            if time.monotonic() < self.deadline:
                self.send()
            elif not self.done.done():
                self.done.set_result(None)
        elif frame.msg_type is WSMsgType.CLOSE:
            self.finish(RuntimeError(f"closed by the server: {frame.get_close_code()}"))

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.finish(RuntimeError("disconnected"))

    def finish(self, error: Exception) -> None:
        for future in (self.ready, self.done):
            if not future.done():
                future.set_exception(error)


class Goodbye(WSListener):
    """One short date: the greeting if any, "bye", the farewell, then the close."""

    def __init__(self, greeting: bool) -> None:
        self.greeted = not greeting
        self.farewell = False
        self.done = asyncio.get_running_loop().create_future()

    def on_ws_connected(self, transport: WSTransport) -> None:
        if self.greeted:
            transport.send(WSMsgType.TEXT, b"bye")

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type is WSMsgType.TEXT:
            if self.greeted:
                self.farewell = True
            else:
                self.greeted = True
                transport.send(WSMsgType.TEXT, b"bye")
        elif frame.msg_type is WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code())
            transport.disconnect()
            self.finish()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.finish()

    def finish(self) -> None:
        if self.done.done():
            return
        if self.farewell:
            self.done.set_result(None)
        else:
            self.done.set_exception(RuntimeError("closed before the farewell"))


async def open_chats(url: str, count: int, greeting: bool, latencies: list) -> tuple:
    """Open `count` chats in batches; return the open ones and the number of errors."""
    chats, errors = [], 0
    for start in range(0, count, BATCH):
        batch = min(BATCH, count - start)
        listeners = [Chat(greeting, latencies) for _ in range(batch)]
        results = await asyncio.gather(
            *(ws_connect(lambda chat=chat: chat, url) for chat in listeners),
            return_exceptions=True,
        )
        opened = [
            chat
            for chat, result in zip(listeners, results, strict=True)
            if not isinstance(result, BaseException)  # gather returns even cancels
        ]
        readies = await asyncio.gather(
            *(c.ready for c in opened), return_exceptions=True
        )
        chats += [c for c, r in zip(opened, readies, strict=True) if r is None]
        errors += batch - sum(1 for r in readies if r is None)
    return chats, errors


async def chat_load(url: str, chats: int, seconds: float, greeting: bool) -> dict:
    latencies: list[float] = []
    open_ones, errors = await open_chats(url, chats, greeting, latencies)
    print(TALKING, flush=True)
    start = time.monotonic()
    deadline = start + seconds
    for chat in open_ones:
        chat.talk_until(deadline)
    for second in range(1, math.ceil(seconds) + 1):  # progress once a second
        await asyncio.sleep(max(0, start + min(second, seconds) - time.monotonic()))
        print(f"  ... {len(latencies)} round trips", flush=True)
    print(TIME_IS_UP, flush=True)
    results = await asyncio.wait_for(
        asyncio.gather(*(c.done for c in open_ones), return_exceptions=True), 10
    )
    errors += sum(1 for r in results if isinstance(r, BaseException))
    for chat in open_ones:
        chat.transport.disconnect()
    ordered = sorted(latencies) or [0.0]
    return {
        "messages_per_second": len(latencies) / seconds,
        "p50_ms": 1000 * statistics.median(ordered),
        "p99_ms": 1000 * ordered[int(0.99 * (len(ordered) - 1))],
        "max_ms": 1000 * ordered[-1],
        "errors": errors,
    }


async def idle_load(url: str, chats: int, hold: float, greeting: bool) -> dict:
    open_ones, errors = await open_chats(url, chats, greeting, [])
    print(f"  ... {len(open_ones)} idle chats open", flush=True)
    await asyncio.sleep(hold)
    for chat in open_ones:
        chat.done.cancel()  # idle chats never finish a conversation
        chat.transport.send_close(WSCloseCode.OK)
        chat.transport.disconnect()
    return {"opened": len(open_ones), "errors": errors}


async def say_bye(url: str, greeting: bool) -> None:
    goodbye = Goodbye(greeting)
    await ws_connect(lambda: goodbye, url)
    await asyncio.wait_for(goodbye.done, 10)


async def bye_load(url: str, chats: int, greeting: bool) -> dict:
    finished, errors = 0, 0
    for start in range(0, chats, BATCH):
        batch = min(BATCH, chats - start)
        results = await asyncio.gather(
            *(say_bye(url, greeting) for _ in range(batch)), return_exceptions=True
        )
        errors += sum(1 for r in results if isinstance(r, BaseException))
        finished += sum(1 for r in results if r is None)
    print(f"  ... {finished} chats said bye and were closed", flush=True)
    return {"finished": finished, "errors": errors}


def allow_many_sockets() -> None:
    """Each chat is a file descriptor; the usual soft limit of 1024 is too few."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--chats", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--idle", type=int, help="open this many quiet chats instead")
    parser.add_argument("--bye", type=int, help="have this many short dates instead")
    parser.add_argument("--hold", type=float, default=2, help="idle: seconds to hold")
    parser.add_argument("--greeting", action="store_true", help="read a greeting first")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    args = parser.parse_args()
    allow_many_sockets()
    if args.idle:
        load = idle_load(args.url, args.idle, args.hold, args.greeting)
    elif args.bye:
        load = bye_load(args.url, args.bye, args.greeting)
    else:
        load = chat_load(args.url, args.chats, args.seconds, args.greeting)
    result = uvloop.run(load)
    print(json.dumps(result) if args.json else result)


if __name__ == "__main__":
    main()
