"""`make check` judges a learner's folder with the stage's own tests."""

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness import ROOT

PYCACHE = shutil.ignore_patterns("__pycache__")


def check(step: str, folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tests.check", step, str(folder)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


# step3_robots is checked below, as a copy with a fifth robot.
@pytest.mark.parametrize("step", ["step1_hello", "step2_loop", "step4_party"])
def test_a_copy_of_each_stage_passes(step: str, tmp_path: Path) -> None:
    copy = shutil.copytree(
        ROOT / step, tmp_path / "my copy-of this stage", ignore=PYCACHE
    )
    before = sorted(copy.rglob("*"))
    result = check(step, copy)
    assert result.returncode == 0, result.stdout
    assert "✗" not in result.stdout
    assert "behaviours match" in result.stdout
    assert sorted(copy.rglob("*")) == before  # the learner's folder is left alone


def test_stage_1_checked_as_stage_2_fails_and_says_why(tmp_path: Path) -> None:
    copy = shutil.copytree(ROOT / "step1_hello", tmp_path / "step1", ignore=PYCACHE)
    result = check("step2_loop", copy)
    assert result.returncode == 1
    assert "✗ The server should keep the connection open after the first reply." in (
        result.stdout
    )


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


def test_a_fifth_robot_needs_no_handler_changes(tmp_path: Path) -> None:
    """The book's promise: add a Robot to ROBOTS, touch nothing else, and it works."""
    copy = shutil.copytree(ROOT / "step3_robots", tmp_path / "five", ignore=PYCACHE)
    with (copy / "robots.py").open("a") as robots:
        robots.write(
            "\n\nSPARKY = replace(\n"
            '    BOLT, slug="sparky", name="Sparky",\n'
            '    lines={**BOLT.lines, "name": ("Sparky!", "I am Sparky, hello.")},\n'
            ")\nROBOTS = [*ROBOTS, SPARKY]\n"
        )
    (copy / "robots.py").write_text(
        "from dataclasses import replace\n" + (copy / "robots.py").read_text()
    )
    before = sorted(copy.rglob("*"))
    result = check("step3_robots", copy)
    assert result.returncode == 0, result.stdout
    assert "✗" not in result.stdout
    assert sorted(copy.rglob("*")) == before  # the learner's folder is left alone
    assert (copy / "app.py").read_bytes() == (ROOT / "step3_robots/app.py").read_bytes()
