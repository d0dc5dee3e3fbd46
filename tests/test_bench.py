"""The benchmark's load generator still works: a tiny run against stage 2 and 3.

These are smoke tests: they check what the generator reports, never how fast
anything was. Speed is for `make bench` to print, not for tests to assert.
"""

import json
import subprocess
import sys

import pytest

from harness import ROOT, find_program
from tests.conftest import missing_program


def run_load(url: str, *options: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "bench.load", url, "--json", *options],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout.splitlines()[-1])


@pytest.mark.stage("step2_loop")
def test_chat_load_reports_round_trips_and_no_errors(server) -> None:
    report = run_load(server.url, "--chats", "5", "--seconds", "1")
    assert report["errors"] == 0
    assert report["messages_per_second"] > 0
    assert 0 < report["p50_ms"] <= report["p99_ms"] <= report["max_ms"]


@pytest.mark.stage("step3_robots")
def test_idle_load_opens_every_chat(server) -> None:
    report = run_load(
        f"{server.url}/robots/ada", "--greeting", "--idle", "50", "--hold", "0"
    )
    assert report == {"opened": 50, "errors": 0}


def test_fanout_follows_every_line_to_every_guest() -> None:
    """A tiny fan-out run: every line reaches every guest, on one process and two."""
    if find_program("redis-server") is None:
        missing_program("redis-server not found: `apt install redis-server`")
    tiny = ["--guests", "20", "--seconds", "1", "--warm-up", "0", "--json"]
    result = subprocess.run(
        [sys.executable, "-m", "bench.fanout", *tiny],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    report = json.loads(result.stdout.splitlines()[-1])
    for run in ("one_process", "two_processes"):
        assert report[run]["missing"] == 0
        assert report[run]["deliveries_per_second"] > 0
        assert 0 < report[run]["p50_ms"] <= report[run]["p99_ms"]
