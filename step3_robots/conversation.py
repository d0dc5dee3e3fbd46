"""How a robot answers: match what you said to a topic, then pick one of its lines."""

import random
import re
from dataclasses import dataclass

# What people say on a date, checked in this order: the first topic that matches wins,
# so "hi, what's your name?" is about the name, and "bye" always ends the date.
# The patterns are lowercase and see lowercased text: faster than re.IGNORECASE.
TOPICS: dict[str, re.Pattern[str]] = {
    name: re.compile(pattern)
    for name, pattern in {
        "goodbye": r"\b(bye|goodbye|good ?night|see you|farewell|ciao|gotta go)\b",
        "name": r"\b(what('?s| is) your name|who are you|your name)\b",
        "introduction": r"\b(my name is|call me|i am called)\b",
        "how_are_you": r"\b(how are you|how('?s| is) it going|how do you do)\b",
        "robot": r"\bare you (an? )?(robot|bot|machine|human|real|ai)\b",
        "likes": r"\b(what do you like|hobb(y|ies)|for fun|interests?|do you like)\b",
        "compliment": r"\b(beautiful|cute|handsome|pretty|lovely|gorgeous|charming)\b",
        "invitation": r"\b(dinner|walk|movie|coffee|drinks?|dance|lunch|go out)\b",
        "love": r"\b(love|marry|kiss|heart|soulmate)\b",
        "joke": r"\b(jokes?|funny|make me laugh)\b",
        "hello": r"\b(hello|hi|hey|greetings|howdy|good (morning|evening))\b",
    }.items()
}
# "My name is Sam" lets a robot say "Sam" back; at most 20 letters of it.
THEIR_NAME = re.compile(r"\b(?:my name is|call me|i am called)\s+(\w{1,20})", re.I)


@dataclass(frozen=True)
class Robot:
    """A robot on the dating app: a profile, and the lines it answers with."""

    slug: str
    name: str
    tagline: str
    age: int  # in robot years
    likes: tuple[str, ...]
    dislikes: tuple[str, ...]
    looking_for: str
    greeting: str
    farewell: str
    # One tuple of lines per topic above (goodbye excepted: that is the farewell),
    # plus "binary" for binary frames, "silence" for empty messages, and "fallback"
    # when nothing matches. "{their_name}" in an "introduction" line is replaced.
    lines: dict[str, tuple[str, ...]]

    def profile(self) -> dict[str, object]:
        """What GET /robots shows of this robot."""
        return {
            "slug": self.slug,
            "name": self.name,
            "tagline": self.tagline,
            "age": self.age,
            "likes": list(self.likes),
            "dislikes": list(self.dislikes),
            "looking_for": self.looking_for,
        }


def topic_of(text: str) -> str:
    """The topic of a message, "silence" when empty, or "fallback"."""
    if not text.strip():
        return "silence"
    lowercase = text.lower()
    for topic, pattern in TOPICS.items():
        if pattern.search(lowercase):
            return topic
    return "fallback"


class Conversation:
    """One date with one robot. It never says the same line twice in a row."""

    def __init__(self, robot: Robot, rng: random.Random) -> None:
        self.robot = robot
        self.rng = rng
        self.last_line = robot.greeting
        self.is_over = False

    def reply_to(self, text: str) -> str:
        """The robot's answer to one text message."""
        topic = topic_of(text)
        if topic == "goodbye":
            self.is_over = True
            return self.robot.farewell
        line = self.pick(topic)
        if topic == "introduction":
            their_name = THEIR_NAME.search(text)
            line = line.replace("{their_name}", their_name[1] if their_name else "you")
        return line

    def answer_binary(self) -> str:
        """What the robot says to bytes: it only reads text."""
        return self.pick("binary")

    def pick(self, topic: str) -> str:
        choices = [line for line in self.robot.lines[topic] if line != self.last_line]
        self.last_line = self.rng.choice(choices or self.robot.lines[topic])
        return self.last_line
