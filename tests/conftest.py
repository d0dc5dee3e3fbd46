"""Fixtures every stage's tests share. Written to be read.

A test module names its stage once, `pytestmark = pytest.mark.stage("step2_loop")`,
and then asks for what it needs:

- `client`: the stage's app, in this process, behind pytest-aiohttp's test client;
- `server`: the stage started for real, `python -m step2_loop`, on a free port;
- `redis`: a redis-server of the test module's own, for stage 4's party across
  processes (`--redis`);

`make check` sets ROBOT_DATES_SRC to a learner's own folder, and the very same tests
then judge that folder instead of ours.
"""

import importlib
import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import NoReturn

import pytest
from aiohttp.test_utils import TestClient

from harness import (
    LEARNER_SRC_VARIABLE,
    RedisServer,
    Server,
    find_program,
    start_redis,
    start_server,
)
from tests import learner

LEARNER_SRC = os.environ.get(LEARNER_SRC_VARIABLE)


def stage_name(request: pytest.FixtureRequest) -> str:
    marker = request.node.get_closest_marker("stage")
    assert marker is not None, "mark the test module with pytest.mark.stage(...)"
    return marker.args[0]


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
def app_module(request: pytest.FixtureRequest) -> ModuleType:
    return load_app_module(stage_name(request))


@pytest.fixture
async def client(aiohttp_client, app_module: ModuleType) -> TestClient:
    """The stage's app served in this process: fast, and easy to poke at."""
    return await aiohttp_client(app_module.create_app())


@pytest.fixture
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    """The stage as a real process; afterwards, its log must hold no traceback."""
    running = start_server(stage_name(request), tmp_path / "server.log")
    try:
        yield running
    finally:
        if running.process.poll() is None:
            running.stop()
    assert "Traceback" not in running.log(), running.log()


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A redis-server on a free loopback port, shared by the module's tests."""
    program = find_program("redis-server")
    if program is None:
        missing_program("redis-server not found: `apt install redis-server`")
    running = start_redis(program, tmp_path_factory.mktemp("redis"))
    yield running
    running.stop()
