"""How a robot answers: listen for keywords, find the topic, pick one of its lines."""

import itertools
import random
import re
from dataclasses import dataclass

# What people say on a date, checked in this order: the first topic you touched on
# wins, so "hi, what's your name?" is about the name, and "bye" always ends the date.
# A keyword is one word or two in a row; commas separate them.
TOPICS = {
    "goodbye": "bye, goodbye, good night, goodnight, see you, farewell, ciao, gotta go",
    "name": "your name, who are",
    "introduction": "my name, call me, am called",
    "how_are_you": "how are, how's it, how is, how do",
    "robot": "a robot, a bot, a machine, an ai, you ai, you human, a human, you real",
    "likes": "you like, hobby, hobbies, for fun, interests",
    "compliment": "beautiful, cute, handsome, pretty, lovely, gorgeous, charming",
    "invitation": "dinner, walk, movie, coffee, drink, drinks, dance, lunch, go out",
    "love": "love, marry, kiss, heart, soulmate",
    "joke": "joke, jokes, funny, me laugh",
    "hello": "hello, hi, hey, greetings, howdy, good morning, good evening",
}
# Keywords as bytes: bytes.translate() is a plain table lookup, far cheaper than
# str.translate(), and every keyword is plain ASCII.
TOPIC_OF_KEYWORD = {
    keyword.encode(): topic
    for topic, keywords in TOPICS.items()
    for keyword in keywords.split(", ")
}
TOPIC_ORDER = list(TOPICS)
# A robot listens to the start of a message only, so a 4 KB paste costs about as
# much to answer as a short line. Punctuation is just space to it.
ATTENTION_SPAN = 200
PUNCTUATION = b'!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~'
PUNCTUATION_TO_SPACES = bytes.maketrans(PUNCTUATION, b" " * len(PUNCTUATION))
# "My name is Sam" lets a robot say "Sam" back; at most 20 letters of it.
THEIR_NAME = re.compile(r"\b(?:my name is|call me|i am called)\s+([\w']{1,20})", re.I)


def topic_of(text: str) -> str:
    """The topic of a message, "silence" when empty, or "fallback"."""
    if not text.strip():
        return "silence"
    lowercase = text[:ATTENTION_SPAN].encode().lower()
    words = lowercase.translate(PUNCTUATION_TO_SPACES).split()
    pairs = map(b" ".join, itertools.pairwise(words))  # "how are", "are you", ...
    heard = TOPIC_OF_KEYWORD.keys() & {*words, *pairs}
    topics = [TOPIC_OF_KEYWORD[keyword] for keyword in heard]
    return min(topics, key=TOPIC_ORDER.index, default="fallback")


def their_name(text: str) -> str:
    """The name in "my name is Sam" (or "call me Sam"), else "you"."""
    match = THEIR_NAME.search(text[:ATTENTION_SPAN])
    return match[1] if match else "you"


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
        line = self.pick(topic)
        if topic == "introduction":
            line = line.replace("{their_name}", their_name(text))
        return line

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
