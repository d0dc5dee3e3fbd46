"""Check your own copy of a stage against ours: `make check STEP=... SRC=...`.

It runs the stage's tests (tests/test_<STEP>.py) against your folder instead of ours,
then lists each behaviour, taken from the test's docstring, with ✓ or ✗. Your folder
can have any name and live anywhere; nothing in it is changed. It needs an `app.py`
with `create_app()`, and a `__main__.py` that takes --host and --port.
"""

import os
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# A test gives up after this long, so a copy that waits forever fails in seconds.
TEST_SECONDS = 20
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


class BehaviourReport:
    """A pytest plugin that remembers, per test, its docstring and its outcome."""

    def __init__(self) -> None:
        self.behaviours: dict[str, str] = {}
        self.failures: dict[str, str] = {}
        self.server_logs: dict[str, Path] = {}

    def pytest_collection_modifyitems(self, items: list[pytest.Function]) -> None:
        for item in items:
            doc = (item.obj.__doc__ or item.name).strip().splitlines()[0]
            variant = f" [{item.callspec.id}]" if hasattr(item, "callspec") else ""
            self.behaviours[item.nodeid] = doc + variant

    def pytest_runtest_call(self, item: pytest.Item) -> None:
        server = getattr(item, "funcargs", {}).get("server")
        if server is not None:  # the test started your server: its log may help
            self.server_logs[item.nodeid] = server.log_path

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if not report.failed:
            return
        reason = self.reason(report)
        # The first failure of a test tells most, unless a later one finds the cause.
        if report.nodeid not in self.failures or reason.startswith(FORGOTTEN_AWAIT):
            self.failures[report.nodeid] = reason

    def reason(self, report: pytest.TestReport) -> str:
        """Why a behaviour failed: the likely mistake first, else the test's words."""
        log_path = self.server_logs.get(report.nodeid)
        log = log_path.read_text() if log_path and log_path.is_file() else ""
        # A forgotten await is only a warning, in this process or in the server's log.
        output = "".join(text for _, text in report.sections)
        forgotten = NEVER_AWAITED.search(report.longreprtext + output + log)
        if forgotten:
            return f"{FORGOTTEN_AWAIT} Python says: {forgotten[0]}"
        if report.when == "teardown" and "Traceback" in log:
            last = EXCEPTION_LINE.search(log.rsplit("Traceback", 1)[-1])
            return "your server printed a traceback" + (f": {last[0]}" if last else "")
        crash = getattr(report.longrepr, "reprcrash", None)
        return in_plain_words(crash.message if crash else str(report.longrepr))


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
    os.environ["ROBOT_DATES_SRC"] = str(folder)
    os.environ["PYTHONDONTWRITEBYTECODE"] = (
        "1"  # no __pycache__ in the learner's folder
    )
    sys.dont_write_bytecode = True
    report = BehaviourReport()
    os.chdir(ROOT)
    quiet = ["-q", "--tb=no", "-rN", "--no-header", "-p", "no:cacheprovider"]
    quiet += ["-o", f"timeout={TEST_SECONDS}"]
    options = [*quiet, "-p", "no:hypothesispytest", *pytest_options]
    pytest.main([str(tests), *options], plugins=[report])

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
