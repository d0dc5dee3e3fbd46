"""The party: one room where every guest hears every line, and the robots mingle.

A line travels one way. A guest's handler *publishes* it to the party line, and
the party line *delivers* it to every guest, the sender included. Delivery never
waits for a guest: each line is framed once, the same bytes for everyone, and
written straight to each guest's connection, all the lines of one turn of the
event loop in one write. A guest whose connection holds more than BEHIND_BYTES
unsent is too far behind, and is cut off.
"""

import asyncio
import logging
import random
import re
import struct
from collections.abc import Callable
from types import TracebackType
from typing import Protocol

from aiohttp import web

from .conversation import Conversation
from .defences import BACKLOG_BYTES, cut_off
from .robots import ROBOTS

NAME = re.compile(r"[A-Za-z0-9_-]{1,20}")
# Newlines would split a line in two, escape sequences play tricks on terminals,
# and bidi controls (U+202E...) turn what others read around.
UNPRINTABLE = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)
MOST_LINE_CHARACTERS = 4200  # a message of the size limit, and a name before it
# Unsent to one guest: beyond this, at once, they are cut off. (Stage 5's sweeper
# also cuts off a client with more than BACKLOG_BYTES unsent when it passes.)
BEHIND_BYTES = 4 * BACKLOG_BYTES
LINE_DOWN = "* the party line is down; reconnecting..."
LINE_BACK = "* the party line is back"


def clean(text: str) -> str:
    """What anyone may say at the party: one line of printable text, not too long."""
    return UNPRINTABLE.sub(" ", text[:MOST_LINE_CHARACTERS])


def text_frame(line: str) -> bytes:
    """A WebSocket text frame from the server: a head (FIN + text, the length) and
    the line in UTF-8. Unmasked, so every guest can get the very same bytes."""
    payload = line.encode()
    if len(payload) < 126:
        head = struct.pack("!BB", 0x81, len(payload))
    else:
        head = struct.pack("!BBH", 0x81, 126, len(payload))  # up to 64 KiB
    return head + payload


class PartyLine(Protocol):
    """How lines (and names) go from the guests to every room, in every process."""

    async def open(self, deliver: Callable[[str], None]) -> None: ...
    async def publish(self, line: str) -> bool: ...  # False: the line is down
    async def claim(self, name: str) -> bool: ...  # False: taken in another room
    async def release(self, name: str) -> None: ...
    async def close(self) -> None: ...


class InProcessLine:
    """The party line of a single process: what is published is delivered at once."""

    def __init__(self) -> None:
        self.deliver: Callable[[str], None] = lambda line: None

    async def open(self, deliver: Callable[[str], None]) -> None:
        self.deliver = deliver

    async def publish(self, line: str) -> bool:
        self.deliver(line)
        return True

    async def claim(self, name: str) -> bool:
        return True  # the room itself knows every name of this process

    async def release(self, name: str) -> None:
        pass

    async def close(self) -> None:
        pass


class Guest:
    """One guest: a name, and the connection we write their lines to."""

    def __init__(self, name: str, ws: web.WebSocketResponse) -> None:
        self.name = name
        self.ws = ws
        self.transport: asyncio.Transport | None = None  # set once the guest is in
        self.unsent: list[bytes] = []  # frames of this turn of the event loop

    def post(self, frame: bytes) -> bool:
        """Keep a frame for this turn's write; True if the guest had none yet."""
        if self.transport is None or self.transport.is_closing() or self.ws.closed:
            return False  # not in yet, or on the way out
        self.unsent.append(frame)
        return len(self.unsent) == 1

    def write(self) -> None:
        """Write this turn's frames in one go, or cut off a guest too far behind."""
        frames, self.unsent = b"".join(self.unsent), []
        if self.transport is None or self.transport.is_closing() or self.ws.closed:
            return  # gone, or said goodbye: nothing may follow a closing frame
        if self.transport.get_write_buffer_size() + len(frames) > BEHIND_BYTES:
            logging.warning("cut off a client too far behind: %s", self.name)
            cut_off(self.transport)
        else:
            self.transport.write(frames)


class Room:
    """Everyone at the party in this process, and the robots, who never leave."""

    def __init__(self, line: PartyLine, rng: random.Random) -> None:
        self.line = line
        self.guests: dict[str, Guest] = {}  # by name in lowercase: Sam is sam
        self.to_write: list[Guest] = []  # guests with frames to write this turn
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

    async def arrive(self, name: str, ws: web.WebSocketResponse) -> Guest:
        """A new guest, if the name is good and free in every room: else 400 or 409."""
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
        if not await self.line.claim(name.lower()):
            del self.guests[name.lower()]
            raise web.HTTPConflict(text=f"Someone called {name} is here already.")
        return guest

    async def leave(self, guest: Guest) -> None:
        del self.guests[guest.name.lower()]
        await self.line.release(guest.name.lower())
        if guest.transport is not None:  # they were in: tell everyone
            await self.say(f"* {guest.name} left", guest)

    async def speak(self, guest: Guest, text: str) -> None:
        """What a guest said, for everyone, then the answers of the robots it names."""
        await self.say(f"{guest.name}: {clean(text)}", guest)
        for answer in self.answers_to(text):
            await self.say(answer, guest)

    async def say(self, line: str, guest: Guest) -> None:
        """Publish a line for everyone; if the party line is down, tell the guest."""
        if not await self.line.publish(line):
            self.post(text_frame(LINE_DOWN), guest)

    def answers_to(self, text: str) -> list[str]:
        """What each robot named in the text says to it, in the robot's own words."""
        named = {name.lower() for name in self.robot_names.findall(text)}
        return [
            f"{conversation.robot.name.split()[0]}: {conversation.reply_to(text)}"
            for name, conversation in self.robots.items()
            if name in named
        ]

    def deliver(self, line: str) -> None:
        """A line for every guest: framed once, written at the end of this turn."""
        self.post(text_frame(line), *self.guests.values())

    def post(self, frame: bytes, *guests: Guest) -> None:
        for guest in guests:
            if guest.post(frame):
                self.to_write.append(guest)
                if len(self.to_write) == 1:  # the first this turn: write them later
                    asyncio.get_running_loop().call_soon(self.write_all)

    def write_all(self) -> None:
        to_write, self.to_write = self.to_write, []
        for guest in to_write:
            guest.write()
