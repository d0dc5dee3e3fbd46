"""The README cannot lie: every block in it is checked against the real thing.

How a block says what it shows: by the caption line just above it.

- A ```python block is a real file, byte for byte. Its caption names the file in
  backquotes, `step1_hello/app.py`, and either says "whole file" (the block is the
  file) or names a function, class or constant, "function `hello`" or "the
  definition of `DUSTY`" (the block is exactly that definition).
- A ```javascript block is one whole function of the file its caption names:
  "`step3_robots/static/chat.js`, function `chatUrl`".
- A ```diff block is real `git diff` output. Its caption holds the command, in
  backquotes: `git diff --no-index step1_hello step2_loop`.
- A ```console block is a terminal session: lines starting with "$ " are commands,
  the lines below them what the command prints. Its caption names the server that
  the session talks to, `python -m step2_loop` (or `make run`, the finished app). The
  test starts that server on a free port and runs each command for real.
"""

import ast
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness import FINISHED_STAGE, ROOT, start_server

README = ROOT / "README.md"
VENV_BIN = Path(sys.executable).parent
# sh and powershell blocks are instructions to type, with no output to check.
CHECKED_LANGUAGES = {"python", "javascript", "diff", "console", "sh", "powershell"}


@dataclass
class Block:
    language: str
    caption: str
    text: str
    line: int

    def __str__(self) -> str:
        return f"README.md:{self.line} ({self.language})"


def readme_blocks() -> list[Block]:
    """Every fenced block of the README, with the last non-blank line above it."""
    blocks = []
    lines = README.read_text().splitlines()
    caption, index = "", 0
    while index < len(lines):
        line = lines[index]
        fence = re.match(r"^```(\w*)", line)
        if fence:
            end = lines.index("```", index + 1)
            body = "\n".join(lines[index + 1 : end]) + "\n"
            blocks.append(Block(fence.group(1), caption, body, index + 1))
            index = end
        elif line.strip():
            caption = line
        index += 1
    return blocks


def blocks_of(language: str) -> list[Block]:
    return [block for block in readme_blocks() if block.language == language]


def test_readme_has_only_checked_kinds_of_blocks() -> None:
    """Every block is one the tests below check, or a plain `sh` instruction."""
    unchecked = [str(b) for b in readme_blocks() if b.language not in CHECKED_LANGUAGES]
    assert unchecked == []


def quoted(caption: str) -> list[str]:
    return re.findall(r"`([^`]+)`", caption)


def defined_name(node: ast.stmt) -> str | None:
    if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
        return node.targets[0].id
    return getattr(node, "name", None)


def definition_source(path: Path, name: str) -> str:
    """The exact text of a top-level function, class or constant."""
    source = path.read_text()
    for node in ast.parse(source).body:
        if defined_name(node) == name:
            lines = source.splitlines(keepends=True)
            decorators = getattr(node, "decorator_list", [])
            first = min([node.lineno, *(d.lineno for d in decorators)])
            return "".join(lines[first - 1 : node.end_lineno])
    raise AssertionError(f"{path} has no top-level {name}")


@pytest.mark.parametrize("block", blocks_of("python"), ids=str)
def test_python_block_is_the_real_code(block: Block) -> None:
    path = ROOT / next(q for q in quoted(block.caption) if q.endswith(".py"))
    name = re.search(r"(?:function|class|definition of) `(\w+)`", block.caption)
    if name:
        assert block.text == definition_source(path, name.group(1))
    else:
        assert "whole file" in block.caption, f"{block}: name a function, or say so"
        assert block.text == path.read_text()


@pytest.mark.parametrize("block", blocks_of("javascript"), ids=str)
def test_javascript_block_is_the_real_code(block: Block) -> None:
    path = ROOT / next(q for q in quoted(block.caption) if q.endswith(".js"))
    name = re.search(r"function `(\w+)`", block.caption)
    assert name, f"{block}: name the function"
    assert block.text.startswith(f"function {name.group(1)}(")
    assert block.text.endswith("\n}\n")
    assert block.text in path.read_text()


@pytest.mark.parametrize("block", blocks_of("diff"), ids=str)
def test_diff_block_is_the_real_diff(block: Block) -> None:
    command = next(q for q in quoted(block.caption) if q.startswith("git diff"))
    result = subprocess.run(
        shlex.split(command), cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 1, result.stderr  # 1: the stages differ
    assert block.text == result.stdout


def server_in_caption(caption: str) -> list[str]:
    """The stage a console block talks to, and its options, from the caption."""
    if "`make run`" in caption:
        return [FINISHED_STAGE]
    match = re.search(r"`python -m (step\w+(?: --seed \d+)?)`", caption)
    assert match, f"name the server in the caption: {caption!r}"
    return match.group(1).split()


def sessions(block: Block) -> list[tuple[str, str]]:
    """Split a console block into (command, what it prints) pairs."""
    pairs: list[tuple[str, str]] = []
    for line in block.text.splitlines():
        if line.startswith("$ "):
            pairs.append((line[2:], ""))
        else:
            assert pairs, f"{block}: output before any command"
            command, output = pairs[-1]
            pairs[-1] = (command, output + line + "\n")
    return pairs


def trailing_spaces_removed(text: str) -> str:
    # wsdump prints "close: " with a space; editors strip it from the README.
    return "".join(line.rstrip() + "\n" for line in text.splitlines())


@pytest.mark.parametrize("block", blocks_of("console"), ids=str)
def test_console_session_is_what_really_happens(block: Block, tmp_path: Path) -> None:
    stage, *options = server_in_caption(block.caption)
    server = start_server(stage, tmp_path / "server.log", *options)
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"}
    try:
        for command, expected in sessions(block):
            real_command = command.replace("localhost:8080", f"127.0.0.1:{server.port}")
            result = subprocess.run(
                ["bash", "-c", real_command],
                env=env,
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
            assert result.returncode == 0, result.stderr
            assert trailing_spaces_removed(result.stdout) == expected
    finally:
        assert server.stop() == 0
    assert "Traceback" not in server.log()


def test_every_test_the_readme_names_exists() -> None:
    named = set(re.findall(r"`(test_\w+)`", README.read_text()))
    sources = "".join(p.read_text() for p in (ROOT / "tests").glob("test_*.py"))
    defined = set(re.findall(r"def (test_\w+)", sources))
    assert named, "the README should point at the tests that check each stage"
    assert named - defined == set()


def test_every_picture_the_readme_shows_exists() -> None:
    pictures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", README.read_text())
    for picture in pictures:
        assert (ROOT / picture).read_bytes().startswith(b"\x89PNG"), picture


def test_instructions_name_real_make_targets_and_files() -> None:
    """Instructions are not run, but what they name must exist."""
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([\w-]+):", makefile, flags=re.MULTILINE))
    for block in blocks_of("sh") + blocks_of("powershell"):
        for target in re.findall(r"^make (\w+)", block.text, flags=re.MULTILINE):
            assert target in targets, f"{block}: no make target {target!r}"
        text = block.text.replace("$PWD/", "")  # $PWD is the repository's folder
        for path in re.findall(r"[\w./-]+\.(?:py|txt|conf)\b", text):
            assert (ROOT / path).exists(), f"{block}: no file {path}"
