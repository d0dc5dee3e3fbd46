"""The GitHub workflow (.github/workflows/tests.yml): valid, and runs what .ci/run runs.

It cannot run here, so these tests read it: actionlint checks it the way GitHub will,
and the others compare it with .ci/run, so that the two cannot drift apart.
"""

import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness import ROOT, find_program
from tests.conftest import missing_program

WORKFLOW = ROOT / ".github/workflows/tests.yml"
CI_RUN = ROOT / ".ci/run"
INSTALL_PACKAGES = ".ci/install-debian-packages"
VENV_BIN = Path(sys.executable).parent


def jobs() -> dict[str, dict[str, Any]]:
    jobs: dict[str, dict[str, Any]] = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    return jobs


def commands(script: str) -> list[list[str]]:
    """Each line of a shell script, split into words as the shell would."""
    return [words for line in script.splitlines() if (words := shlex.split(line, True))]


def workflow_commands(job: dict[str, Any]) -> list[list[str]]:
    return [words for step in job["steps"] for words in commands(step.get("run", ""))]


def make_targets(lines: list[list[str]]) -> set[str]:
    return {
        word
        for words in lines
        if words[0] == "make"
        for word in words[1:]
        if "=" not in word and not word.startswith("-")
    }


def nox_sessions(noxsession: str | None = None) -> list[dict[str, Any]]:
    """The sessions `nox --list --json` lists, with NOXSESSION set as given."""
    env = {key: value for key, value in os.environ.items() if key != "NOXSESSION"}
    if noxsession is not None:
        env["NOXSESSION"] = noxsession
    result = subprocess.run(
        [sys.executable, "-m", "nox", "--list", "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    sessions: list[dict[str, Any]] = yaml.safe_load(result.stdout)
    return sessions


def actionlint(*options: str) -> subprocess.CompletedProcess[str]:
    program = find_program("actionlint") or str(VENV_BIN / "actionlint")
    if not os.access(program, os.X_OK):
        missing_program(
            "actionlint not found: `make install-dev` installs it on x86-64 Linux, "
            "macOS and Windows"
        )
    return subprocess.run(
        [program, "-pyflakes=", *options, str(WORKFLOW)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def shellcheck() -> str:
    program = find_program("shellcheck")
    if program is None:
        missing_program("shellcheck not found: `apt install shellcheck`")
    return program


def test_the_workflow_passes_actionlint() -> None:
    result = actionlint("-shellcheck=")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_shell_in_the_workflow_passes_shellcheck() -> None:
    result = actionlint(f"-shellcheck={shellcheck()}")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_ci_scripts_pass_shellcheck() -> None:
    result = subprocess.run(
        [shellcheck(), str(CI_RUN), str(ROOT / INSTALL_PACKAGES)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout


def test_the_workflow_runs_the_make_targets_ci_run_runs() -> None:
    in_workflow = make_targets(
        [words for job in jobs().values() for words in workflow_commands(job)]
    )
    assert in_workflow == make_targets(commands(CI_RUN.read_text()))


def test_every_job_that_runs_make_installs_the_same_debian_packages() -> None:
    assert [INSTALL_PACKAGES] in commands(CI_RUN.read_text())
    for name, job in jobs().items():
        lines = workflow_commands(job)
        if make_targets(lines):
            assert [INSTALL_PACKAGES] in lines, f"job {name} skips {INSTALL_PACKAGES}"


def test_the_workflow_tests_on_the_debian_that_ci_run_uses() -> None:
    os_release = Path("/etc/os-release")
    lines = os_release.read_text().splitlines() if os_release.exists() else []
    fields = dict(line.split("=", 1) for line in lines if "=" in line)
    if fields.get("ID") != "debian":
        pytest.skip("not Debian: .ci/run installs no Debian packages here")
    images = {job["container"] for job in jobs().values() if "container" in job}
    assert images == {f"debian:{fields['VERSION_CODENAME']}"}


def test_the_workflow_runs_each_nox_session_in_a_job_of_its_own() -> None:
    [(list_job, listing)] = [
        (name, job)
        for name, job in jobs().items()
        if any("nox --list --json" in step.get("run", "") for step in job["steps"])
    ]
    [matrix] = [job for job in jobs().values() if "strategy" in job]
    sessions = f"${{{{ fromJSON(needs.{list_job}.outputs.sessions) }}}}"
    assert "sessions" in listing["outputs"]
    assert matrix["strategy"]["matrix"] == {"include": sessions}
    assert matrix["env"]["NOXSESSION"] == "${{ matrix.session }}"
    assert ["make", "matrix"] in workflow_commands(matrix)


def test_nox_runs_only_the_session_that_noxsession_names() -> None:
    for session in nox_sessions():
        selected = nox_sessions(noxsession=session["session"])
        assert [s["session"] for s in selected] == [session["session"]]


def test_every_nox_session_names_the_python_that_its_job_installs() -> None:
    sessions = nox_sessions()
    assert sessions
    for session in sessions:
        assert isinstance(session["python"], str), session
        assert session["python"].startswith("3."), session
