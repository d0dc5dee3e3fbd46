"""The stages as a learner reads them: one lesson each, and honest copies.

A learner diffs consecutive stages (`make diff STEP=...`). For that diff to be one
chapter's lesson, a stage changes only the files harness.STAGE_CHANGES names for it,
keeps every other file as a byte-identical copy of the stage before, and stays small.
"""

import ast
import itertools
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from harness import ROOT, STAGE_CHANGES, STAGES, stage_files
from scripts.carry import carry

PAIRS = list(itertools.pairwise(STAGES))
# "About 200 lines of Python" a chapter: changed lines that are not blank, with the
# robots' lines (pure data) and the static files left out.
MOST_CHANGED_LINES = 200
FIRST_HANDLER_WITHIN = 40  # lines of app.py: the handler is on the first screen
INTERNET_STAGE = "step5_internet"  # the first stage with the defences
TEACHING_LINE = (
    f"A teaching stage: to put robots on the internet, start from {INTERNET_STAGE}."
)


def pair_id(pair: tuple[str, str]) -> str:
    return f"{pair[0]}->{pair[1]}"


def test_every_stage_is_listed_with_the_files_it_changes() -> None:
    assert list(STAGE_CHANGES) == STAGES


@pytest.mark.parametrize("pair", PAIRS, ids=pair_id)
def test_a_file_a_stage_does_not_change_is_a_copy_of_the_one_before(pair) -> None:
    """Same bytes, or the stage names the file as one it changes."""
    before, after = pair
    drifted = [
        f"{after}/{file} differs from {before}/{file}: make carry FILE={before}/{file}"
        for file in sorted(stage_files(before) & stage_files(after))
        if file not in STAGE_CHANGES[after]
        and (ROOT / before / file).read_bytes() != (ROOT / after / file).read_bytes()
    ]
    assert drifted == []


@pytest.mark.parametrize("pair", PAIRS, ids=pair_id)
def test_each_file_a_stage_says_it_changes_is_new_or_changed(pair) -> None:
    """harness.STAGE_CHANGES stays true: no file listed that is a copy after all."""
    before, after = pair
    files_before = stage_files(before)
    unchanged = [
        file
        for file in sorted(STAGE_CHANGES[after])
        if file in files_before
        and (ROOT / before / file).read_bytes() == (ROOT / after / file).read_bytes()
    ]
    assert unchanged == []
    assert STAGE_CHANGES[after] <= stage_files(after), "a listed file is missing"


@pytest.mark.parametrize("pair", PAIRS, ids=pair_id)
def test_each_new_file_is_one_the_stage_says_it_adds(pair) -> None:
    before, after = pair
    assert stage_files(after) - stage_files(before) <= STAGE_CHANGES[after]


@pytest.mark.parametrize("pair", PAIRS, ids=pair_id)
def test_each_diff_is_small_enough_to_read_in_one_sitting(pair) -> None:
    """At most about 200 changed lines of Python between two stages."""
    before, after = pair
    command = ["diff", "-ruN", "-x", "__pycache__", "-x", "static", "-x", "robots.py"]
    diff = subprocess.run(
        [*command, before, after], cwd=ROOT, capture_output=True, text=True
    ).stdout
    changed = re.findall(r"^[-+](?![-+]{2} ).*\S", diff, flags=re.MULTILINE)
    assert len(changed) <= MOST_CHANGED_LINES


@pytest.mark.parametrize("folder", STAGES)
def test_the_first_handler_is_on_the_first_screen(folder: str) -> None:
    """In every app.py, the first handler starts within the first 40 lines."""
    tree = ast.parse((ROOT / folder / "app.py").read_text())
    handlers = [node for node in tree.body if isinstance(node, ast.AsyncFunctionDef)]
    assert handlers[0].lineno <= FIRST_HANDLER_WITHIN, handlers[0].name


@pytest.mark.parametrize("folder", STAGES)
def test_teaching_stages_say_where_the_internet_ready_code_starts(folder: str) -> None:
    """Stages before step5_internet say so at the top of app.py; later ones don't."""
    docstring = ast.get_docstring(ast.parse((ROOT / folder / "app.py").read_text()))
    assert docstring is not None
    is_teaching_stage = STAGES.index(folder) < STAGES.index(INTERNET_STAGE)
    assert (TEACHING_LINE in " ".join(docstring.split())) == is_teaching_stage


@pytest.mark.parametrize("folder", STAGES[STAGES.index(INTERNET_STAGE) :])
def test_every_stage_from_the_internet_one_on_keeps_the_defences(folder: str) -> None:
    """The defences are one module, kept whole by every later stage."""
    defences = (ROOT / INTERNET_STAGE / "defences.py").read_bytes()
    assert (ROOT / folder / "defences.py").read_bytes() == defences
    assert "from .defences import" in (ROOT / folder / "app.py").read_text()


def test_make_carry_takes_a_change_forward_to_every_copy(tmp_path: Path) -> None:
    """A change to stage 3's robots reaches every later stage; app.py stays put."""
    for folder in STAGES:
        shutil.copytree(ROOT / folder, tmp_path / folder)
    robots = tmp_path / "step3_robots" / "robots.py"
    robots.write_text(robots.read_text() + "# a fifth robot, soon\n")
    copied = carry("step3_robots/robots.py", root=tmp_path)
    later = STAGES[STAGES.index("step3_robots") + 1 :]
    assert copied == [Path(folder, "robots.py") for folder in later]
    for folder in later:
        assert (tmp_path / folder / "robots.py").read_text() == robots.read_text()
    assert carry("step3_robots/app.py", root=tmp_path) == []  # stage 4 changes it
