"""How a robot answers: listen for keywords, find the topic, pick one of its lines."""

import itertools
import random
import re
import string
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
# Every keyword, with its topic's place in that list: the lowest place wins.
PLACE_AND_TOPIC = {
    keyword.encode(): (place, topic)
    for place, (topic, keywords) in enumerate(TOPICS.items())
    for keyword in keywords.split()
}
NO_TOPIC = (len(TOPICS), "fallback")
# A robot listens to the start of a message only: a 4 KB paste costs it little more
# than a short line. It reads bytes, because bytes.translate() is a quick table
# lookup (str.translate() is not), and every keyword is plain ASCII.
ATTENTION_SPAN = 200
PUNCTUATION = string.punctuation.replace("'", "").encode()  # "what's" is one word
PUNCTUATION_TO_SPACES = bytes.maketrans(PUNCTUATION, b" " * len(PUNCTUATION))
# "My name is Sam" lets a robot say "Sam" back; at most 20 letters of it.
THEIR_NAME = re.compile(r"\b(?:my name is|call me|i am called)\s+([\w']{1,20})", re.I)


def topic_of(text: str) -> str:
    """The topic of a message, "silence" when empty, or "fallback"."""
    lowercase = text[:ATTENTION_SPAN].encode().lower()
    words = lowercase.translate(PUNCTUATION_TO_SPACES).split()
    if not words:
        return "silence"
    # min(PLACE_AND_TOPIC.get(word, NO_TOPIC) for word in words), without a loop
    # in Python: this runs for every message, so it is worth the speed.
    return min(map(PLACE_AND_TOPIC.get, words, itertools.repeat(NO_TOPIC)))[1]


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
        if topic == "name" and (
            introduction := THEIR_NAME.search(text[:ATTENTION_SPAN])
        ):
            return self.pick("introduction").replace("{their_name}", introduction[1])
        return self.pick(topic)

    def answer_binary(self) -> str:
        """What the robot says to bytes: it only reads text."""
        return self.pick("binary")

    def pick(self, topic: str) -> str:
        lines = self.robot.lines[topic]
        line = lines[int(self.rng.random() * len(lines))]  # rng.choice(), but cheaper
        if line == self.last_line:  # then the next one: never the same line twice
            line = lines[(lines.index(line) + 1) % len(lines)]
        self.last_line = line
        return line
