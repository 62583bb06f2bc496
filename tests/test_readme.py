"""The README's examples run as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def run_block(example: str, tmp_path: Path) -> list[str]:
    """Run one of the README's Python blocks as a script; the lines it printed."""
    script = tmp_path / "example.py"
    script.write_text(example)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_the_first_example_runs_and_prints_what_the_readme_says(tmp_path):
    printed = run_block(python_blocks()[0], tmp_path)
    assert printed == ["success", "{'words': ['HELLO', 'HYMIR', 'WORLD'], 'count': [3]}"]


def test_the_drop_in_dag_file_is_the_one_in_dags():
    dag_file = (README.parent / "dags" / "hymir_words.py").read_text()
    assert python_blocks()[1].strip() in dag_file


def test_the_map_example_runs_and_prints_what_the_readme_says(tmp_path):
    example = python_blocks()[2]
    printed = run_block(example, tmp_path)
    assert printed == [line.split("# ", 1)[1] for line in example.splitlines() if line.startswith("    print(")]


def test_the_unit_example_runs_and_prints_what_the_readme_says(tmp_path):
    example = python_blocks()[3]
    printed = run_block(example, tmp_path)
    assert printed == [line.split("# ", 1)[1] for line in example.splitlines() if line.startswith("    print(")]
