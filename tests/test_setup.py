"""The Makefile's set-up: a Python too old gets one clear line, never a pip trace."""

import glob
import shutil
import subprocess
from pathlib import Path

import pytest

from harness import ROOT
from tests.conftest import missing_program


def python_older_than(minor: int) -> str:
    """A real interpreter older than 3.<minor>, from PATH or pyenv's versions."""
    candidates = [f"python3.{n}" for n in range(minor - 1, 5, -1)]
    found = [shutil.which(name) for name in candidates]
    found += sorted(
        glob.glob(str(Path.home() / ".pyenv/versions/3.[6-9].*/bin/python3"))
    )
    for path in filter(None, found):
        version = subprocess.run(
            [path, "--version"], capture_output=True, text=True, check=False
        )
        if version.returncode == 0:  # a pyenv shim for a version not selected fails
            return path
    missing_program(f"no Python older than 3.{minor} on this machine")


def make(target: str, python: str, venv: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "--no-print-directory", target, f"PY={python}", f"VENV={venv}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("target", ["run", "test"])
def test_a_python_too_old_gets_one_clear_line(target: str, tmp_path: Path) -> None:
    old = python_older_than(10)
    result = make(target, old, tmp_path / "venv")
    assert result.returncode == 2
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert "is Python 3." in line and "needs Python 3.1" in line
    assert "python.org" in line and "PY=" in line
    assert not (tmp_path / "venv").exists()  # nothing half-made left behind


def test_the_tests_need_python_3_11(tmp_path: Path) -> None:
    result = make("test", python_older_than(11), tmp_path / "venv")
    assert result.returncode == 2
    assert "needs Python 3.11 or newer" in result.stderr
    assert not (tmp_path / "venv").exists()


def test_a_missing_python_is_named(tmp_path: Path) -> None:
    result = make("run", "python3.99", tmp_path / "venv")
    assert result.returncode == 2
    assert "python3.99 was not found" in result.stderr
