"""The test matrix, defined once: `make matrix`, .ci/run and the GitHub workflow run it.

`make test` runs the whole suite once, on the Python that `make` uses. What has paths
that differ from one Python to the next (the stages, aiohttp's known limits, and
`make check`, which learners run on any of them) runs here on every supported Python,
each in a fresh environment built from the pinned files, as a new clone would.
A Python this machine lacks is skipped here and fails in CI (nox's rule when CI is set).
"""

import glob

import nox

nox.options.default_venv_backend = "venv"

# The stages run on 3.10 and newer; the tests and tools need 3.11 (see the Makefile).
SUPPORTED_PYTHONS = ["3.10", "3.11", "3.12", "3.13"]


@nox.session(python=SUPPORTED_PYTHONS)
def stages(session: nox.Session) -> None:
    """What `make check` installs; each stage's tests, the known limits, make check."""
    session.install("-r", "requirements-check.txt")
    session.install("-c", "constraints.txt", "pytest-xdist")
    tests = [
        *sorted(glob.glob("tests/test_step*.py")),
        "tests/test_known_limits.py",
        "tests/test_check.py",
    ]
    workers = ["-n", "4", "--dist", "loadgroup"]
    session.run("python", "-m", "pytest", *workers, *tests, *session.posargs)
