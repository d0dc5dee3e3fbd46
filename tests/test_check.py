"""`make check` judges a learner's folder with the stage's own tests."""

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness import ROOT

PYCACHE = shutil.ignore_patterns("__pycache__")


def check(step: str, folder: Path, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tests.check", step, str(folder), *options],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


# The big stages run their in-process tests and one real server each: that proves
# make check loads a learner's folder both ways, in a fraction of the time.
# step3_robots is checked below, as a copy with a fifth robot.
SOME_OF = {
    "step2_loop": ["-k", "not never_reads and not vanishes"],
    "step8_party": ["-k", "in-process or sigterm"],
}


@pytest.mark.parametrize("step", ["step1_hello", "step2_loop", "step8_party"])
def test_a_copy_of_each_stage_passes(step: str, tmp_path: Path) -> None:
    copy = shutil.copytree(
        ROOT / step, tmp_path / "my copy-of this stage", ignore=PYCACHE
    )
    before = sorted(copy.rglob("*"))
    result = check(step, copy, *SOME_OF.get(step, []))
    assert result.returncode == 0, result.stdout
    assert "✗" not in result.stdout
    assert "behaviours match" in result.stdout
    assert sorted(copy.rglob("*")) == before  # the learner's folder is left alone


def test_stage_1_checked_as_stage_2_fails_and_says_why(tmp_path: Path) -> None:
    copy = shutil.copytree(ROOT / "step1_hello", tmp_path / "step1", ignore=PYCACHE)
    result = check("step2_loop", copy, "-k", "answers_every_message")
    assert result.returncode == 1
    assert "✗ The server should keep the connection open after the first reply." in (
        result.stdout
    )


def copy_with_a_change(step: str, folder: Path, old: str, new: str) -> Path:
    """A learner's copy of a stage, with one line of app.py typed differently."""
    copy = shutil.copytree(ROOT / step, folder, ignore=PYCACHE)
    app = copy / "app.py"
    assert old in app.read_text()
    app.write_text(app.read_text().replace(old, new))
    return copy


def failures(result: subprocess.CompletedProcess) -> list[str]:
    """Each ✗ line of the check, with the reason printed under it."""
    lines = result.stdout.splitlines()
    return [
        f"{line.strip()} | {lines[n + 1].strip()}"
        for n, line in enumerate(lines)
        if line.lstrip().startswith("✗")
    ]


def test_the_echo_exercise_fails_only_the_reply_text(tmp_path: Path) -> None:
    """Chapter 1's exercise changes the reply, and only the reply's test says so."""
    copy = copy_with_a_change(
        "step1_hello",
        tmp_path / "echo",
        'await ws.send_str("hello world!")',
        'await ws.send_str(f"you said: {msg.data}")',
    )
    assert failures(check("step1_hello", copy)) == [
        '✗ The server should answer the first message with "hello world!". '
        "| the reply was 'you said: hello!'"
    ]


def test_a_forgotten_await_is_named_as_such(tmp_path: Path) -> None:
    """Deleting `await` gets "did you forget an await?", not WSMessageTypeError."""
    copy = copy_with_a_change(
        "step1_hello", tmp_path / "no-await", "await ws.send_str(", "ws.send_str("
    )
    result = check("step1_hello", copy)
    reasons = [failure.split(" | ")[1] for failure in failures(result)]
    assert reasons
    hint = "did you forget an await? Python says: coroutine "
    assert all(reason.startswith(hint) for reason in reasons), reasons
    assert "WSMessageTypeError" not in result.stdout


def test_a_chat_on_shutdown_cannot_find_fails_in_seconds_with_the_reason(
    tmp_path: Path,
) -> None:
    """A chat on_shutdown cannot see: the test waits 5 s, then says what it wanted."""
    copy = copy_with_a_change(
        "step2_loop",
        tmp_path / "no-register",
        "    if request.transport is not None:  # None if the client has left already\n"
        "        request.app[chats][ws] = request.transport\n",
        "",
    )
    result = check("step2_loop", copy, "-k", "stops_at_once and ctrl")
    expected = (
        "expected close code 1001 within 5 s of the shutdown, and none came: "
        "is every chat kept where on_shutdown finds it?"
    )
    reasons = [failure.split(" | ")[1] for failure in failures(result)]
    assert reasons == [expected]  # the test's own bounded wait, not ours
    assert "Traceback" not in result.stdout + result.stderr


def test_a_folder_that_is_not_a_stage_gets_a_clear_message(tmp_path: Path) -> None:
    result = check("step2_loop", tmp_path)
    assert result.returncode == 2
    assert "needs app.py and __main__.py" in result.stdout


def test_every_stage_test_says_which_behaviour_it_checks() -> None:
    """`make check` prints each test's docstring: none may be missing."""
    for module_path in sorted((ROOT / "tests").glob("test_step*.py")):
        tree = ast.parse(module_path.read_text())
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and (
                node.name.startswith("test_")
            ):
                assert ast.get_docstring(node), f"{module_path.name}::{node.name}"


def copy_with_a_fifth_robot(folder: Path, lines: str) -> Path:
    """Stage 3 with Sparky added to ROBOTS: Bolt's lines, updated with `lines`."""
    copy = shutil.copytree(ROOT / "step3_robots", folder, ignore=PYCACHE)
    with (copy / "robots.py").open("a") as robots:
        robots.write(
            "\n\nSPARKY = replace(\n"
            '    BOLT, slug="sparky", name="Sparky",\n'
            f"    lines={lines},\n"
            ")\nROBOTS = [*ROBOTS, SPARKY]\n"
        )
    (copy / "robots.py").write_text(
        "from dataclasses import replace\n" + (copy / "robots.py").read_text()
    )
    return copy


def test_a_fifth_robot_needs_no_handler_changes(tmp_path: Path) -> None:
    """The book's promise: add a Robot to ROBOTS, touch nothing else, and it works."""
    copy = copy_with_a_fifth_robot(
        tmp_path / "five",
        '{**BOLT.lines, "name": ("Sparky!", "I am Sparky, hello.")}',
    )
    before = sorted(copy.rglob("*"))
    result = check("step3_robots", copy, "-k", "in-process or shutdown_closes")
    assert result.returncode == 0, result.stdout
    assert "✗" not in result.stdout
    assert sorted(copy.rglob("*")) == before  # the learner's folder is left alone
    assert (copy / "app.py").read_bytes() == (ROOT / "step3_robots/app.py").read_bytes()


def test_a_robot_missing_a_topic_is_refused_in_plain_words(tmp_path: Path) -> None:
    """A fifth robot with no jokes fails at once, naming robot and topic."""
    copy = copy_with_a_fifth_robot(
        tmp_path / "no-jokes",
        '{topic: lines for topic, lines in BOLT.lines.items() if topic != "joke"}',
    )
    result = check("step3_robots", copy)
    assert result.returncode == 1
    assert "robot 'sparky' has no lines for 'joke'" in result.stdout
    assert "behaviours match" not in result.stdout  # said once, before any test


def test_an_app_that_does_not_start_is_reported_once(tmp_path: Path) -> None:
    """A typo that stops create_app() is one line, with the file and line number."""
    copy = copy_with_a_change(
        "step2_loop",
        tmp_path / "typo",
        "app.on_shutdown.append(close_websockets)",
        "app.on_shutdown.append(close_websocket)",
    )
    result = check("step2_loop", copy)
    assert result.returncode == 1
    error = "NameError: name 'close_websocket' is not defined"
    assert result.stdout.count(error) == 1
    assert "app.py, line " in result.stdout


def test_a_route_that_is_not_there_is_named(tmp_path: Path) -> None:
    """A misspelled route: "no WebSocket at `/robots/ada`", not a 404 traceback."""
    copy = copy_with_a_change(
        "step3_robots",
        tmp_path / "typo-route",
        'web.get("/robots/{slug}", robot_chat)',
        'web.get("/robot/{slug}", robot_chat)',
    )
    result = check("step3_robots", copy, "-k", "greets_first and in-process")
    assert failures(result) == [
        "✗ Each robot should greet first, and answer "
        '"What is your name?" with it. [in-process] '
        "| no WebSocket at `/robots/ada`: check `add_routes`"
    ]


def test_a_handler_that_returns_nothing_is_named(tmp_path: Path) -> None:
    """A forgotten `return ws` gets aiohttp's own words from the server's log."""
    copy = copy_with_a_change(
        "step1_hello",
        tmp_path / "no-return",
        "    return ws  # returning ends the chat",
        "    # return ws  # returning ends the chat",
    )
    result = check("step1_hello", copy, "-k", "real_server_answers")
    reasons = [failure.split(" | ")[1] for failure in failures(result)]
    assert reasons == [
        "does your handler return its response? aiohttp says: "
        "Missing return statement on request handler"
    ]
