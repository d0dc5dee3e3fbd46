"""The book cannot lie: every block on every page is checked against the real thing.

The book is README.md (the front page) and every page in docs/. markdown-it-py, the
CommonMark parser, finds the fenced blocks, links and headings; what a block shows is
said by its caption, the paragraph just above it (where it names several files or
definitions, the last one counts):

- ```python: a real file. The caption names it in backquotes, `step1_hello/app.py`,
  and says "whole file" (the block is the file), or names a definition, "function
  `hello`", "class `Conversation`", "the definition of `DUSTY`" (the block is exactly
  that definition), or says "excerpt" (the block is a run of the file's whole lines).
- ```javascript: a function of the file the caption names, "function `chatUrl`",
  or an "excerpt" of it.
- ```diff: a hunk of a real diff between two stages, as
  `diff -ruN -x __pycache__ step2_loop step3_robots` (named in the caption, in
  backquotes) prints it: a run of its whole lines, never the whole diff (that is
  what the learner runs, `make diff STEP=...`). diff's file headers carry each
  file's time, which differs on every clone: the book leaves the times out.
- ```console: a terminal session, run for real. "$ " starts a command, the lines
  below are what it prints (stdout and stderr, as a terminal shows them). The
  caption names the server it talks to, `python -m step2_loop [--seed N]` or
  `make run`; the test starts it on a free port. If the caption says "press Ctrl+C
  in the server's terminal", the test does so once the command has printed a line;
  if it says "type `hello!`", the test types that line, and the block shows it as
  a terminal does, among the output.
  Lines that differ on every run (the handshake's Date, Server and random keys) are
  compared by header name only.
  Two terminals at once: a caption that says "leave it running" starts its one
  command and, once that has printed a line, runs the page's next console block
  against the same server (whose caption names it too); then it reads the first
  command's output up to as many lines as its block shows, and presses Ctrl+C in
  that terminal.
- ```sh and ```powershell: instructions to type; the make targets and files they
  name must exist.
- ```mermaid: a diagram GitHub draws.

Beyond the blocks: links between pages resolve (file and #heading), each chapter
links to the page before and after it, and no definition is shown twice.
"""

import ast
import importlib
import os
import queue
import re
import shlex
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token

from harness import FINISHED_STAGE, ROOT, STAGES, Server, start_server

FRONT_PAGE = ROOT / "README.md"
# Sorted by name, docs/ is in reading order: 1-hello, 2-loop, ..., going-further,
# troubleshooting. A new chapter page slots itself in.
PAGES = [FRONT_PAGE, *sorted((ROOT / "docs").glob("*.md"))]
# The maintainer's page is checked like the book, but is not one of its chapters.
CHECKED_PAGES = [*PAGES, ROOT / "CONTRIBUTING.md"]
VENV_BIN = Path(sys.executable).parent
CHECKED_LANGUAGES = {
    "python",
    "javascript",
    "diff",
    "console",
    "sh",
    "powershell",
    "mermaid",
}
# Handshake headers whose values change on every run or with every version.
VARYING_HEADERS = re.compile(
    r"^(Date|Server|Sec-WebSocket-Key|Sec-WebSocket-Accept): .*$", re.MULTILINE
)
MOST_WORDS = {FRONT_PAGE.name: 1300}  # the front page stays short
MOST_WORDS_PER_PAGE = 2000  # everything on the page counts, code included


def name_of(page: Path) -> str:
    return str(page.relative_to(ROOT))


@cache
def tokens_of(page: Path) -> list[Token]:
    return MarkdownIt("commonmark").enable("table").parse(page.read_text())


@dataclass
class Block:
    page: Path
    language: str
    caption: str
    text: str
    line: int  # 1-based, the opening fence
    folded: bool  # inside <details>

    def __str__(self) -> str:
        return f"{name_of(self.page)}:{self.line} ({self.language})"


def blocks_of_page(page: Path) -> list[Block]:
    lines = page.read_text().splitlines()
    blocks = []
    for token in tokens_of(page):
        if token.type != "fence" or token.map is None:
            continue
        start = token.map[0]
        paragraph = "\n".join(lines[:start]).rstrip().rpartition("\n\n")[2]
        before = "\n".join(lines[:start])
        folded = before.count("<details>") > before.count("</details>")
        caption = " ".join(paragraph.split())
        language = token.info.split()[0] if token.info else ""
        blocks.append(Block(page, language, caption, token.content, start + 1, folded))
    return blocks


def blocks(language: str) -> list[Block]:
    return [
        b
        for page in CHECKED_PAGES
        for b in blocks_of_page(page)
        if b.language == language
    ]


def quoted(caption: str) -> list[str]:
    return re.findall(r"`([^`]+)`", caption)


def file_in_caption(block: Block, suffix: str) -> Path:
    names = [q for q in quoted(block.caption) if q.endswith(suffix)]
    assert names, f"{block}: name the {suffix} file in the caption, in backquotes"
    return ROOT / names[-1]


def name_in_caption(block: Block, kinds: str) -> str | None:
    """The last definition the caption names, e.g. "function `hello`"."""
    names = re.findall(rf"(?:{kinds}) `(\w+)`", block.caption)
    return names[-1] if names else None


def test_pages_have_only_checked_kinds_of_blocks() -> None:
    """Every block is one of the kinds the tests below check."""
    unchecked = [
        str(block)
        for page in CHECKED_PAGES
        for block in blocks_of_page(page)
        if block.language not in CHECKED_LANGUAGES
    ]
    assert unchecked == []


# --- code: python and javascript ---------------------------------------------------


def defined_name(node: ast.stmt) -> str | None:
    if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
        return node.targets[0].id
    return getattr(node, "name", None)


def definitions(path: Path) -> dict[str, str]:
    """The exact text of each top-level function, class and constant of a file."""
    source = path.read_text()
    lines = source.splitlines(keepends=True)
    found = {}
    for node in ast.parse(source).body:
        name = defined_name(node)
        if name:
            decorators = getattr(node, "decorator_list", [])
            first = min([node.lineno, *(d.lineno for d in decorators)])
            found[name] = "".join(lines[first - 1 : node.end_lineno])
    return found


def is_excerpt_of(text: str, path: Path) -> bool:
    """True when `text` is a run of whole, consecutive lines of the file."""
    return f"\n{text}" in f"\n{path.read_text()}"


@pytest.mark.parametrize("block", blocks("python"), ids=str)
def test_python_block_is_the_real_code(block: Block) -> None:
    path = file_in_caption(block, ".py")
    name = name_in_caption(block, "function|class|definition of")
    if "excerpt" in block.caption:  # "an excerpt of `x.py`, from function `f`"
        assert is_excerpt_of(block.text, path), f"{block}: not lines of {path.name}"
        if name:
            assert block.text in definitions(path)[name], f"{block}: not from {name}"
    elif name:
        assert block.text == definitions(path).get(name), f"{block}: not {name}"
    else:
        assert "whole file" in block.caption, f"{block}: name a definition, or say so"
        assert block.text == path.read_text()


@pytest.mark.parametrize("block", blocks("javascript"), ids=str)
def test_javascript_block_is_the_real_code(block: Block) -> None:
    path = file_in_caption(block, ".js")
    assert is_excerpt_of(block.text, path), f"{block}: not lines of {path.name}"
    name = name_in_caption(block, "function")
    if name and "excerpt" not in block.caption:  # the whole function
        assert block.text.startswith(f"function {name}(")
        assert block.text.endswith("\n}\n")
    else:
        assert "excerpt" in block.caption, f"{block}: name the function, or say so"


def shown_definitions(block: Block) -> list[str]:
    """The definitions a code block shows (its first line is in the block), whole."""
    if block.language == "javascript":
        return re.findall(r"^function \w+\(.*$", block.text, flags=re.MULTILINE)
    return [
        text
        for text in definitions(file_in_caption(block, ".py")).values()
        if text.splitlines()[0] + "\n" in block.text
    ]


def test_no_definition_is_shown_twice() -> None:
    """Each idea is shown once, where it is taught; a folded diff doesn't count.

    Two stages may share a definition word for word: that is one idea too.
    """
    first_shown_in: dict[str, Block] = {}
    twice = []
    for block in blocks("python") + blocks("javascript"):
        for definition in shown_definitions(block):
            if definition in first_shown_in:
                where = first_shown_in[definition]
                twice.append(f"{block}: {definition.splitlines()[0]} (see {where})")
            first_shown_in.setdefault(definition, block)
    assert twice == []


# --- diffs -------------------------------------------------------------------------

DIFF_COMMAND = re.compile(r"^diff -ruN -x __pycache__ (step\w+) (step\w+)$")
# A hunk may be shown whole; a diff longer than this is never shown whole.
MOST_LINES_OF_A_WHOLE_DIFF = 40


def real_diff(command: str) -> str:
    """What `command` prints, file times left out of the headers."""
    result = subprocess.run(
        shlex.split(command), cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 1, result.stderr  # 1: the stages differ
    return re.sub(r"^((?:---|\+\+\+) \S+)\t.*$", r"\1", result.stdout, flags=re.M)


@pytest.mark.parametrize("block", blocks("diff"), ids=str)
def test_diff_block_is_a_hunk_of_the_real_diff(block: Block) -> None:
    """A diff block is whole lines of the real diff, and not all of a long one."""
    commands = [q for q in quoted(block.caption) if DIFF_COMMAND.match(q)]
    assert commands, f"{block}: name `diff -ruN -x __pycache__ A B` in the caption"
    whole = real_diff(commands[-1])
    assert f"\n{block.text}" in f"\n{whole}", f"{block}: not lines of the real diff"
    if len(whole.splitlines()) > MOST_LINES_OF_A_WHOLE_DIFF:
        assert block.text != whole, f"{block}: the whole diff is for the learner to run"


def test_make_diff_prints_the_stage_against_the_one_before(tmp_path: Path) -> None:
    """`make diff STEP=...` prints what the book's plain diff command prints."""
    result = subprocess.run(
        ["make", "--no-print-directory", "diff", f"STEP={STAGES[1]}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    command = f"diff -ruN -x __pycache__ {STAGES[0]} {STAGES[1]}"
    headers = re.compile(r"^((?:---|\+\+\+) \S+)\t.*$", flags=re.M)
    assert headers.sub(r"\1", result.stdout) == real_diff(command)


CHAPTERS = sorted((ROOT / "docs").glob("[0-9]-*.md"))
NUMBERS = ["one", "two", "three", "four", "five", "six"]


@pytest.mark.parametrize("page", CHAPTERS, ids=name_of)
def test_each_chapter_lists_its_ideas_first_and_ends_with_tests_and_a_try(
    page: Path,
) -> None:
    """ "This chapter adds N ideas:", then N of them (six at most), as a list."""
    text = page.read_text()
    said = re.search(
        r"This chapter adds (\w+) ideas?:\n\n((?:\d+\. .*\n(?: .*\n)*)+)", text
    )
    assert said, f"{name_of(page)}: say which ideas the chapter adds, near the top"
    ideas = re.findall(r"^\d+\. ", said[2], flags=re.MULTILINE)
    assert said[1] in NUMBERS and NUMBERS.index(said[1]) + 1 == len(ideas)
    headings = re.findall(r"^## (.*)$", text, flags=re.MULTILINE)
    assert headings[-2:] == ["How the tests check it", "Try it yourself"]


def test_each_chapter_names_the_command_for_its_whole_diff() -> None:
    """Chapter N (N from 2) tells the learner how to print its stage's whole diff."""
    for number, stage in enumerate(STAGES[1:], start=2):
        [page] = (ROOT / "docs").glob(f"{number}-*.md")
        text = page.read_text()
        assert f"make diff STEP={stage}" in text, page.name
        previous = STAGES[number - 2]
        assert f"diff -ruN -x __pycache__ {previous} {stage}" in text, page.name


# --- console sessions --------------------------------------------------------------


def server_in_caption(caption: str) -> list[str]:
    """The stage a console block talks to, and its options, from the caption."""
    if "`make run`" in caption:
        return [FINISHED_STAGE]
    servers = re.findall(r"`python -m (step\w+(?: --seed \d+)?)`", caption)
    assert servers, f"name the server in the caption: {caption!r}"
    return servers[-1].split()


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


def as_the_book_shows_it(text: str) -> str:
    """No trailing spaces (editors strip them), and varying headers by name only."""
    text = "".join(line.rstrip() + "\n" for line in text.splitlines())
    return VARYING_HEADERS.sub(r"\1: ...", text)


def run(command: str, server: Server, typed: list[str], ctrl_c: bool) -> str:
    """Run one command of a session against `server`; return all it printed.

    The command's input stays open, as a terminal's does, until it ends by itself:
    only `|` or `<` in the command give it an end.
    """
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"}
    process = subprocess.Popen(
        ["bash", "-c", command.replace("localhost:8080", f"127.0.0.1:{server.port}")],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,  # open, as a terminal's is: `|` and `<` replace it
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdin and process.stdout
    try:
        for line in typed:
            process.stdin.write(line + "\n")
            process.stdin.flush()
        first_line = ""
        if ctrl_c:
            first_line = process.stdout.readline()
            server.process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
        rest = process.stdout.read()
        if ctrl_c:  # let it finish: a second Ctrl+C while Python exits kills it
            server.process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdin.close()
        process.stdout.close()
    return (first_line + rest).replace(f"127.0.0.1:{server.port}", "localhost:8080")


def console_groups() -> list[list[Block]]:
    """Each console block alone, or a "leave it running" block with the next one."""
    groups: list[list[Block]] = []
    for page in PAGES:
        waiting = [b for b in blocks_of_page(page) if b.language == "console"]
        while waiting:
            size = 2 if "leave it running" in waiting[0].caption else 1
            groups.append(waiting[:size])
            waiting = waiting[size:]
    return groups


def expected_output(block: Block, shown: str, typed: list[str]) -> str:
    expected = shown.splitlines(keepends=True)
    for line in typed:  # the terminal shows what you type: it is no output
        expected.remove(line + "\n")
    return as_the_book_shows_it("".join(expected))


def run_block(block: Block, server: Server) -> None:
    """Run each command of the block against `server`, and compare what it prints."""
    ctrl_c = "press Ctrl+C in the server's terminal" in block.caption
    typed = re.findall(r"\b[Tt]ype `([^`]+)`", block.caption)
    for command, shown in sessions(block):
        printed = run(command, server, typed, ctrl_c)
        assert as_the_book_shows_it(printed) == expected_output(block, shown, typed)


def run_beside(first: Block, second: Block, server: Server) -> None:
    """`first` runs in one terminal while `second` runs in another, then Ctrl+C."""
    assert server_in_caption(second.caption) == server_in_caption(first.caption)
    [(command, shown)] = sessions(first)
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"}
    process = subprocess.Popen(
        ["bash", "-c", command.replace("localhost:8080", f"127.0.0.1:{server.port}")],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,  # open, as a terminal's is
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # Ctrl+C goes to the terminal's whole process group
    )
    assert process.stdin and process.stdout
    output = process.stdout
    lines: queue.Queue[str] = queue.Queue()

    def read_lines() -> None:  # in a thread, so that waiting can have a time limit
        for line in output:
            lines.put(line)

    reader = threading.Thread(target=read_lines)
    reader.start()
    try:
        printed = [lines.get(timeout=30)]  # the first terminal is ready
        run_block(second, server)
        while len(printed) < len(shown.splitlines()):
            printed.append(lines.get(timeout=10))
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        reader.join()
        process.stdin.close()
        output.close()
    assert process.returncode in (0, -signal.SIGINT), process.returncode
    text = "".join(printed).replace(f"127.0.0.1:{server.port}", "localhost:8080")
    assert as_the_book_shows_it(text) == expected_output(first, shown, [])


@pytest.mark.parametrize("group", console_groups(), ids=lambda group: str(group[0]))
def test_console_session_is_what_really_happens(
    group: list[Block], tmp_path: Path
) -> None:
    stage, *options = server_in_caption(group[0].caption)
    server = start_server(stage, tmp_path / "server.log", *options)
    try:
        if len(group) == 1:
            run_block(group[0], server)
        else:
            first, second = group
            run_beside(first, second, server)
    finally:
        assert server.stop() == 0
    assert "Traceback" not in server.log()


# --- instructions, diagrams, pictures, names ---------------------------------------


def test_instructions_name_real_make_targets_and_files() -> None:
    """Instructions are not run, but what they name must exist."""
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([\w-]+):", makefile, flags=re.MULTILINE))
    for block in blocks("sh") + blocks("powershell"):
        for words in re.findall(r"\bmake ([^#\n]*)", block.text):
            for target in (word for word in words.split() if "=" not in word):
                assert target in targets, f"{block}: no make target {target!r}"
        for program in re.findall(r"^\.venv/bin/([\w-]+)", block.text, re.MULTILINE):
            assert (VENV_BIN / program).exists(), f"{block}: no program {program}"
        text = block.text.replace("$PWD/", "")  # $PWD is the repository's folder
        for path in re.findall(r"[\w./-]+\.(?:py|txt|conf)\b", text):
            if not path.startswith("/"):  # a file of the repository's, not one made
                assert (ROOT / path).exists(), f"{block}: no file {path}"


@pytest.mark.parametrize("block", blocks("mermaid"), ids=str)
def test_mermaid_block_is_a_sequence_diagram(block: Block) -> None:
    """GitHub draws these; each is a sequence diagram between named participants."""
    assert block.text.startswith("sequenceDiagram\n")
    assert re.search(r"^\s+participant \w+", block.text, flags=re.MULTILINE)


def test_the_connection_caps_chapter_7_quotes_are_serves() -> None:
    """A limit of 1,024 caps at 768, 65,536 at 65,216, 256 at 192: as serve() counts."""
    crowds = importlib.import_module("step7_crowds.crowds")
    page = " ".join((ROOT / "docs" / "7-crowds.md").read_text().split())
    for files in (1024, 65536, 256):
        most = files - min(crowds.FILE_HEADROOM, files // 4)  # as serve() does
        assert re.search(rf"{files:,} .*? at {most:,}\b", page), (files, most)


def test_every_test_the_book_names_exists() -> None:
    named = {
        name
        for page in CHECKED_PAGES
        for name in re.findall(r"`(test_\w+)`", page.read_text())
    }
    sources = "".join(p.read_text() for p in (ROOT / "tests").glob("test_*.py"))
    defined = set(re.findall(r"def (test_\w+)", sources))
    assert named, "the book should point at the tests that check each stage"
    assert named - defined == set()


def test_client_needs_only_what_make_run_installs() -> None:
    """client.py runs in the lean .venv of `make run`: the standard library, aiohttp."""
    tree = ast.parse((ROOT / "client.py").read_text())
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        node.module.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
    }
    assert imported - sys.stdlib_module_names == {"aiohttp"}


# --- the pages and their links -----------------------------------------------------


def links_of(page: Path) -> list[str]:
    """Every link and picture address on a page."""
    return [
        str(child.attrs.get("href") or child.attrs.get("src"))
        for token in tokens_of(page)
        if token.type == "inline"
        for child in token.children or []
        if child.type in ("link_open", "image")
    ]


def anchors_of(page: Path) -> set[str]:
    """The #anchors GitHub gives a page's headings."""
    tokens = tokens_of(page)
    titles = [
        tokens[n + 1].content
        for n, token in enumerate(tokens)
        if token.type == "heading_open"
    ]
    return {
        re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-") for title in titles
    }


@pytest.mark.parametrize("page", CHECKED_PAGES, ids=name_of)
def test_links_between_pages_resolve(page: Path) -> None:
    """Every link to a file of the repository, and to a heading, leads somewhere."""
    for link in links_of(page):
        if re.match(r"\w+:", link):  # http:, https:, mailto:
            continue
        path, _, anchor = link.partition("#")
        target = (page.parent / path).resolve() if path else page
        assert target.exists(), f"{name_of(page)}: {link} leads nowhere"
        if anchor:
            assert target.suffix == ".md", f"{name_of(page)}: {link}"
            assert anchor in anchors_of(target), f"{name_of(page)}: no #{anchor}"
        if target.suffix == ".png":
            assert target.read_bytes().startswith(b"\x89PNG"), link


def linked_pages(page: Path) -> set[Path]:
    return {
        (page.parent / link.partition("#")[0]).resolve()
        for link in links_of(page)
        if not re.match(r"\w+:", link) and link.partition("#")[0].endswith(".md")
    }


@pytest.mark.parametrize("index", range(1, len(PAGES)), ids=lambda n: name_of(PAGES[n]))
def test_each_page_links_to_the_page_before_and_after(index: int) -> None:
    links = linked_pages(PAGES[index])
    assert PAGES[index - 1] in links, f"no link back to {name_of(PAGES[index - 1])}"
    if index + 1 < len(PAGES):
        assert PAGES[index + 1] in links, f"no link on to {name_of(PAGES[index + 1])}"


def test_the_front_page_maps_every_page() -> None:
    """A new page in docs/ needs its row in the front page's map of chapters."""
    assert set(PAGES[1:]) <= linked_pages(FRONT_PAGE)


@pytest.mark.parametrize("page", CHECKED_PAGES, ids=name_of)
def test_no_page_is_too_long_to_read_in_one_sitting(page: Path) -> None:
    """Every word on the page counts, code and folded blocks included."""
    words = len(page.read_text().split())
    assert words <= MOST_WORDS.get(page.name, MOST_WORDS_PER_PAGE), words
