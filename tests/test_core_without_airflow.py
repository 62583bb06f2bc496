"""The core (hymir/) works where Airflow cannot be imported, and never imports it."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
CORE = REPOSITORY / "hymir"

#: Runs in a fresh interpreter in which every import of airflow fails, as on a machine without it.
WITHOUT_AIRFLOW = textwrap.dedent(
    """\
    import json
    import sys


    class NoAirflow:
        \"\"\"A meta path finder that refuses airflow and every submodule of it.\"\"\"

        def find_spec(self, name, path=None, target=None):
            if name == "airflow" or name.startswith("airflow."):
                raise ImportError(f"airflow is blocked in this test: {name}")
            return None


    sys.meta_path.insert(0, NoAirflow())
    try:
        import airflow  # noqa: F401
    except ImportError:
        blocked = True
    else:
        blocked = False

    import hymir
    import hymir.workflow
    import hymir.executors.local
    import hymir.examples.words
    from hymir.examples.words import words_workflow
    from hymir.executors.local import LocalExecutor

    executor = LocalExecutor()
    workflow_id = executor.run(words_workflow())
    status = executor.wait(workflow_id, timeout=30).status.value
    print(json.dumps({
        "blocked": blocked,
        "status": status,
        "outputs": executor.outputs(workflow_id),
        "airflow_modules": sorted(m for m in sys.modules if m == "airflow" or m.startswith("airflow.")),
        "hymir_airflow_loaded": "hymir_airflow" in sys.modules,
    }))
    """
)


def test_the_readme_example_runs_on_the_local_executor_without_airflow(tmp_path):
    script = tmp_path / "without_airflow.py"
    script.write_text(WITHOUT_AIRFLOW)

    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, cwd=str(REPOSITORY)
    )

    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["blocked"] is True
    assert report["status"] == "success"
    assert report["outputs"] == {"words": ["HELLO", "HYMIR", "WORLD"], "count": [3]}
    assert report["airflow_modules"] == []
    assert report["hymir_airflow_loaded"] is False


def airflow_imports(source: str, name: str) -> list[str]:
    """Every place in Python source that imports airflow: import statements and imports by name."""
    found = []
    for node in ast.walk(ast.parse(source, filename=name)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            function = node.func
            called = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
            if called in ("import_module", "__import__", "find_spec") and isinstance(node.args[0].value, str):
                names = [node.args[0].value]
        found += [f"{name}:{node.lineno}: {module}" for module in names if module.split(".")[0] == "airflow"]
    return found


def test_no_file_of_the_core_imports_airflow():
    files = sorted(CORE.rglob("*.py"))
    assert len(files) > 5, f"expected the core's modules under {CORE}"

    found = [place for path in files for place in airflow_imports(path.read_text(), str(path.relative_to(REPOSITORY)))]

    assert found == []


def test_the_static_check_finds_an_airflow_import_when_there_is_one():
    # The check above passes because there is nothing to find, not because it cannot find anything.
    source = "import os\nfrom airflow.sdk import DAG\nimport importlib\nimportlib.import_module('airflow.models')\n"

    assert airflow_imports(source, "probe.py") == ["probe.py:2: airflow.sdk", "probe.py:4: airflow.models"]
