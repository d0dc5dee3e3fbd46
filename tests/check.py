"""Check your own copy of a stage against ours: `make check STEP=... SRC=...`.

It runs the stage's tests (tests/test_<STEP>.py) against your folder instead of ours,
then lists each behaviour, taken from the test's docstring, with ✓ or ✗. Your folder
can have any name and live anywhere; nothing in it is changed. It needs an `app.py`
with `create_app()`, and a `__main__.py` that takes --host and --port.
"""

import importlib
import os
import re
import sys
import traceback
from pathlib import Path

import pytest

from tests import learner

ROOT = Path(__file__).resolve().parent.parent
# A test gives up after this long, so a copy that waits forever fails in seconds.
TEST_SECONDS = 10
# aiohttp's own words, in the server's log, for a handler that returns nothing.
MISSING_RETURN = "Missing return statement on request handler"
NEVER_AWAITED = re.compile(r"coroutine '[\w.]+' was never awaited")
FORGOTTEN_AWAIT = "did you forget an await?"
# An exception's last line in a traceback, e.g. "KeyError: 'websockets'".
EXCEPTION_LINE = re.compile(r"^[\w.]+(Error|Exception|Interrupt)\b.*$", re.MULTILINE)
# What a test's error says, and the same in plain words.
PLAIN_WORDS = [
    (
        r"Received message 8:(\d+) is not WSMsgType.TEXT",
        r"expected a text message, but the server closed the chat (code \1)",
    ),
    (
        r"Received message 257:None is not WSMsgType.TEXT",
        "expected a text message, but the chat was already closed",
    ),
    (
        r"Received message 2:.* is not WSMsgType.TEXT",
        "expected a text message, but the server sent a binary one",
    ),
    (
        r"WSServerHandshakeError: 404.*url='[^']*?//[^/']+(/[^']*)'",
        r"no WebSocket at `\1`: check `add_routes`",
    ),
    (
        r"Handshake status 404",
        "no WebSocket at that address (404): check `add_routes`",
    ),
    (r"^TimeoutError", "waited 5 s, and the server sent nothing"),
    (r"WebSocketTimeoutException", "waited 5-10 s, and the server sent nothing"),
    (
        r"Timeout \(>[\d.]+s\) from pytest-timeout",
        f"gave up after {TEST_SECONDS} s: the server seems to wait forever here",
    ),
]


def in_plain_words(reason: str) -> str:
    """The first line of a failure, in words a beginner can act on."""
    first_line = (reason.strip() or "failed").splitlines()[0]
    for pattern, words in PLAIN_WORDS:
        match = re.search(pattern, first_line)
        if match:
            return match.expand(words)
    return first_line.removeprefix("AssertionError: ").removeprefix("Failed: ")[:160]


def variant_of(item: pytest.Function) -> str:
    """Which run of a parametrized test this is, e.g. " [real-server]"; no stage."""
    if not hasattr(item, "callspec"):
        return ""
    stage = re.escape(str(item.callspec.params.get("stage", "")))
    variant = re.sub(rf"(^|-){stage}(?=-|$)", "", item.callspec.id).strip("-")
    return f" [{variant}]" if variant else ""


class BehaviourReport:
    """A pytest plugin that remembers, per test, its docstring and its outcome."""

    def __init__(self) -> None:
        self.behaviours: dict[str, str] = {}
        self.failures: dict[str, str] = {}

    def pytest_collection_modifyitems(self, items: list[pytest.Function]) -> None:
        for item in items:
            doc = (item.obj.__doc__ or item.name).strip().splitlines()[0]
            self.behaviours[item.nodeid] = doc + variant_of(item)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if not report.failed:
            return
        reason = self.reason(report)
        # The first failure of a test tells most, unless a later one finds the cause.
        if report.nodeid not in self.failures or reason.startswith(FORGOTTEN_AWAIT):
            self.failures[report.nodeid] = reason

    def reason(self, report: pytest.TestReport) -> str:
        """Why a behaviour failed: the likely mistake first, else the test's words."""
        log_path = Path(str(dict(report.user_properties).get("server_log", "/nowhere")))
        log = log_path.read_text() if log_path.is_file() else ""
        # A forgotten await is only a warning, in this process or in the server's log.
        output = "".join(text for _, text in report.sections)
        forgotten = NEVER_AWAITED.search(report.longreprtext + output + log)
        if forgotten:
            return f"{FORGOTTEN_AWAIT} Python says: {forgotten[0]}"
        if MISSING_RETURN in report.longreprtext + output + log:
            return (
                f"does your handler return its response? aiohttp says: {MISSING_RETURN}"
            )
        if report.when == "teardown" and "Traceback" in log:
            last = EXCEPTION_LINE.search(log.rsplit("Traceback", 1)[-1])
            return "your server printed a traceback" + (f": {last[0]}" if last else "")
        crash = getattr(report.longrepr, "reprcrash", None)
        return in_plain_words(crash.message if crash else str(report.longrepr))


def why_it_does_not_start(folder: Path) -> str:
    """Import the copy and build its app once: one clear error, not one per test."""
    sys.dont_write_bytecode = True  # no __pycache__ in the learner's folder
    learner.import_package(folder)
    try:
        app_module = importlib.import_module(f"{learner.PACKAGE}.app")
        app_module.create_app()
    except Exception as error:  # whatever it is, the learner needs to see it
        frames = traceback.extract_tb(error.__traceback__)
        theirs = [frame for frame in frames if frame.filename.startswith(str(folder))]
        where = (
            f"{Path(theirs[-1].filename).name}, line {theirs[-1].lineno}: "
            if theirs
            else ""
        )
        message = traceback.format_exception_only(error)[-1].strip()
        return f"      {where}{message}"
    return ""


def main(step: str, src: str, *pytest_options: str) -> int:
    folder = Path(src).expanduser().resolve()
    missing = [
        name for name in ("app.py", "__main__.py") if not (folder / name).is_file()
    ]
    if missing:
        print(
            f"{folder} needs {' and '.join(missing)}: is it a copy of a stage folder?"
        )
        return 2
    tests = ROOT / "tests" / f"test_{step}.py"
    if not tests.is_file():
        print(f"There is no stage called {step!r}. Try step1_hello, step2_loop, ...")
        return 2

    print(f"Checking {folder} as {step}...")
    broken = why_it_does_not_start(folder)
    if broken:
        print(
            f"\n  ✗ Your app does not start, so no behaviour can be checked.\n{broken}"
        )
        return 1
    os.environ["ROBOT_DATES_SRC"] = str(folder)
    os.environ["PYTHONDONTWRITEBYTECODE"] = "1"  # for the servers it starts too
    report = BehaviourReport()
    os.chdir(ROOT)
    quiet = ["-q", "--tb=no", "-rN", "--no-header", "-p", "no:cacheprovider"]
    quiet += ["-o", f"timeout={TEST_SECONDS}"]
    # A test that gives up may leave a socket open: that is no reason to crash.
    unclosed = (
        "ignore:Exception ignored in.*socket:pytest.PytestUnraisableExceptionWarning"
    )
    ignore = ["-W", unclosed]
    options = [*quiet, *ignore, "-p", "no:hypothesispytest", *pytest_options]
    try:
        pytest.main([str(tests), *options], plugins=[report])
    except Exception:
        # At its very end pytest may complain of a socket that a test which gave
        # up left open: the report below already says what went wrong.
        pass

    print()
    for nodeid, behaviour in report.behaviours.items():
        if nodeid in report.failures:
            print(f"  ✗ {behaviour}")
            print(f"      {report.failures[nodeid]}")
        else:
            print(f"  ✓ {behaviour}")
    passed = len(report.behaviours) - len(report.failures)
    print(f"\n{passed} of {len(report.behaviours)} behaviours match {step}.")
    if report.failures:
        print("Each ✗ says what ours does and yours does not yet. Fix one, run again.")
        return 1
    print("Your stage behaves like ours. On to the next chapter!")
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: python -m tests.check STEP SRC [PYTEST OPTIONS, e.g. -k NAME]")
    sys.exit(main(*sys.argv[1:]))
