"""The allow-list never admits Hymir's own modules as job functions, except ``hymir.examples``.

``hymir.job.resolve_function`` (or the launcher, or the CLI) named as a job would let serialized
data import and call anything, so ``allowed_modules=["hymir"]`` (or ``HYMIR_ALLOWED_MODULES=hymir``)
must not open them. A canary module placed inside the ``hymir`` package records any import of it.
"""

from __future__ import annotations

import json
import sys
import uuid

import pytest

import hymir
from hymir import InvalidWorkflow, Workflow
from hymir.trust import ALLOWED_MODULES_VARIABLE
from tests.test_security import CANARY, serialized_with_args

OWN = "is in Hymir's own modules, which are never job functions"


def deserialize(name: str, allowed=None) -> Workflow:
    """A one-job workflow of ``name`` with one argument (which the example ``uppercase`` needs)."""
    return Workflow.deserialize(json.dumps(serialized_with_args(name, ["hymir"])), allowed_modules=allowed)


@pytest.mark.parametrize(
    "name, allowed",
    [
        ("hymir.job.resolve_function", ["hymir"]),
        ("hymir.job.resolve_function", ["hymir.job"]),
        ("hymir.trust.check_allowed", ["hymir", "tests"]),
        ("hymir_airflow.launcher.free_port", ["hymir_airflow"]),
        ("hymir_cli.main", ["hymir_cli"]),
    ],
)
def test_hymirs_own_modules_are_refused_whatever_is_allowed(name, allowed):
    with pytest.raises(InvalidWorkflow, match=OWN) as refused:
        deserialize(name, allowed)
    assert f"job function {name!r}" in str(refused.value) and "only hymir.examples is" in str(refused.value)


def test_the_environment_variable_does_not_open_them_either(monkeypatch):
    monkeypatch.setenv(ALLOWED_MODULES_VARIABLE, "hymir")
    with pytest.raises(InvalidWorkflow, match=OWN):
        deserialize("hymir.job.resolve_function")
    assert deserialize("hymir.examples.words.uppercase")["1"].name == "hymir.examples.words.uppercase"


def test_a_module_inside_hymir_is_refused_before_it_is_imported(tmp_path, monkeypatch):
    name = f"hymir_canary_{uuid.uuid4().hex[:8]}"
    marker = tmp_path / f"{name}.imported"
    (tmp_path / f"{name}.py").write_text(CANARY.format(marker=str(marker)))
    monkeypatch.setattr(hymir, "__path__", [*hymir.__path__, str(tmp_path)])
    with pytest.raises(InvalidWorkflow, match=OWN):
        deserialize(f"hymir.{name}.job_function", ["hymir"])
    assert not marker.exists() and f"hymir.{name}" not in sys.modules


@pytest.mark.parametrize("allowed", [["hymir"], ["hymir.examples"], ["hymir.examples.words"]])
def test_the_examples_still_pass(allowed):
    workflow = deserialize("hymir.examples.words.uppercase", allowed)
    assert workflow["1"].name == "hymir.examples.words.uppercase"


@pytest.mark.parametrize(
    "name, lives_in",
    [
        ("hymir.examples.words.Success", "hymir.job.Success"),
        ("hymir.examples.words.Workflow", "hymir.workflow.Workflow"),
    ],
)
def test_an_attribute_path_from_the_examples_into_hymir_is_refused(name, lives_in):
    with pytest.raises(InvalidWorkflow, match=OWN) as refused:
        deserialize(name, ["hymir"])
    assert f"job function {lives_in!r}" in str(refused.value)
