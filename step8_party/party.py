"""The party: one room where every guest hears every line, and the robots mingle.

A line travels one way. A guest's handler *publishes* it to the party line, a
queue, and one task *delivers* whatever comes out of the queue to every guest,
the sender included. The room never waits for a guest: every guest has an outbox
that its own writer task empties.
"""

import asyncio
import logging
import random
import re
from collections.abc import Callable
from types import TracebackType

from aiohttp import web

from .conversation import Conversation
from .defences import cut_off
from .robots import ROBOTS

NAME = re.compile(r"[A-Za-z0-9_-]{1,20}")
# Newlines would split a line in two, and escape sequences play tricks on terminals.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
OUTBOX_LINES = 64  # lines a guest may fall behind before we hang up on them
QUEUE_LINES = 1000  # lines waiting for delivery in one process; senders wait beyond


class InProcessLine:
    """The party line of a single process: a queue, and one task delivering from it."""

    def __init__(self) -> None:
        self.lines: asyncio.Queue[str] = asyncio.Queue(maxsize=QUEUE_LINES)
        self.delivery: asyncio.Task[None] | None = None

    async def open(self, deliver: Callable[[str], None]) -> None:
        self.delivery = asyncio.create_task(self.deliver_all(deliver))

    async def publish(self, line: str) -> None:
        await self.lines.put(line)  # waits while the queue is full: backpressure

    async def deliver_all(self, deliver: Callable[[str], None]) -> None:
        while True:
            deliver(await self.lines.get())
            # Let every guest's writer send this line before we deliver the next:
            # a burst delivered in one go would fill every outbox at once.
            await asyncio.sleep(0)

    async def close(self) -> None:
        if self.delivery is not None:
            self.delivery.cancel()


class Guest:
    """One guest: a name, a connection, and an outbox that a writer task empties."""

    def __init__(self, name: str, ws: web.WebSocketResponse) -> None:
        self.name = name
        self.ws = ws
        self.outbox: asyncio.Queue[str] = asyncio.Queue(maxsize=OUTBOX_LINES)
        self.transport: asyncio.Transport | None = None  # set once the guest is in
        self.writer: asyncio.Task[None] | None = None

    def start(self, transport: asyncio.Transport) -> None:
        """The handshake is done: from now on, lines for this guest are sent."""
        self.transport = transport
        self.writer = asyncio.create_task(self.write())

    def post(self, line: str) -> None:
        """Queue a line for this guest; hang up on them if they are too far behind."""
        if self.transport is None or self.transport.is_closing() or self.ws.closed:
            return  # not in yet, or on the way out
        try:
            self.outbox.put_nowait(line)
        except asyncio.QueueFull:
            logging.warning("cut off %s: %d lines behind", self.name, OUTBOX_LINES)
            cut_off(self.transport)  # wakes the writer too, if it waits to send

    async def write(self) -> None:
        """Send the outbox, line by line, as fast as this guest reads."""
        try:
            while True:
                await self.ws.send_str(await self.outbox.get())
        except ConnectionError:  # the guest left, or was cut off: the handler logs it
            pass

    def stop(self) -> None:
        if self.writer is not None:
            self.writer.cancel()


class Room:
    """Everyone at the party in this process, and the robots, who never leave."""

    def __init__(self, line: InProcessLine, rng: random.Random) -> None:
        self.line = line
        self.guests: dict[str, Guest] = {}  # by name in lowercase: Sam is sam
        self.robots = {
            robot.name.split()[0].lower(): Conversation(robot, rng) for robot in ROBOTS
        }
        self.robot_names = re.compile(rf"\b({'|'.join(self.robots)})\b", re.IGNORECASE)

    async def __aenter__(self) -> "Room":
        await self.line.open(self.deliver)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.line.close()

    def arrive(self, name: str, ws: web.WebSocketResponse) -> Guest:
        """A new guest, if the name is good and free: else 400 or 409."""
        if not NAME.fullmatch(name):
            raise web.HTTPBadRequest(
                text="Come with a name of 1 to 20 letters, digits, - or _, "
                "like this: /party?name=Sam"
            )
        if name.lower() in self.robots:
            raise web.HTTPConflict(text=f"{name} is a robot, and already here.")
        if name.lower() in self.guests:
            raise web.HTTPConflict(text=f"Someone called {name} is here already.")
        guest = self.guests[name.lower()] = Guest(name, ws)
        return guest

    async def leave(self, guest: Guest) -> None:
        guest.stop()
        del self.guests[guest.name.lower()]
        if guest.transport is not None:  # they were in: tell everyone
            await self.say(f"* {guest.name} left", guest)

    async def speak(self, guest: Guest, text: str) -> None:
        """What a guest said, for everyone, then the answers of the robots it names."""
        await self.say(f"{guest.name}: {CONTROL_CHARACTERS.sub(' ', text)}", guest)
        for answer in self.answers_to(text):
            await self.say(answer, guest)

    async def say(self, line: str, guest: Guest) -> None:
        """Publish a line for everyone."""
        await self.line.publish(line)

    def answers_to(self, text: str) -> list[str]:
        """What each robot named in the text says to it, in the robot's own words."""
        named = {name.lower() for name in self.robot_names.findall(text)}
        return [
            f"{conversation.robot.name.split()[0]}: {conversation.reply_to(text)}"
            for name, conversation in self.robots.items()
            if name in named
        ]

    def deliver(self, line: str) -> None:
        for guest in list(self.guests.values()):
            guest.post(line)
