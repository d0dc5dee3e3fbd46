"""The test matrix, defined once: `make matrix`, .ci/run and the GitHub workflow run it.

Each session builds a fresh environment from the pinned files, as a new clone would.
A Python this machine lacks is skipped here and fails in CI (nox's rule when CI is set).
"""

import glob

import nox

nox.options.default_venv_backend = "venv"

# The oldest Python for the tests and tools is 3.11; the stages alone run on 3.10.
TESTED_PYTHONS = ["3.11", "3.12", "3.13"]
STAGES_ONLY_PYTHON = "3.10"


@nox.session(python=TESTED_PYTHONS)
def tests(session: nox.Session) -> None:
    """The whole suite, exactly as `make test` runs it."""
    session.install("-r", "requirements-dev.txt")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session(python=STAGES_ONLY_PYTHON)
def stages(session: nox.Session) -> None:
    """What `make check` installs, each stage's own tests, and `make check` itself,
    on the oldest Python."""
    session.install("-r", "requirements-check.txt")
    stage_tests = sorted(glob.glob("tests/test_step*.py"))
    tests = [*stage_tests, "tests/test_check.py"]
    session.run("python", "-m", "pytest", *tests, *session.posargs)
