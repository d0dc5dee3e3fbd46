"""The party line across processes: a Redis pub/sub channel, and names in Redis.

Each process publishes its guests' lines to one channel and delivers what it hears
there to its own guests. Redis is trusted no more than a guest.
"""

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as LostConnection
from redis.exceptions import RedisError

from .defences import OncePerSecond
from .party import LINE_BACK, LINE_DOWN, clean

CHANNEL = "robot-dates:party"
NAMES = "robot-dates:name:"  # + a name in lowercase: which process has that guest
NAME_SECONDS = 30  # a claim on a name lasts this long, unless its process renews it
CONNECTIONS = 32  # to Redis, per process: one listens, the others publish
TIMEOUT_SECONDS = 1  # for any answer from Redis; and the oldest line we take
WATCH_SECONDS = 0.5  # how often we ask Redis whether it is there
RETRY_SECONDS = 0.5  # how long the listener waits to listen again, after trouble
# Release a name only if this process still holds it: one atomic step in Redis.
RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('del', KEYS[1]) end"
TROUBLE = (RedisError, OSError)  # redis-py's TimeoutError is a RedisError

TROUBLE_LOG = logging.getLogger(__name__)  # what can repeat at will: bad lines...
TROUBLE_LOG.addFilter(OncePerSecond(lambda record: True))  # ...cost a line a second


class RedisLine:
    """A party line shared by every process that uses the same Redis."""

    def __init__(self, url: str) -> None:
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=CONNECTIONS,
            timeout=TIMEOUT_SECONDS,
            socket_connect_timeout=TIMEOUT_SECONDS,
            socket_timeout=TIMEOUT_SECONDS,  # so nothing waits on a frozen Redis
            retry=Retry(NoBackoff(), 1, (LostConnection,)),  # after a restart: anew
        )
        self.redis = Redis.from_pool(pool)
        self.watching = Redis(connection_pool=pool, single_connection_client=True)
        self.tasks: list[asyncio.Task[None]] = []
        self.deliver: Callable[[str], None] = lambda line: None
        self.me = f"{os.getpid()}:{id(self)}"  # who claims a name, in Redis
        self.names: set[str] = set()  # the names this process has claimed
        self.subscribed = False  # the listener hears the channel...
        self.renew_now = True  # ...again: claim names admitted while it did not
        self.up = True  # Redis answers, and the listener hears: what we last said

    async def open(self, deliver: Callable[[str], None]) -> None:
        self.deliver = deliver
        first_try = asyncio.Event()
        self.tasks = [asyncio.create_task(self.listen(first_try))]
        await first_try.wait()  # subscribed, or Redis is down: now guests may speak
        self.tasks.append(asyncio.create_task(self.watch()))

    async def publish(self, line: str) -> bool:
        if not self.up:
            return False  # down: no need to wait to know it
        try:
            await self.redis.publish(CHANNEL, f"{time.time():.3f} {line}")
        except TROUBLE:
            return False
        return True

    async def claim(self, name: str) -> bool:
        """Keep `name` for a guest of ours; False if another process has it."""
        try:
            claimed = await self.redis.set(
                NAMES + name, self.me, nx=True, ex=NAME_SECONDS
            )
        except TROUBLE:  # two guests of one name may meet, once Redis is back
            TROUBLE_LOG.warning("Redis is down: %s is checked here only", name)
            claimed = True
        if claimed:
            self.names.add(name)
        return bool(claimed)

    async def release(self, name: str) -> None:
        self.names.discard(name)
        if self.up:
            with contextlib.suppress(*TROUBLE):  # if not, it expires by itself
                await self.redis.eval(RELEASE, 1, NAMES + name, self.me)

    def hear(self, data: bytes) -> None:
        """A line from the channel: its time, a space, and what was said."""
        try:
            stamp, _, line = data.decode().partition(" ")
            age = time.time() - float(stamp)
        except ValueError:  # not UTF-8 (UnicodeDecodeError), or no stamp
            TROUBLE_LOG.warning("dropped a line that is not ours: %r", data[:40])
            return
        if age <= TIMEOUT_SECONDS:  # older: its speaker was told it was lost
            self.deliver(clean(line))

    async def listen(self, first_try: asyncio.Event) -> None:
        """Deliver what the channel says; when anything goes wrong, listen again."""
        while True:
            try:
                async with self.redis.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    while True:  # a read waits WATCH_SECONDS at most, then again
                        message = await pubsub.get_message(timeout=WATCH_SECONDS)
                        if message is None:
                            continue
                        if message["type"] == "subscribe":
                            self.subscribed = self.renew_now = True
                            first_try.set()
                        elif message["type"] == "message":
                            self.hear(message["data"])
            except Exception as error:  # whatever it was, the party goes on
                TROUBLE_LOG.warning("the party line's listener stopped: %r", error)
            self.subscribed = False
            first_try.set()
            await asyncio.sleep(RETRY_SECONDS)

    async def watch(self) -> None:
        """Ask Redis if it is there, on a connection of its own (a busy pool is no
        Redis that is down); say when that changes; renew our names."""
        renewed_at = time.monotonic()
        while True:
            late = time.monotonic() - renewed_at > NAME_SECONDS / 3
            renew = self.renew_now or not self.up or late
            try:
                await self.check(renew)
                answers = True
                if renew:
                    renewed_at, self.renew_now = time.monotonic(), False
            except Exception as error:  # whatever it was, we keep watching
                if not isinstance(error, TROUBLE):
                    TROUBLE_LOG.warning("the party line's watch: %r", error)
                answers = False
            self.tell(up=answers and self.subscribed)
            await asyncio.sleep(WATCH_SECONDS)

    async def check(self, renew: bool) -> None:
        await self.watching.ping()
        if renew and self.names:  # one round trip for them all
            async with self.watching.pipeline() as renewal:
                for name in self.names:
                    renewal.set(NAMES + name, self.me, ex=NAME_SECONDS)
                await renewal.execute()

    def tell(self, *, up: bool) -> None:
        if up != self.up:  # log it, and tell every guest here
            self.up = up
            logging.warning("the party line is %s", "back" if up else "down")
            self.deliver(LINE_BACK if up else LINE_DOWN)

    async def close(self) -> None:
        """Stop, and let go of Redis: a second at most, however Redis is."""
        for task in self.tasks:
            task.cancel()
        closing = [
            asyncio.ensure_future(r.aclose()) for r in (self.redis, self.watching)
        ]
        await asyncio.wait([*self.tasks, *closing], timeout=TIMEOUT_SECONDS)
