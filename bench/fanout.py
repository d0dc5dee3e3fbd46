"""The party's fan-out: the most deliveries a second it keeps up with, beside a peer.

    python -m bench.fanout                         # the whole search, 2 to 3 minutes
    python -m bench.fanout --json                  # one JSON line, not the report
    python -m bench.fanout --stage step8_party     # the one-process party of stage 8
    python -m bench.fanout --guests 10 --steps 1 --first-rate 200 --seconds 0.5

A delivery is one line reaching one guest: at a party of N guests, one line said is
N deliveries. For each N in GUESTS, three servers face the same load, each in a
fresh process:

- the party on one process: `python -m step9_redis` (the finished stage, or --stage);
- its peer, bench/websockets_party.py: the same line protocol on the websockets
  library's broadcast(), compression off, on the same asyncio event loop;
- the party on two processes sharing a redis-server of our own (--redis), the guests
  split evenly between them. Report only: two servers, Redis and the generator then
  share two cores, so its limit is the machine's as much as the party's.

First the N guests join, BATCH at a time: the join storm. Each join is news for
everyone already there, N²/2 deliveries in all; it ends when every guest has heard
the last one join. Its time is reported, and the servers' memory growth over it per
guest. Then the talking, in steps. Each step asks a rate in deliveries a second, of
speakers enough that none says more than MOST_PER_SPEAKER lines a second while there
are guests enough (and SPEAKERS at least); the first step asks FIRST_RATE, each next
one GROWTH times more. The lines
said after WARM_UP_SECONDS, over the next SECONDS, are followed: each carries its
number, the generator notes when each guest hears it, and the step passes when every
guest heard every followed line with a p99 latency under P99_LIMIT_MS. Once a step
fails, the next ones close in on the limit (next_rate() says how); the search ends
when the generator uses a whole core, when a guest is lost, or after STEPS steps.
The best step that passed gives the rate, and the servers' CPU time per delivery
(user and system, over that step's followed window only). Writes coalesce as the
rate grows, so the party and its peer are also compared at the same rate: the
highest that both passed.

What held a step back is read from CPU time, never guessed. On Linux the party or
its peer runs on one core and the generator on the other; a process that used
SATURATED % of a core or more is what stopped it. A ratio of the party's rate over
its peer's is counted only when both searches ended with the server as the limit.

The benchmarks lift the 20-a-second limit: stage servers run with
`--messages-per-second 0`. With 1,000 guests no speaker says more than 20 lines a
second anyway; with 100 guests, past 200,000 deliveries a second, each of the 100
must say more. 5,000 guests are not in the default run:
their join storm alone is 12.5 million deliveries, minutes at today's cost (try
--guests 5000 on a machine with time to spare). The generator is one process, on
picows and uvloop like bench/load.py; everything listens on loopback only, and every
loop is bounded in count and in time.
"""

import argparse
import asyncio
import json
import math
import signal
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil
import uvloop
from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

from bench import machine
from bench.limits import LIMIT_LIFTED, no_frame_limit
from bench.load import allow_many_sockets
from bench.report import fanout_report
from harness import FINISHED_STAGE, Server, find_program, start_redis, start_server

GUESTS = (100, 1000)
SPEAKERS = 10  # at least this many, or every guest if there are fewer
MOST_PER_SPEAKER = 20  # lines a second: the stages' flood limit, while guests last
FIRST_RATE = 20_000  # deliveries a second asked by the first step
GROWTH = 1.5  # each step asks this many times more than the one before...
FINEST = GROWTH**0.25  # ...until one fails; then halving the gap twice, in ratio
STEPS = 10  # at most, per search
RETRIES = 2  # of a step that failed with nothing saturated
WARM_UP_SECONDS = 0.5  # of each step, before its lines are followed
SECONDS = 1.5  # of each step, whose lines are followed
P99_LIMIT_MS = 200
DRAIN_SECONDS = 2  # after a step, the longest wait for lines still on their way
TICK_SECONDS = 0.005  # the speakers say the lines due, every tick
BATCH = 100  # guests joining at once, so the servers' backlogs never overflow
JOIN_SECONDS_PER_DELIVERY = 100e-6  # a join storm may take this, plus 10 s
SATURATED = 90  # % of a core: a process that uses this much has no CPU to spare
PEER = "bench.websockets_party"
GENERATOR = "the generator"  # how the steps name it, beside "the server"


@dataclass
class Tally:
    """What the guests heard while the speakers talked: when, and which line."""

    talking: bool = False
    heard: list[tuple[float, bytes]] = field(default_factory=list)
    said_at: list[float] = field(default_factory=list)  # by line number
    lost: int = 0  # guests whose connection ended before we closed it


class Guest(WSListener):
    """One guest: in the join storm it waits for joins, then it notes every line."""

    def __init__(self, name: str, tally: Tally, last_name: str) -> None:
        self.name = name
        self.tally = tally
        self.my_join = f"* {name} joined the party"
        self.last_join = f"* {last_name} joined the party"
        loop = asyncio.get_running_loop()
        self.joined = loop.create_future()
        self.heard_everyone_join = loop.create_future()
        self.leaving = False

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type is not WSMsgType.TEXT:
            return
        if self.tally.talking:  # the hot path: one note, and nothing else
            self.tally.heard.append((time.perf_counter(), frame.get_payload_as_bytes()))
            return
        line = frame.get_payload_as_ascii_text()
        for future, awaited in (
            (self.joined, self.my_join),
            (self.heard_everyone_join, self.last_join),
        ):
            if line == awaited and not future.done():
                future.set_result(None)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        if not self.leaving:
            self.tally.lost += 1
        for future in (self.joined, self.heard_everyone_join):
            if self.leaving:
                future.cancel()  # nobody waits any more
            elif not future.done():
                future.set_exception(RuntimeError(f"{self.name} was disconnected"))

    def leave(self) -> None:
        self.leaving = True
        self.transport.disconnect()


async def join_everyone(urls: list[str], count: int, tally: Tally) -> list[Guest]:
    """`count` guests, spread over `urls` in turn; returns once the storm is over."""
    guests = [Guest(f"g{number}", tally, f"g{count - 1}") for number in range(count)]
    *others, last = enumerate(guests)
    # Everyone but the last, BATCH at a time; then the last, alone, once all the
    # others are in, so that everyone hears it join.
    batches = [others[start : start + BATCH] for start in range(0, count - 1, BATCH)]
    for batch in [*batches, [last]]:
        await asyncio.gather(
            *(
                ws_connect(
                    lambda guest=guest: guest,
                    f"{urls[number % len(urls)]}/party?name={guest.name}",
                    websocket_handshake_timeout=60,  # a server busy with joins
                )
                for number, guest in batch
            )
        )
        await asyncio.wait_for(asyncio.gather(*(g.joined for _, g in batch)), 60)
    # Every join is news for everyone already there: wait for that storm to pass.
    storm = count * count / 2 * JOIN_SECONDS_PER_DELIVERY
    await asyncio.wait_for(
        asyncio.gather(*(g.heard_everyone_join for g in guests)), 10 + storm
    )
    return guests


@dataclass
class Watched:
    """The processes whose CPU time a step reads, the servers first."""

    names: list[str]
    processes: list[psutil.Process]
    servers: int  # how many of them, from the first, are servers
    pinned: bool  # the server and the generator each have a core of their own


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


@dataclass
class CpuMark:
    """CPU seconds used so far: by each watched process, and by the whole machine."""

    processes: list[float]
    busy: float  # the machine: every core, every process
    steal: float  # taken by the hypervisor

    @classmethod
    def read(cls, watched: Watched) -> "CpuMark":
        times = psutil.cpu_times()
        idle = times.idle + getattr(times, "iowait", 0.0)
        steal = getattr(times, "steal", 0.0)
        used = [cpu_seconds(process) for process in watched.processes]
        return cls(used, sum(times) - idle - steal, steal)


def what_held_it(shares: dict[str, float], elsewhere: float, pinned: bool) -> str:
    """What stopped a step, from CPU shares alone: the processes that used a whole
    core ("the server", "the server and the generator"...), all the cores, or
    nothing saturated."""
    saturated = [name for name, share in shares.items() if 100 * share >= SATURATED]
    if saturated:
        return " and ".join(saturated)
    cores = psutil.cpu_count() or 1
    if not pinned and 100 * (sum(shares.values()) + elsewhere) >= SATURATED * cores:
        return f"all {cores} cores"
    return "nothing saturated"


@dataclass
class Step:
    """One step of the search: the rate asked, and what came out."""

    asked_per_second: float
    speakers: int
    delivered_per_second: float
    p50_ms: float
    p99_ms: float
    missing: int  # deliveries of followed lines that never came
    lost: int  # guests whose connection ended during the step
    shares: dict[str, float]  # of a core, each process, over the followed window
    elsewhere: float  # of a core: other work on the machine, and the hypervisor
    server_us_per_delivery: float  # the servers' CPU time (not Redis's)
    limit: str  # what held it back, from `shares`: "the server", "the generator"...
    passed: bool


async def step(
    guests: list[Guest], tally: Tally, rate: float, watched: Watched, seconds: float
) -> Step:
    """Talk at `rate` deliveries a second; follow the lines of the measured window."""
    count = len(guests)
    lines_per_second = rate / count
    wanted = max(SPEAKERS, math.ceil(lines_per_second / MOST_PER_SPEAKER))
    speakers = guests[: min(count, wanted)]  # in turns: g0 on server 1, g1 on 2...
    tally.heard = []
    tally.talking = True
    lost_before = tally.lost
    first = followed = len(tally.said_at)
    began = time.perf_counter()
    follow_from, stop_at = began + WARM_UP_SECONDS, began + WARM_UP_SECONDS + seconds
    before = None
    while (now := time.perf_counter()) < stop_at:
        if before is None and now >= follow_from:
            before, followed = CpuMark.read(watched), len(tally.said_at)
        due = first + int((now - began) * lines_per_second) + 1
        while len(tally.said_at) < due:  # the lines due by now, each by a speaker
            number = len(tally.said_at)
            tally.said_at.append(time.perf_counter())
            speaker = speakers[number % len(speakers)]
            speaker.transport.send(WSMsgType.TEXT, b"%d" % number)
        await asyncio.sleep(TICK_SECONDS)
    after = CpuMark.read(watched)
    window = now - follow_from
    end = len(tally.said_at)
    # Wait for the lines still on their way, but not forever. A poll, not an Event:
    # the guests' hot path stays one append.
    deadline = time.perf_counter() + DRAIN_SECONDS
    expected = (end - first) * count
    while len(tally.heard) < expected and time.perf_counter() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    tally.talking = False
    assert before is not None  # the loop ran past follow_from
    latencies = []
    for heard_at, payload in tally.heard:  # "g3: 1234": the line's number at the end
        if payload.startswith(b"* "):
            continue  # news of the party (a join still on its way from Redis...)
        number = int(payload[payload.rindex(b" ") + 1 :])
        if number >= followed:
            latencies.append(heard_at - tally.said_at[number])
    in_window = sum(1 for at, _ in tally.heard if follow_from <= at < now)
    used = [a - b for a, b in zip(after.processes, before.processes, strict=True)]
    shares = {n: round(u / window, 2) for n, u in zip(watched.names, used, strict=True)}
    machine_busy = after.busy - before.busy + after.steal - before.steal
    elsewhere = round(max(machine_busy - sum(used), 0) / window, 2)
    ordered = sorted(latencies) or [math.inf]
    deliveries = (end - followed) * count
    p99_ms = 1000 * ordered[int(0.99 * (len(ordered) - 1))]
    missing, lost = deliveries - len(latencies), tally.lost - lost_before
    return Step(
        asked_per_second=rate,
        speakers=len(speakers),
        delivered_per_second=in_window / window,
        p50_ms=1000 * statistics.median(ordered),
        p99_ms=p99_ms,
        missing=missing,
        lost=lost,
        shares=shares,
        elsewhere=elsewhere,
        server_us_per_delivery=1e6 * sum(used[: watched.servers]) / max(deliveries, 1),
        limit=what_held_it(shares, elsewhere, watched.pinned),
        passed=missing == 0 and lost == 0 and p99_ms < P99_LIMIT_MS,
    )


def step_line(step: Step) -> str:
    shares = ", ".join(f"{name} {share:.0%}" for name, share in step.shares.items())
    return (
        f"  {step.asked_per_second:9,.0f} asked/s ({step.speakers} speakers): "
        f"{step.delivered_per_second:,.0f} delivered/s, p50 {step.p50_ms:.1f} ms, "
        f"p99 {step.p99_ms:.1f} ms, {step.missing} missing, {step.lost} lost; "
        f"CPU {shares}, elsewhere {step.elsewhere:.0%}: "
        f"{'passed' if step.passed else 'FAILED'}, held by {step.limit}"
    )


@dataclass
class Search:
    """One server at one party size: the join storm, then the steps."""

    key: str  # "party", "peer" or "redis"
    label: str
    guests: int
    join_seconds: float
    kib_per_guest: float
    steps: list[Step]

    def best(self) -> Step | None:
        passed = [s for s in self.steps if s.passed]
        return max(passed, key=lambda s: s.asked_per_second) if passed else None

    def limit(self) -> str:
        """What ended the search: the last failed step's limit, or why it stopped."""
        failed = [s for s in self.steps if not s.passed]
        if failed:
            return failed[-1].limit
        if self.steps and GENERATOR in self.steps[-1].limit:
            return self.steps[-1].limit
        return f"not reached in {len(self.steps)} steps"


def next_rate(steps: list[Step], first_rate: float) -> float | None:
    """The rate the next step asks, or None: the search is over.

    Up by GROWTH while the steps pass; after a fail, halfway (in ratio) between the
    best pass and the lowest fail above it, until they are FINEST apart. A step that
    failed with nothing saturated runs again, RETRIES times at most: other work on
    the machine may have held it.
    """
    if not steps:
        return first_rate
    last = steps[-1]
    if GENERATOR in last.limit or last.lost:
        return None  # the generator's own limit, or a party with guests missing
    rates = [s.asked_per_second for s in steps]
    if not last.passed and last.limit == "nothing saturated":
        if rates.count(last.asked_per_second) <= RETRIES:
            return last.asked_per_second
    passes = [s.asked_per_second for s in steps if s.passed]
    if not passes:
        return None  # even the first rate was too much
    best = max(passes)
    fails = [
        s.asked_per_second for s in steps if not s.passed and s.asked_per_second > best
    ]
    if not fails:
        return best * GROWTH
    if min(fails) <= best * FINEST * 1.001:  # 1.001: a float's rounding
        return None
    return math.sqrt(best * min(fails))


async def search(
    servers: list[Server], watched: Watched, count: int, options: argparse.Namespace
) -> Search:
    """Join, raise the rate step by step, then end the servers (no leave storm)."""
    tally = Tally()
    serving = watched.processes[: watched.servers]
    rss_before = sum(process.memory_info().rss for process in serving)
    began = time.perf_counter()
    guests = await join_everyone([s.url for s in servers], count, tally)
    join_seconds = time.perf_counter() - began
    grown = sum(process.memory_info().rss for process in serving) - rss_before
    print(f"  {count:,} guests joined in {join_seconds:.1f} s", flush=True)
    steps: list[Step] = []
    rate = next_rate(steps, options.first_rate)
    while rate is not None and len(steps) < options.steps:
        if steps and steps[-1].missing:
            await asyncio.sleep(DRAIN_SECONDS)  # a backlog still to drain
        steps.append(await step(guests, tally, rate, watched, options.seconds))
        print(step_line(steps[-1]), flush=True)
        rate = next_rate(steps, options.first_rate)
    for server in servers:  # before the guests leave: a leave storm measures nothing
        end(server)
    for guest in guests:
        guest.leave()
    await asyncio.sleep(0.1)  # the guests' connections end
    return Search("", "", count, join_seconds, grown / count / 1024, steps)


def end(server: Server) -> None:
    """No goodbyes: a thousand of them would only slow the next search."""
    if server.process.poll() is None:
        server.process.kill()
        server.process.wait()


def pin(processes: list[psutil.Process], core: int | None) -> None:
    """Keep processes on one of the two cores, or (None) let them use every core."""
    if machine.CORES is not None:
        cores = list(machine.CORES) if core is None else [machine.CORES[core]]
        for process in processes:
            process.cpu_affinity(cores)


def measure(
    key: str,
    label: str,
    servers: list[Server],
    count: int,
    options: argparse.Namespace,
    redis: psutil.Process | None = None,
) -> Search:
    """One search against servers started for it; it ends them."""
    print(f"{label}, {count:,} guests:", flush=True)
    serving = [psutil.Process(server.process.pid) for server in servers]
    generator = psutil.Process()
    pinned = len(servers) == 1 and machine.CORES is not None
    pin(serving, 0 if pinned else None)
    pin([generator], 1 if pinned else None)
    names = ["the server"] if len(servers) == 1 else ["server 1", "server 2"]
    extra = [] if redis is None else [redis]
    watched = Watched(
        names=[*names, *(["redis-server"] if redis else []), GENERATOR],
        processes=[*serving, *extra, generator],
        servers=len(servers),
        pinned=pinned,
    )
    result = uvloop.run(search(servers, watched, count, options))
    result.key, result.label = key, label
    return result


def best_of(search: Search) -> dict | None:
    best = search.best()
    return None if best is None else asdict(best)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--guests", type=int, nargs="+", default=list(GUESTS))
    parser.add_argument("--stage", default=FINISHED_STAGE, help="the one-process party")
    parser.add_argument("--first-rate", type=float, default=FIRST_RATE)
    parser.add_argument("--steps", type=int, default=STEPS, help="at most, per search")
    parser.add_argument("--seconds", type=float, default=SECONDS, help="per step")
    parser.add_argument("--json", action="store_true", help="JSON, not the report")
    options = parser.parse_args()
    # SIGTERM ends the run the way an error does: the servers are stopped too.
    signal.signal(signal.SIGTERM, lambda number, _: sys.exit(f"signal {number}"))
    began = time.monotonic()
    allow_many_sockets()  # 1,000 guests are 1,000 sockets here, and in the servers
    description = machine.describe()
    print(f"machine: {description}\n{LIMIT_LIFTED}", flush=True)
    redis_server = find_program("redis-server")
    if redis_server is None:
        print("redis-server not found (apt install redis-server): no run on two")
    searches: list[Search] = []
    with tempfile.TemporaryDirectory() as folder, ExitStack() as stack:
        logs = Path(folder)

        def start(module: str, *more: str) -> Server:
            log = logs / f"{module}-{len(searches)}-{time.monotonic_ns()}.log"
            server = start_server(module, log, *no_frame_limit(module), *more)
            stack.callback(end, server)
            return server

        for count in options.guests:
            party = start(options.stage)
            searches.append(measure("party", "the party", [party], count, options))
            peer = start(PEER)
            searches.append(
                measure("peer", "the peer, broadcast()", [peer], count, options)
            )
            if redis_server is None:
                continue
            redis = start_redis(redis_server, logs)
            stack.callback(redis.stop)
            assert redis.process is not None
            redis_process = psutil.Process(redis.process.pid)
            two = [start(FINISHED_STAGE, "--redis", redis.url) for _ in "12"]
            label = "the party, 2 processes + Redis"
            searches.append(measure("redis", label, two, count, options, redis_process))
            redis.stop()  # a fresh one for the next party: nothing left from this one
    result = {
        "machine": description,
        "stage": options.stage,
        "seconds": round(time.monotonic() - began),
        "searches": [
            asdict(s) | {"best": best_of(s), "limit": s.limit()} for s in searches
        ],
    }
    if options.json:  # for bench.run, which prints the report with its own
        print(json.dumps(result))
    else:
        print(f"\n{fanout_report(result)}")


if __name__ == "__main__":
    main()
