"""The documentation's examples work as written: its Python blocks, the files it shows, and its hymir transcripts.

The convention of the pages in docs/: a ```` ```python ```` block is a runnable example; it runs
with the core only (Airflow cannot be imported), and where each ``print(...)`` is followed by a
``# comment``, the comments are what it must print. A ```` ```python title="path" ```` block is
a file the reader saves under that name: it must compile, a file of the repository must contain
it verbatim, and the page's runnable examples and transcripts run in a folder holding all of the
page's files. In a ```` ```console ```` block, each ``$ hymir ...`` command (without pipes or
redirections) must print what follows it, and ``$ echo $?`` its exit status.
"""

from __future__ import annotations

import ast
import importlib
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

_FENCE = re.compile(r"^```(\w*)([^\n]*)\n(.*?)^```[ \t]*$", re.S | re.M)
_TITLE = re.compile(r'title="([^"]+)"')
_EXPECTED = re.compile(r"^\s*print\(.*\)\s+# (.*)$")
#: Runs the hymir command as installed, named ``hymir`` in its messages.
RUN_HYMIR = "import sys; sys.argv[0] = 'hymir'; from hymir_cli.main import main; main()"


@dataclass(frozen=True)
class Block:
    """One fenced block of a page: its language, the file it shows (if any), its text and where it starts."""

    page: Path
    language: str
    title: str | None
    text: str
    line: int

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def page_blocks(page: Path) -> list[Block]:
    """Every fenced block of a page, in order."""
    text = page.read_text()
    found = []
    for match in _FENCE.finditer(text):
        title = _TITLE.search(match.group(2))
        line = text.count("\n", 0, match.start()) + 1
        found.append(Block(page, match.group(1), title and title.group(1), match.group(3), line))
    return found


def all_blocks(language: str, *, titled: bool) -> list[Block]:
    pages = sorted(DOCS.rglob("*.md"))
    return [
        b for page in pages for b in page_blocks(page) if b.language == language and (b.title is not None) == titled
    ]


def write_page_files(page: Path, folder: Path) -> None:
    """Save every file a page shows under its title in ``folder``, which has a ``dags/`` folder as a clone has."""
    (folder / "dags").mkdir(exist_ok=True)
    for block in page_blocks(page):
        if block.title is not None:
            path = folder / block.title
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(block.text)


def environment() -> dict[str, str]:
    """This checkout first on the path, whatever hymir the interpreter has installed."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


def ids(blocks: list[Block]) -> list[str]:
    return [block.where for block in blocks]


EXAMPLES = all_blocks("python", titled=False)
FILES = all_blocks("python", titled=True)
TRANSCRIPTS = all_blocks("console", titled=False)

#: Runs an example as a script in the current folder, where ``import airflow`` fails.
_CORE_ONLY = "import runpy, sys; sys.modules['airflow'] = None; runpy.run_path('example.py', run_name='__main__')"


def test_the_pages_have_examples_of_each_kind():
    assert len(EXAMPLES) >= 5 and len(FILES) >= 5 and len(TRANSCRIPTS) >= 3


@pytest.mark.parametrize("block", EXAMPLES, ids=ids(EXAMPLES))
def test_examples_run_with_the_core_only_and_print_what_they_say(block, tmp_path):
    write_page_files(block.page, tmp_path)
    (tmp_path / "example.py").write_text(block.text)

    done = subprocess.run(
        [sys.executable, "-c", _CORE_ONLY],
        cwd=tmp_path,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 0, f"{block.where}:\n{done.stderr}"
    prints = [line for line in block.text.splitlines() if line.strip().startswith("print(")]
    expected = [m.group(1) for line in prints if (m := _EXPECTED.match(line))]
    if prints and len(expected) == len(prints):
        assert done.stdout.splitlines() == expected, block.where


@pytest.mark.parametrize("block", FILES, ids=ids(FILES))
def test_files_shown_compile_and_match_the_repository(block):
    compile(block.text, block.title, "exec")
    in_repository = ROOT / block.title
    if in_repository.is_file():
        assert block.text.strip() in in_repository.read_text(), f"{block.where} differs from {block.title}"


def _hymir_imports(text: str) -> list[tuple[str, list[str]]]:
    """``(module, names)`` of every import of Hymir's packages in some source."""
    found = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0].startswith("hymir"):
            found.append((node.module, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names if alias.name.split(".")[0].startswith("hymir"))
    return found


@pytest.mark.airflow
@pytest.mark.parametrize("block", FILES, ids=ids(FILES))
def test_files_shown_import_names_that_exist(block):
    pytest.importorskip("airflow")
    for module_name, names in _hymir_imports(block.text):
        module = importlib.import_module(module_name)
        missing = [name for name in names if not hasattr(module, name)]
        assert not missing, f"{block.where}: {module_name} has no {missing}"


DAG_FILES = [block for block in FILES if block.title.startswith("dags/")]

#: Loads a DAG file as Airflow's parser would and prints the ids of the DAGs it made (also those in a dict).
_LOAD_DAG_FILE = """
import runpy, sys
from airflow.sdk import DAG
values = list(runpy.run_path(sys.argv[1]).values())
values += [value for found in values if isinstance(found, dict) for value in found.values()]
print(sorted({value.dag_id for value in values if isinstance(value, DAG)}))
"""


@pytest.mark.airflow
@pytest.mark.parametrize("block", DAG_FILES, ids=ids(DAG_FILES))
def test_dag_files_shown_build_their_dags(block, tmp_path):
    pytest.importorskip("airflow")
    write_page_files(block.page, tmp_path)
    env = environment()
    env["PYTHONPATH"] += os.pathsep + str(tmp_path)  # the job modules, as the demo's --jobs gives them

    done = subprocess.run(
        [sys.executable, "-c", _LOAD_DAG_FILE, str(tmp_path / block.title)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, f"{block.where}:\n{done.stderr}"
    assert done.stdout.strip() not in ("", "[]"), f"{block.where} made no DAG"


@dataclass(frozen=True)
class Command:
    """A ``$ hymir ...`` line of a transcript, what it prints, and the exit status an ``echo $?`` shows."""

    arguments: list[str]
    output: list[str]
    status: int | None


def transcript_commands(block: Block) -> list[Command]:
    """The hymir commands of a console block that can be run as they stand."""
    steps: list[tuple[str, list[str]]] = []
    for line in block.text.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        elif steps:
            steps[-1][1].append(line)
    commands = []
    for index, (line, output) in enumerate(steps):
        words = shlex.split(line)
        if words[0] != "hymir" or any(word in ("|", ">", "<") for word in words):
            continue
        following = steps[index + 1] if index + 1 < len(steps) else None
        status = int(following[1][0]) if following and following[0] == "echo $?" else None
        commands.append(Command(words[1:], output, status))
    return commands


@pytest.mark.parametrize("block", TRANSCRIPTS, ids=ids(TRANSCRIPTS))
def test_transcripts_show_what_the_hymir_command_prints(block, tmp_path):
    commands = transcript_commands(block)
    if not commands:
        pytest.skip(f"{block.where} runs no hymir command")
    write_page_files(block.page, tmp_path)
    for command in commands:
        done = subprocess.run(
            [sys.executable, "-c", RUN_HYMIR, *command.arguments],
            cwd=tmp_path,
            env=environment(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        shown = " ".join(["hymir", *command.arguments])
        printed = (done.stderr + done.stdout).rstrip("\n").splitlines()
        assert printed == command.output, f"{block.where}: `{shown}` printed:\n" + "\n".join(printed)
        if command.status is not None:
            assert done.returncode == command.status, f"{block.where}: `{shown}` exited {done.returncode}"
