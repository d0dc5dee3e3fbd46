"""Fixtures every stage's tests share. Written to be read.

A test module names its stage once, `pytestmark = pytest.mark.stage("step2_loop")`,
and then asks for what it needs:

- `stage`: the name of the stage folder the test checks;
- `client`: the stage's app, in this process, behind pytest-aiohttp's test client;
- `server`: the stage started for real, `python -m step2_loop`, on a free port, for
  this test alone (it may stop or break it);
- `site`: the stage twice over, in this process and as one real server that the
  module's tests share; either way, `site.get(path)` and `site.ws_connect(path)`;
- `redis`: a redis-server of the test module's own, for the party across
  processes (`--redis`).

The finished stage keeps every behaviour of the stages before it. A module marked
`pytest.mark.stage("step4_page", kept=True)` runs against that stage and against
the finished one; a test whose behaviour a later stage changes on purpose says so
with `pytest.mark.this_stage_only`.

`make check` sets ROBOT_DATES_SRC to a learner's own folder, and the very same tests
then judge that folder instead of ours.
"""

import importlib
import os
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import ModuleType
from typing import NoReturn

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestClient

from harness import (
    FINISHED_STAGE,
    LEARNER_SRC_VARIABLE,
    RedisServer,
    Server,
    find_program,
    start_redis,
    start_server,
)
from tests import learner

LEARNER_SRC = os.environ.get(LEARNER_SRC_VARIABLE)
# `make test`, the whole suite, on a 2-core machine: CONTRIBUTING.md says why.
SUITE_BUDGET_SECONDS = 90
started = time.monotonic()
ungrouped: set[str] = set()  # tests that xdist failed to keep on their group's worker


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    """After the whole suite, its time against its budget, where everyone sees it."""
    whole_suite = config.args_source is pytest.Config.ArgsSource.TESTPATHS
    if whole_suite and "PYTEST_XDIST_WORKER" not in os.environ:
        seconds = time.monotonic() - started
        verdict = "within" if seconds <= SUITE_BUDGET_SECONDS else "OVER"
        terminalreporter.write_line(
            f"The whole suite took {seconds:.0f} s: {verdict} its budget of "
            f"{SUITE_BUDGET_SECONDS} s on 2 cores."
        )


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Under `--dist loadgroup`, tests that share a browser, nginx or Redis must be on
    one worker; some pytest and xdist versions together drop the grouping silently.
    Those groups are the longest runs of tests: they start first, not last."""
    if getattr(config.option, "loadgroup", False):  # set on xdist's workers only
        for item in items:
            if item.get_closest_marker("xdist_group") and "@" not in item.nodeid:
                ungrouped.add(item.nodeid)
        items.sort(key=lambda item: not item.get_closest_marker("xdist_group"))


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.nodeid in ungrouped:
        pytest.fail(
            "pytest-xdist lost this test's xdist_group (--dist loadgroup): keep "
            "the pytest and pytest-xdist pins of constraints.txt together"
        )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Give each test that needs a stage its stage, and the finished one if kept."""
    if "stage" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("stage")
    assert marker is not None, "mark the test module with pytest.mark.stage(...)"
    stages = [marker.args[0]]
    also_finished = (
        marker.kwargs.get("kept", False)
        and LEARNER_SRC is None  # `make check` judges the learner's copy alone
        and FINISHED_STAGE not in stages
        and metafunc.definition.get_closest_marker("this_stage_only") is None
    )
    if also_finished:
        stages.append(FINISHED_STAGE)
    metafunc.parametrize("stage", stages, indirect=True, scope="module")


@pytest.fixture(scope="module")
def stage(request: pytest.FixtureRequest) -> str:
    """The stage folder this test checks, e.g. "step3_robots"."""
    name: str = request.param
    return name


def load_app_module(name: str) -> ModuleType:
    """The stage's app.py: ours, or the learner's under `make check`."""
    if LEARNER_SRC is None:
        return importlib.import_module(f"{name}.app")
    learner.import_package(Path(LEARNER_SRC))
    return importlib.import_module(f"{learner.PACKAGE}.app")


def missing_program(message: str) -> NoReturn:
    """A system program a test needs is missing: skip here, but fail in CI."""
    if os.environ.get("CI"):
        pytest.fail(f"CI must run this test. {message}")
    pytest.skip(message)


@pytest.fixture
def app_module(stage: str) -> ModuleType:
    return load_app_module(stage)


@pytest.fixture
async def client(aiohttp_client, app_module: ModuleType) -> TestClient:
    """The stage's app served in this process: fast, and easy to poke at."""
    return await aiohttp_client(app_module.create_app())


def note_server_log(request: pytest.FixtureRequest, server: Server) -> None:
    """Tell `make check` where the test's server logs: its report may quote it."""
    request.node.user_properties.append(("server_log", str(server.log_path)))


@pytest.fixture
def server(
    request: pytest.FixtureRequest, stage: str, tmp_path: Path
) -> Iterator[Server]:
    """The stage as a real process; afterwards, its log must hold no traceback."""
    running = start_server(stage, tmp_path / "server.log")
    note_server_log(request, running)
    try:
        yield running
    finally:
        if running.process.poll() is None:
            running.stop()
    assert "Traceback" not in running.log(), running.log()


@pytest.fixture(scope="module")
def shared_server(
    stage: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """One real server for the module's tests; it must never log a traceback."""
    running = start_server(stage, tmp_path_factory.mktemp(stage) / "server.log")
    try:
        yield running
    finally:
        running.stop()
    assert "Traceback" not in running.log(), running.log()


@pytest.fixture(params=["in-process", "real-server"])
async def site(
    request: pytest.FixtureRequest, aiohttp_client, app_module: ModuleType
) -> AsyncIterator[ClientSession | TestClient]:
    """A client for the stage: in this process, or for the module's real server.

    Against the real server, what the server logs during the test is checked too.
    """
    if request.param == "in-process":
        yield await aiohttp_client(app_module.create_app())
        return
    server: Server = request.getfixturevalue("shared_server")
    note_server_log(request, server)
    log_before = len(server.log())
    async with ClientSession(base_url=server.http_url) as session:
        yield session
    logged = server.log()[log_before:]
    assert "Traceback" not in logged, logged


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A redis-server on a free loopback port, shared by the module's tests."""
    program = find_program("redis-server")
    if program is None:
        missing_program("redis-server not found: `apt install redis-server`")
    running = start_redis(program, tmp_path_factory.mktemp("redis"))
    yield running
    running.stop()
