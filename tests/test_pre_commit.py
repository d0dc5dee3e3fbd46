"""The pre-commit hooks (.pre-commit-config.yaml) work on any clone after `make test`.

Every hook is local: it runs a tool from .venv, or pre-commit's own grep, so nothing
is downloaded when a contributor types `.venv/bin/pre-commit install`.
"""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness import ROOT, STAGES

CONFIG = ROOT / ".pre-commit-config.yaml"


def hooks() -> dict[str, dict[str, Any]]:
    config = yaml.safe_load(CONFIG.read_text())
    return {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}


def pre_commit(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    """Run pre-commit from this venv, with its cache in `home`, not in ~/.cache."""
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", *args],
        cwd=ROOT,
        env={**os.environ, "PRE_COMMIT_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def grep_hook_flags(hook_id: str, content: bytes, tmp_path: Path) -> bool:
    """Whether a pygrep hook flags a file holding `content`, as pre-commit runs it."""
    hook = hooks()[hook_id]
    path = tmp_path / "sample.txt"
    path.write_bytes(content)
    grep = [sys.executable, "-m", "pre_commit.languages.pygrep", *hook.get("args", [])]
    result = subprocess.run(
        [*grep, hook["entry"], str(path)],
        capture_output=True,
        timeout=60,
        check=False,
    )
    return result.returncode == 1


def test_the_config_is_valid(tmp_path: Path) -> None:
    result = pre_commit("validate-config", str(CONFIG), home=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_hook_is_local_so_nothing_is_downloaded() -> None:
    config = yaml.safe_load(CONFIG.read_text())
    assert [repo["repo"] for repo in config["repos"]] == ["local"]
    assert {hook["language"] for hook in hooks().values()} <= {"unsupported", "pygrep"}


def test_every_program_a_hook_runs_is_there() -> None:
    commands = [
        shlex.split(hook["entry"])
        for hook in hooks().values()
        if hook["language"] == "unsupported"
    ]
    assert commands
    for program, *args in commands:
        assert os.access(ROOT / program, os.X_OK), f"{program}: run `make install-dev`"
        for path in [arg for arg in args if arg.endswith(".py")]:
            assert (ROOT / path).is_file(), f"the hook runs {path}, which is gone"


@pytest.mark.parametrize("hook_id", ["trailing-whitespace", "end-of-file"])
def test_every_file_passes_the_whitespace_hooks(hook_id: str, tmp_path: Path) -> None:
    result = pre_commit("run", hook_id, "--all-files", "--color=never", home=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("content", "flagged"),
    [(b"x = 1 \n", True), (b"x = 1\t\n", True), (b"x = 1\n", False)],
)
def test_trailing_whitespace_is_caught(
    content: bytes, flagged: bool, tmp_path: Path
) -> None:
    assert grep_hook_flags("trailing-whitespace", content, tmp_path) == flagged


@pytest.mark.parametrize(
    ("content", "flagged"),
    [(b"x = 1", True), (b"x = 1\n\n", True), (b"x = 1\n", False), (b"", False)],
)
def test_a_missing_or_extra_final_newline_is_caught(
    content: bytes, flagged: bool, tmp_path: Path
) -> None:
    assert grep_hook_flags("end-of-file", content, tmp_path) == flagged


def test_the_page_tests_run_when_a_page_or_a_stage_changes() -> None:
    pages = ["README.md", *(str(p.relative_to(ROOT)) for p in ROOT.glob("docs/*.md"))]
    changes = pages + [f"{stage}/app.py" for stage in STAGES]
    files = re.compile(hooks()["page-tests"]["files"])
    assert [path for path in changes if not files.search(path)] == []
