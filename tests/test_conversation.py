"""Stage 3's reply engine, on its own: topics, personas, and any text at all."""

import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from step3_robots.conversation import TOPICS, Conversation, topic_of
from step3_robots.robots import ROBOTS

LONGEST_REPLY = 200  # characters; a line plus a name of at most 20 letters
LINE_KEYS = (set(TOPICS) - {"goodbye"}) | {
    "introduction",
    "binary",
    "silence",
    "fallback",
}


@pytest.mark.parametrize("robot", ROBOTS, ids=lambda robot: robot.slug)
def test_every_robot_has_lines_for_every_topic(robot) -> None:
    assert set(robot.lines) == LINE_KEYS
    for key, lines in robot.lines.items():
        assert len(lines) >= 2, f"{robot.slug} has one line for {key}: it would repeat"


@pytest.mark.parametrize("robot", ROBOTS, ids=lambda robot: robot.slug)
def test_every_name_line_names_the_robot(robot) -> None:
    assert all(robot.name in line for line in robot.lines["name"])


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("Hi!", "hello"),
        ("hi, what's your name?", "name"),
        ("My name is Sam", "name"),  # reply_to makes it an introduction
        ("how are you?", "how_are_you"),
        ("what are your hobbies?", "likes"),
        ("you are gorgeous", "compliment"),
        ("dinner tonight?", "invitation"),
        ("I love you", "love"),
        ("are you a robot?", "robot"),
        ("tell me a joke", "joke"),
        ("ok bye", "goodbye"),
        ("good night!", "goodbye"),
        ("   ", "silence"),
        ("purple monkey dishwasher", "fallback"),
    ],
)
def test_topic_of_what_people_say_on_a_date(text, topic) -> None:
    assert topic_of(text) == topic


def test_a_robot_never_says_the_same_line_twice_in_a_row() -> None:
    conversation = Conversation(ROBOTS[0], random.Random(1))
    replies = [conversation.reply_to("tell me a joke") for _ in range(50)]
    assert all(first != second for first, second in itertools.pairwise(replies))


def test_introduction_uses_their_name() -> None:
    conversation = Conversation(ROBOTS[1], random.Random(1))
    assert "Sam" in conversation.reply_to("hello, my name is Sam")


def test_goodbye_ends_the_conversation() -> None:
    conversation = Conversation(ROBOTS[2], random.Random(1))
    assert conversation.reply_to("bye!") == ROBOTS[2].farewell
    assert conversation.is_over


@settings(deadline=None)  # a busy CI machine must not turn slowness into failure
@given(text=st.text(), robot=st.sampled_from(ROBOTS), seed=st.integers())
def test_any_text_gets_a_short_non_empty_reply(text, robot, seed) -> None:
    conversation = Conversation(robot, random.Random(seed))
    reply = conversation.reply_to(text)
    assert reply.strip()
    assert len(reply) <= LONGEST_REPLY


@settings(deadline=None)
@given(texts=st.lists(st.text(max_size=50), max_size=20), seed=st.integers())
def test_a_long_chat_never_raises(texts, seed) -> None:
    conversation = Conversation(ROBOTS[3], random.Random(seed))
    for text in texts:
        assert conversation.reply_to(text)


def test_every_keyword_belongs_to_one_topic() -> None:
    keywords = [keyword for listed in TOPICS.values() for keyword in listed.split()]
    assert len(set(keywords)) == len(keywords)


@pytest.mark.parametrize("text", ["My name is Sam", "hi! call me Sam, ok?"])
def test_introductions_use_their_name(text) -> None:
    conversation = Conversation(ROBOTS[0], random.Random(1))
    reply = conversation.reply_to(text)
    assert "Sam" in reply
    assert reply in [
        line.replace("{their_name}", "Sam") for line in ROBOTS[0].lines["introduction"]
    ]


def test_a_long_paste_is_answered_by_its_beginning() -> None:
    """A robot listens to the first 200 characters only: that bounds its work."""
    assert topic_of("tell me a joke " + "blah " * 800) == "joke"
    assert topic_of("blah " * 800 + "tell me a joke") == "fallback"
