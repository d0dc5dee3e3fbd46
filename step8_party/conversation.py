"""How a robot answers: listen for keywords, find the topic, pick one of its lines."""

import random
import re
from dataclasses import dataclass

# What people say on a date, and the words that give each topic away, most important
# first: "hi, what's your name?" is about the name, and "bye" always ends the date.
TOPICS = {
    "goodbye": "bye goodbye goodnight night later farewell ciao gotta",
    "name": "name call who",  # "my name is Sam" is an introduction: see reply_to
    "how_are_you": "how",
    "robot": "robot bot machine human real ai",
    "likes": "like likes hobby hobbies fun interests",
    "compliment": "beautiful cute handsome pretty lovely gorgeous charming",
    "invitation": "dinner walk movie coffee drink drinks dance lunch",
    "love": "love marry kiss heart soulmate",
    "joke": "joke jokes funny laugh",
    "hello": "hello hi hey greetings howdy morning evening",
}
# The topic each keyword gives away: "coffee" is an invitation.
TOPIC_OF_KEYWORD = {
    keyword: topic for topic, keywords in TOPICS.items() for keyword in keywords.split()
}
# Every topic a robot needs lines for: the ones above (goodbye has the farewell),
# "introduction" for "my name is Sam", and what to say to bytes, to an empty message
# and to anything else.
TOPICS_WITH_LINES = [
    *(topic for topic in TOPICS if topic != "goodbye"),
    *("introduction", "binary", "silence", "fallback"),
]
# A robot listens to the start of a message only: a 4 KB paste costs it little more
# than a short line.
ATTENTION_SPAN = 200
WORD = re.compile(r"[a-z']+")  # "what's" is one word
# "My name is Sam" lets a robot say "Sam" back; at most 20 letters of it.
THEIR_NAME = re.compile(r"\b(?:my name is|call me|i am called)\s+([\w']{1,20})", re.I)


def topic_of(text: str) -> str:
    """The topic of a message, "silence" when it has no words, or "fallback"."""
    words = WORD.findall(text[:ATTENTION_SPAN].lower())
    if not words:
        return "silence"
    found = {TOPIC_OF_KEYWORD[word] for word in words if word in TOPIC_OF_KEYWORD}
    for topic in TOPICS:  # the most important topic first
        if topic in found:
            return topic
    return "fallback"


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
    # Lines for each topic of TOPICS_WITH_LINES; "{their_name}" in an "introduction"
    # line is replaced by the name they gave.
    lines: dict[str, tuple[str, ...]]

    def __post_init__(self) -> None:
        """A robot with no line for some topic is refused now, not mid-date."""
        for topic in TOPICS_WITH_LINES:
            if not self.lines.get(topic):
                raise ValueError(f"robot {self.slug!r} has no lines for {topic!r}")

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
        if topic == "name":
            introduction = THEIR_NAME.search(text[:ATTENTION_SPAN])
            if introduction:
                line = self.pick("introduction")
                return line.replace("{their_name}", introduction[1])
        return self.pick(topic)

    def answer_binary(self) -> str:
        """What the robot says to bytes: it only reads text."""
        return self.pick("binary")

    def pick(self, topic: str) -> str:
        lines = self.robot.lines[topic]
        line = self.rng.choice(lines)
        if line == self.last_line:  # then the next one: never the same line twice
            line = lines[(lines.index(line) + 1) % len(lines)]
        self.last_line = line
        return line
