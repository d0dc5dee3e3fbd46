"""The party line across processes: a Redis pub/sub channel.

Every process publishes its guests' lines to one channel, and delivers whatever
it hears on the channel to its own guests, its own lines included. So each guest
gets each line once, whichever process they are connected to. Pub/sub delivers
at most once: a line published while a process is not listening is lost to its
guests, and Redis keeps nothing for later.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from .party import LINE_BACK, LINE_DOWN

CHANNEL = "robot-dates:party"
CONNECTIONS = 8  # to Redis, per process: one listens, the others publish
TIMEOUT_SECONDS = 2  # to connect, to run a command, to wait for a free connection
RETRY_SECONDS = 0.1  # the first wait before reconnecting; it doubles each time...
RETRY_AT_MOST_SECONDS = 2  # ...up to this


class RedisLine:
    """A party line shared by every process that uses the same Redis."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.redis: Redis | None = None
        self.listener: asyncio.Task[None] | None = None

    async def open(self, deliver: Callable[[str], None]) -> None:
        """Start listening; return once subscribed, or once we know Redis is down."""
        pool = BlockingConnectionPool.from_url(
            self.url,
            max_connections=CONNECTIONS,
            timeout=TIMEOUT_SECONDS,
            socket_connect_timeout=TIMEOUT_SECONDS,
            socket_timeout=TIMEOUT_SECONDS,
            # One retry, at once, on a new connection: after Redis restarts, the
            # pool's old ones are dead. Waiting for Redis to return is our job.
            retry=Retry(NoBackoff(), retries=1),
            decode_responses=True,
        )
        self.redis = Redis.from_pool(pool)
        first_try = asyncio.Event()
        self.listener = asyncio.create_task(self.listen(deliver, first_try))
        await first_try.wait()  # no guest may speak before we can hear them

    async def publish(self, line: str) -> bool:
        assert self.redis is not None
        try:
            await self.redis.publish(CHANNEL, line)
        except (RedisError, OSError):
            return False
        return True

    async def listen(
        self, deliver: Callable[[str], None], first_try: asyncio.Event
    ) -> None:
        """Deliver what the channel says; when Redis goes away, say so and retry."""
        assert self.redis is not None
        down, wait = False, RETRY_SECONDS
        while True:
            try:
                async with self.redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    first_try.set()
                    if down:
                        logging.warning("the party line is back")
                        deliver(LINE_BACK)
                    down, wait = False, RETRY_SECONDS
                    async for message in pubsub.listen():
                        deliver(message["data"])
                        await asyncio.sleep(0)  # the writers first (see InProcessLine)
            except (RedisError, OSError) as error:
                first_try.set()
                if not down:
                    logging.warning("the party line is down, reconnecting: %s", error)
                    deliver(LINE_DOWN)
                down = True
            await asyncio.sleep(wait)  # less and less often, while Redis is down
            wait = min(wait * 2, RETRY_AT_MOST_SECONDS)

    async def close(self) -> None:
        if self.listener is not None:
            self.listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.listener  # it unsubscribes on its way out
        if self.redis is not None:
            await self.redis.aclose()
