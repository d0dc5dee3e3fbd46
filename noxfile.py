"""The test matrix, defined once: `make matrix`, .ci/run and the GitHub workflow run it.

`make test` runs the whole suite once, on the Python that `make` uses: python3, which
is 3.11 on Debian 12, where CI runs. What has paths that differ from one Python to
the next (the stages and aiohttp's known limits) runs here on every other supported
Python, each in a fresh environment built from the pinned files, as a new clone
would; `make check`'s tests run on the oldest, 3.10, where learners may run it too.
A Python this machine lacks is skipped here and fails in CI (nox's rule when CI is set).
"""

import glob

import nox

nox.options.default_venv_backend = "venv"

OLDEST_PYTHON = "3.10"  # the stages run on 3.10; the tests and tools need 3.11
OTHER_PYTHONS = [OLDEST_PYTHON, "3.12", "3.13"]  # 3.11: `make test` in CI


@nox.session(python=OTHER_PYTHONS)
def stages(session: nox.Session) -> None:
    """What `make check` installs; each stage's tests and the known limits."""
    session.install("-r", "requirements-check.txt")
    session.install("-c", "constraints.txt", "pytest-xdist")
    tests = [*sorted(glob.glob("tests/test_step*.py")), "tests/test_known_limits.py"]
    if session.python == OLDEST_PYTHON:
        tests.append("tests/test_check.py")  # `make check` itself, on the oldest
    workers = ["-n", "4", "--dist", "loadgroup"]
    session.run("python", "-m", "pytest", *workers, *tests, *session.posargs)
