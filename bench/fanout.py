"""The party's fan-out: every line one guest says, delivered to every guest.

    python -m bench.fanout            # both runs, about a minute in all
    python -m bench.fanout --json     # the same, and one JSON line at the end
    python -m bench.fanout --guests 20 --seconds 1 --warm-up 0    # a smoke test

Both runs start the finished stage (step9_redis). Run 1 is one process, the party
line inside it, as stage 8 has it. Run 2 is two processes sharing a redis-server of
our own (--redis, stage 9's addition), the guests split evenly between them.
In each, 1,000 guests join (and hear every join after theirs: a storm that ends
before the talking starts); then 10 of them say a line every 100 ms, 100 lines a
second, so 100,000 deliveries a second are asked for. After a warm-up second, the
lines said over the next SECONDS are followed: each carries the time it was sent,
and each guest notes when it arrives. The report gives the deliveries heard per
second over that window, p50/p99 delivery latency of the followed lines, how many
of their deliveries never came, and each process's share of a core, which is what
a bottleneck claim must rest on.

The generator is one process on picows and uvloop, like bench/load.py. Everything
listens on loopback, and every wait is bounded.
"""

import argparse
import asyncio
import contextlib
import functools
import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import psutil
import uvloop
from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

from bench.load import allow_many_sockets
from harness import FINISHED_STAGE, Server, find_program, start_redis, start_server

GUESTS = 1000
SPEAKERS = 10
EVERY_SECONDS = 0.1  # each speaker says a line this often
WARM_UP_SECONDS = 1
SECONDS = 5
DRAIN_SECONDS = 10  # the longest we wait for lines still on their way
BATCH = 100  # guests joining at once, so the servers' backlogs never overflow


class Tally:
    """What the guests heard: one latency per delivery of a followed line."""

    def __init__(self) -> None:
        self.said_at: dict[int, float] = {}  # line number -> when it was said
        self.delivered = 0  # every line any guest heard, followed or not
        self.latencies: list[float] = []
        self.expected = 0  # deliveries to wait for, once the talking is over
        self.complete = asyncio.Event()

    def heard(self, number: int) -> None:
        self.delivered += 1
        said_at = self.said_at.get(number)
        if said_at is not None:
            self.latencies.append(time.perf_counter() - said_at)
            if len(self.latencies) == self.expected:
                self.complete.set()


class Guest(WSListener):
    """One guest at the party: tells the tally about every line it hears."""

    def __init__(self, name: str, tally: Tally, last_name: str) -> None:
        self.name = name
        self.tally = tally
        self.last_to_join = f"* {last_name} joined the party"
        self.joined = asyncio.get_running_loop().create_future()
        self.heard_everyone_join = asyncio.get_running_loop().create_future()

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type is not WSMsgType.TEXT:
            return
        line = frame.get_payload_as_ascii_text()
        if line.startswith("* "):  # someone joined or left
            if line == f"* {self.name} joined the party":
                self.joined.set_result(None)
            if line == self.last_to_join:
                self.heard_everyone_join.set_result(None)
        else:
            self.tally.heard(int(line.rsplit(" ", 1)[1]))  # "g3: line 1234"

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        if not self.joined.done():
            self.joined.set_exception(RuntimeError(f"{self.name} was turned away"))


async def join_everyone(urls: list[str], count: int, tally: Tally) -> list[Guest]:
    """`count` guests, spread over `urls` in turn; returns once all have joined."""
    guests = [Guest(f"g{number}", tally, f"g{count - 1}") for number in range(count)]
    for start in range(0, count, BATCH):
        batch = list(enumerate(guests[start : start + BATCH], start))
        await asyncio.gather(
            *(
                ws_connect(
                    lambda guest=guest: guest,
                    f"{urls[number % len(urls)]}/party?name={guest.name}",
                )
                for number, guest in batch
            )
        )
        await asyncio.wait_for(asyncio.gather(*(g.joined for _, g in batch)), 60)
    # Every join is news for everyone already there: wait for that storm to pass.
    await asyncio.wait_for(asyncio.gather(*(g.heard_everyone_join for g in guests)), 60)
    return guests


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def machine_seconds() -> tuple[float, float]:
    """CPU seconds the whole machine has been busy, and stolen by its hypervisor."""
    times = psutil.cpu_times()
    steal = getattr(times, "steal", 0.0)
    return sum(times) - times.idle - getattr(times, "iowait", 0.0) - steal, steal


async def party(
    urls: list[str],
    processes: list[psutil.Process],
    guest_count: int,
    seconds: float,
    warm_up: float,
) -> dict:
    """One run: join, talk, follow the lines of the measured window, report."""
    tally = Tally()
    guests = await join_everyone(urls, guest_count, tally)
    speakers = guests[:: guest_count // SPEAKERS]
    loop = asyncio.get_running_loop()
    follow_from = loop.time() + warm_up
    stop_at = follow_from + seconds
    next_line_at = loop.time()
    said = 0
    cpu_before: list[float] = []
    while (now := loop.time()) < stop_at:
        if not cpu_before and now >= follow_from:
            cpu_before = [cpu_seconds(process) for process in processes]
            busy_before, steal_before = machine_seconds()
            delivered_before = tally.delivered
            window_started = time.perf_counter()
        speaker = speakers[said % SPEAKERS]  # each in turn: one line every 100 ms
        said += 1
        if cpu_before:
            tally.said_at[said] = time.perf_counter()
        speaker.transport.send(WSMsgType.TEXT, f"line {said}".encode())
        # Catch up if late, but by half a second at most: a speaker who said five
        # lines more in a burst is still under the flood limit of 20 a second.
        next_line_at = max(next_line_at + EVERY_SECONDS / SPEAKERS, now - 0.5)
        await asyncio.sleep(next_line_at - loop.time())
    window = time.perf_counter() - window_started
    delivered = tally.delivered - delivered_before
    cpu = [
        cpu_seconds(process) - before
        for process, before in zip(processes, cpu_before, strict=True)
    ]
    busy, steal = machine_seconds()
    others = busy - busy_before - sum(cpu)
    tally.expected = len(tally.said_at) * guest_count
    if len(tally.latencies) < tally.expected:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(tally.complete.wait(), DRAIN_SECONDS)
    for guest in guests:
        guest.transport.disconnect()
    ordered = sorted(tally.latencies) or [0.0]
    return {
        "deliveries_asked_per_second": tally.expected / window,
        "deliveries_per_second": delivered / window,
        "p50_ms": 1000 * statistics.median(ordered),
        "p99_ms": 1000 * ordered[int(0.99 * (len(ordered) - 1))],
        "missing": tally.expected - len(tally.latencies),
        "cpu_share": [round(seconds / window, 2) for seconds in cpu],
        "others_share": round(max(others, 0) / window, 2),
        "steal_share": round((steal - steal_before) / window, 2),
    }


def bottleneck(result: dict, names: list[str]) -> str:
    """A bottleneck claim, only when the figures allow one.

    Two shared cores run the servers, Redis and the generator together. A claim
    needs one process near a whole core, while the machine still had room: all
    of ours together clearly under the cores, and little taken by anything else.
    """
    shares = dict(zip(names, result["cpu_share"], strict=True))
    ours = sum(shares.values())
    elsewhere = result["others_share"] + result["steal_share"]
    busiest = max(shares, key=shares.__getitem__)
    cores = psutil.cpu_count() or 1
    if shares[busiest] >= 0.9 and ours + elsewhere < 0.9 * cores and elsewhere < 0.2:
        return f"the bottleneck was {busiest}, at {shares[busiest]:.0%} of a core"
    return (
        f"no bottleneck claim: the busiest, {busiest}, used {shares[busiest]:.0%} of "
        f"a core; ours together {ours:.0%}, and other work and the hypervisor "
        f"{elsewhere:.0%}, of {cores} cores"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--guests", type=int, default=GUESTS, help="default: 1000")
    parser.add_argument("--seconds", type=float, default=SECONDS, help="default: 5")
    parser.add_argument("--warm-up", type=float, default=WARM_UP_SECONDS, help="1")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    args = parser.parse_args()
    run = functools.partial(
        party, guest_count=args.guests, seconds=args.seconds, warm_up=args.warm_up
    )
    allow_many_sockets()  # 1,000 guests are 1,000 sockets here, and in the servers
    redis_server = find_program("redis-server")
    if redis_server is None:
        sys.exit("redis-server not found: `apt install redis-server`")
    generator = psutil.Process()
    results = {}
    with tempfile.TemporaryDirectory() as folder, ExitStack() as stack:
        logs = Path(folder)

        def finished_stage(name: str, *options: str) -> Server:
            server = start_server(FINISHED_STAGE, logs / f"{name}.log", *options)
            stack.callback(server.stop)
            return server

        print(f"one process: {args.guests} guests, {SPEAKERS} talking", flush=True)
        one = finished_stage("one")
        processes = [psutil.Process(one.process.pid), generator]
        results["one_process"] = uvloop.run(run([one.url], processes))
        names = ["the server", "the generator"]
        results["one_process"]["bottleneck"] = bottleneck(results["one_process"], names)
        one.stop()

        print("two processes sharing Redis", flush=True)
        redis = start_redis(redis_server, logs)
        stack.callback(redis.stop)
        options = ("--redis", redis.url)
        with ThreadPoolExecutor() as starting:  # both at once: it saves a second
            two = list(
                starting.map(lambda n: finished_stage(f"two-{n}", *options), "12")
            )
        assert redis.process is not None
        processes = [psutil.Process(s.process.pid) for s in two]
        processes += [psutil.Process(redis.process.pid), generator]
        results["two_processes"] = uvloop.run(run([s.url for s in two], processes))
        names = ["server 1", "server 2", "redis-server", "the generator"]
        results["two_processes"]["bottleneck"] = bottleneck(
            results["two_processes"], names
        )
    for name, result in results.items():
        print(
            f"{name.replace('_', ' ')}: {result['deliveries_per_second']:,.0f} "
            f"deliveries/s of {result['deliveries_asked_per_second']:,.0f} asked, "
            f"p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms, "
            f"{result['missing']} missing; {result['bottleneck']}"
        )
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
