"""The layout the architecture promises: modules that say what they are for, no import cycle, Airflow in one place.

Read statically (``ast``), imports inside functions included, so a lazy import cannot hide a
cycle or a private Airflow import.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("hymir", "hymir_airflow", "hymir_cli")
#: The one module that knows Airflow versions and may use anything outside the public task SDK
#: (the names ``airflow.sdk`` itself exports).
COMPAT = "hymir_airflow.compat"


def _modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


MODULES = _modules()


def _imports(path: Path) -> list[str]:
    """Every module name ``path`` imports, at any depth: ``from a import b`` counts as ``a.b`` when that is a module."""
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                names.append(submodule if submodule in MODULES else node.module)
    return names


def _project_imports(name: str) -> set[str]:
    """The project's modules that ``name`` imports, without its own parent packages (Python imports those first)."""
    return {
        imported
        for imported in _imports(MODULES[name])
        if imported in MODULES and imported != name and not name.startswith(imported + ".")
    }


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_module_starts_with_a_line_saying_what_it_is_for(name):
    docstring = ast.get_docstring(ast.parse(MODULES[name].read_text()))

    assert docstring, f"{name} has no module docstring"
    first = docstring.splitlines()[0]
    assert first.strip() and len(first) <= 120, f"{name}: the docstring's first line should be one short sentence"


def test_the_import_graph_of_the_three_packages_has_no_cycle():
    graph = {name: _project_imports(name) for name in MODULES}

    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as cycle:
        pytest.fail(f"import cycle: {' -> '.join(cycle.args[1])}")


def test_the_core_and_the_cli_import_no_airflow_and_no_adapter():
    offending = {
        name: [imported for imported in _imports(path) if imported.split(".")[0] in {"airflow", "hymir_airflow"}]
        for name, path in MODULES.items()
        if name.split(".")[0] in {"hymir", "hymir_cli"}
    }

    assert {name: found for name, found in offending.items() if found} == {}


def test_only_the_compat_module_reaches_past_the_public_task_sdk():
    offending = {
        name: [
            imported for imported in _imports(path) if imported.split(".")[0] == "airflow" and imported != "airflow.sdk"
        ]
        for name, path in MODULES.items()
        if name != COMPAT
    }

    assert {name: found for name, found in offending.items() if found} == {}
