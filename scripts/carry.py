"""Carry a change to a stage's file forward: `make carry FILE=step3_robots/robots.py`.

Later stages keep byte-identical copies of every file they do not change
(harness.STAGE_CHANGES says which they do). After you edit one, this copies it into
each later stage up to the first that changes that file itself, and says where.
"""

import shutil
import sys
from pathlib import Path

from harness import ROOT, STAGES, stages_that_copy


def carry(path: str, root: Path = ROOT) -> list[Path]:
    """Copy `path` (stage/file) into every later stage that keeps a copy of it."""
    stage, _, file = Path(path).as_posix().partition("/")
    if stage not in STAGES or not (root / stage / file).is_file():
        raise SystemExit(f"{path}: name a stage's file, e.g. step3_robots/app.py")
    copied = []
    for later in stages_that_copy(stage, file):
        target = root / later / file
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / stage / file, target)
        copied.append(target.relative_to(root))
    return copied


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m scripts.carry STAGE/FILE")
    copied = carry(sys.argv[1])
    for target in copied:
        print(f"copied to {target}")
    if not copied:
        print("no later stage keeps a copy of it: nothing to carry")


if __name__ == "__main__":
    main()
