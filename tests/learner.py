"""Load a learner's own stage folder instead of ours, for `make check`.

The folder may have any name and live anywhere. It is imported as the package
`learner_stage`, so its `from .app import create_app` works, and nothing in it is
changed. Run as `python -m tests.learner FOLDER --host H --port P`, it starts the
folder's `__main__.py` the way `python -m step2_loop` starts ours.
"""

import importlib.machinery
import importlib.util
import runpy
import sys
from pathlib import Path

PACKAGE = "learner_stage"


def import_package(folder: Path) -> None:
    """Register `folder` as the package `learner_stage`."""
    if PACKAGE in sys.modules:
        return
    spec = importlib.machinery.ModuleSpec(PACKAGE, None, is_package=True)
    spec.submodule_search_locations = [str(folder.resolve())]
    sys.modules[PACKAGE] = importlib.util.module_from_spec(spec)


if __name__ == "__main__":
    import_package(Path(sys.argv.pop(1)))
    runpy.run_module(f"{PACKAGE}.__main__", run_name="__main__", alter_sys=True)
