"""Check your own copy of a stage against ours: `make check STEP=... SRC=...`.

It runs the stage's tests (tests/test_<STEP>.py) against your folder instead of ours,
then lists each behaviour, taken from the test's docstring, with ✓ or ✗. Your folder
can have any name and live anywhere; nothing in it is changed. It needs an `app.py`
with `create_app()`, and a `__main__.py` that takes --host and --port.
"""

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


class BehaviourReport:
    """A pytest plugin that remembers, per test, its docstring and its outcome."""

    def __init__(self) -> None:
        self.behaviours: dict[str, str] = {}
        self.failures: dict[str, str] = {}

    def pytest_collection_modifyitems(self, items: list[pytest.Function]) -> None:
        for item in items:
            doc = (item.obj.__doc__ or item.name).strip().splitlines()[0]
            variant = f" [{item.callspec.id}]" if hasattr(item, "callspec") else ""
            self.behaviours[item.nodeid] = doc + variant

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed and report.nodeid not in self.failures:
            crash = getattr(report.longrepr, "reprcrash", None)
            reason = crash.message if crash else str(report.longrepr)
            self.failures[report.nodeid] = reason.splitlines()[0][:160]


def main(step: str, src: str) -> int:
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
    pytest.main([str(tests), *quiet, "-p", "no:hypothesispytest"], plugins=[report])

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
    if len(sys.argv) != 3:
        sys.exit("usage: python -m tests.check STEP SRC")
    sys.exit(main(sys.argv[1], sys.argv[2]))
