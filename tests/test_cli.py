"""The `hymir` command, run through its installed console script as a user would run it.

Each test starts the script next to this interpreter with the repository as the working
directory, so the example workflows import as ``tests.jobs.cli``.
"""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HYMIR = Path(sys.executable).parent / "hymir"
W = "tests.jobs.cli"


def hymir(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """Run the installed `hymir` script with ``args`` in ``cwd``; output is captured as text."""
    return subprocess.run([str(HYMIR), *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def hymir_without(module: str, *args: str) -> subprocess.CompletedProcess:
    """Run the command's entry point in an interpreter where ``module`` cannot be imported."""
    code = (
        f"import sys; sys.modules[{module!r}] = None; sys.argv = ['hymir', *{list(args)!r}]; "
        "from hymir_cli.main import main; main()"
    )
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    "command, phrase",
    [
        ([], "Validate, draw, run and deploy Hymir workflows."),
        (["validate"], "list every validation error"),
        (["graph"], "[default: mermaid]"),
        (["run"], "--max-workers"),
        (["dag"], "--dag-id"),
    ],
)
def test_every_command_has_help(command, phrase):
    result = hymir(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(" ".join(["Usage: hymir", *command, "[OPTIONS]"]))
    assert phrase in " ".join(result.stdout.split())
    assert "MODULE:WORKFLOW names an importable module" in " ".join(result.stdout.split())


def test_version():
    result = hymir("--version")
    assert (result.returncode, result.stdout) == (0, f"hymir, version {version('hymir-workflows')}\n")


@pytest.mark.parametrize(
    "target, line",
    [
        ("nested", "is a valid workflow of 4 jobs and 1 callback"),
        ("single", "is a valid workflow of 1 job"),
        ("mapped", "is a valid workflow of 3 jobs (1 mapped)"),
    ],
)
def test_validate_accepts_a_valid_workflow(target, line):
    result = hymir("validate", f"{W}:{target}")
    assert (result.returncode, result.stdout) == (0, f"OK: {W}:{target} {line}\n")


def test_validate_lists_every_error():
    result = hymir("validate", f"{W}:broken")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    # Workflow() lists every job's problem; the callback, added after it, is checked once the jobs are valid.
    assert lines[0] == f"{W}:broken is not a valid workflow (5 errors):"
    assert lines[1:] == [
        f"  - job 1 ({W}.count): input 'words': its producer job 2 ({W}.shout) does not run before it; "
        "put the producer earlier in a Chain",
        f"  - job 3 ({W}.shout): argument args[0] is of type tuple, which is not JSON-safe (use a list)",
        f"  - job 4 ({W}.broken.<locals>.<lambda>): '{W}.broken.<locals>.<lambda>' is not an importable dotted "
        "name: a job's function must be defined at the top level of a module (not a lambda or a nested function)",
        f"  - job 5 ({W}.first): input 'words': it has 2 producers (jobs 2, 3) but parameter 'words' takes one "
        "value; annotate it as list[...] to receive every value",
        f"  - job 6 ({W}.refuse): its arguments and inputs do not fit refuse(reason: str): too many positional "
        "arguments",
    ]


def test_validate_lists_the_errors_of_a_workflow_built_when_its_module_is_imported(tmp_path):
    (tmp_path / "my_flows.py").write_text(
        "from hymir import Chain, Success, Workflow, job\n"
        "\n"
        "@job(output='n')\n"
        "def make(n: int):\n"
        "    return Success(n)\n"
        "\n"
        "@job(inputs=['total'])\n"
        "def show(total: int):\n"
        "    print(total)\n"
        "\n"
        "workflow = Workflow(Chain(make(1.5j), show()))\n"
    )
    result = hymir("validate", "my_flows:workflow", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "my_flows:workflow is not a valid workflow (2 errors):",
        "  - job 1 (my_flows.make): argument args[0] is of type complex, which is not JSON-safe",
        "  - job 2 (my_flows.show): input 'total': no job produces it (no job has output='total')",
    ]


@pytest.mark.parametrize(
    "target, message",
    [
        (f"{W}:missing", f"module '{W}' has no attribute 'missing'"),
        ("tests.no_such_module:workflow", "no module named 'tests.no_such_module'"),
        (f"{W}:not_a_workflow", f"{W}:not_a_workflow is 42, not a Workflow or a function returning one"),
        (f"{W}:needs_argument", f"{W}:needs_argument cannot be called without arguments"),
        (f"{W}:chain_only", f"{W}:chain_only() returned a Chain, not a Workflow"),
        ("no-colon", "'no-colon' is not MODULE:WORKFLOW"),
    ],
)
def test_a_target_that_names_no_workflow_is_a_usage_error(target, message):
    result = hymir("validate", target)
    assert result.returncode == 2
    assert f"Error: Invalid value for MODULE:WORKFLOW: {message}" in result.stderr


@pytest.mark.parametrize("command", [["graph"], ["run"], ["dag", "--dag-id", "broken"]])
def test_other_commands_refuse_an_invalid_workflow(command):
    result = hymir(command[0], f"{W}:broken", *command[1:])
    assert result.returncode == 1
    assert result.stdout == ""
    assert f"Error: {W}:broken is not a valid workflow: job 1 ({W}.count): input 'words'" in result.stderr
    assert f"Run `hymir validate {W}:broken` to list every error." in result.stderr


def test_graph_mermaid_shows_nesting_and_callbacks():
    result = hymir("graph", f"{W}:nested")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "flowchart TD\n"
        '    subgraph group_1 ["Group"]\n'
        '        job_1["1: shout(#quot;a#quot;)<br/>output: words"]\n'
        '        subgraph chain_1 ["Chain"]\n'
        '            job_2["2: shout(#quot;b#quot;)<br/>output: words"]\n'
        '            job_3["3: shout(#quot;c#quot;)<br/>output: words"]\n'
        "        end\n"
        "    end\n"
        '    job_4["4: count<br/>output: count"]\n'
        '    job_5(["5: report<br/>on_finished"])\n'
        "    job_2 --> job_3\n"
        "    job_1 --> job_4\n"
        "    job_3 --> job_4\n"
        "    job_1 -.-> job_5\n"
        "    job_3 -.-> job_5\n"
        "    job_4 -.-> job_5\n"
    )


def test_graph_dot_shows_nesting_and_callbacks():
    result = hymir("graph", f"{W}:nested", "--format", "dot")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "digraph workflow {\n"
        "    node [shape=box];\n"
        '    subgraph cluster_group_1 { label="Group";\n'
        '        job_1 [label="1: shout(\\"a\\")\\noutput: words"];\n'
        '        subgraph cluster_chain_1 { label="Chain";\n'
        '            job_2 [label="2: shout(\\"b\\")\\noutput: words"];\n'
        '            job_3 [label="3: shout(\\"c\\")\\noutput: words"];\n'
        "        }\n"
        "    }\n"
        '    job_4 [label="4: count\\noutput: count"];\n'
        '    job_5 [label="5: report\\non_finished", style="rounded,dashed"];\n'
        "    job_2 -> job_3;\n"
        "    job_1 -> job_4;\n"
        "    job_3 -> job_4;\n"
        "    job_1 -> job_5 [style=dashed];\n"
        "    job_3 -> job_5 [style=dashed];\n"
        "    job_4 -> job_5 [style=dashed];\n"
        "}\n"
    )


def test_validate_checks_a_map():
    result = hymir("validate", f"{W}:mapped_badly")
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"{W}:mapped_badly is not a valid workflow (1 error):",
        f"  - job 2 ({W}.shout): Map over 'lines' (parameter 'word'): no job produces it (no job has output='lines')",
    ]


@pytest.mark.parametrize(
    "fmt, node",
    [
        ("mermaid", '    job_2[["2: shout<br/>output: loud<br/>for each item of words, 2 at once"]]'),
        ("dot", '    job_2 [label="2: shout\\noutput: loud\\nfor each item of words, 2 at once", shape=box3d];'),
    ],
)
def test_graph_draws_a_mapped_job_as_a_stack(fmt, node):
    result = hymir("graph", f"{W}:mapped", "--format", fmt)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert node in lines
    assert sum("for each item" in line for line in lines) == 1


def test_graph_draws_a_unit_as_the_subgraph_of_what_it_holds():
    result = hymir("graph", f"{W}:in_a_unit")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert '    subgraph chain_1 ["Unit unit_1: Chain, one task, retries=2"]' in lines
    assert lines.index('        job_4["4: count<br/>output: count"]') > lines.index(
        "    subgraph chain_1 [\"Unit unit_1: Chain, one task, retries=2\"]"
    )


def test_graph_draws_a_unit_around_the_whole_workflow():
    result = hymir("graph", f"{W}:all_in_a_unit", "--format", "dot")
    assert result.returncode == 0, result.stderr
    assert (
        result.stdout.splitlines()[2]
        == '    subgraph cluster_unit_1 { label="Unit unit_1: Group, one task, retries=0";'
    )


def test_run_lists_a_unit_before_its_members():
    result = hymir("run", f"{W}:in_a_unit")
    assert result.returncode == 0, result.stderr
    rows = [line.split()[:3] for line in result.stdout.splitlines()[1:6]]
    assert [row[0] for row in rows] == ["1", "unit_1", "2", "3", "4"]
    assert "unit_1  unit of jobs 2, 3, 4  success  0" in result.stdout


def test_validate_refuses_a_unit_holding_a_map():
    result = hymir("validate", f"{W}:map_in_a_unit")
    assert result.returncode != 0
    assert "unit_1: job 2 (tests.jobs.cli.shout) is mapped; a Unit cannot hold a Map" in result.stdout + result.stderr


def test_run_lists_each_item_after_its_mapped_job():
    result = hymir("run", f"{W}:mapped")
    assert result.returncode == 0, result.stderr
    rows = [line.split()[:3] for line in result.stdout.splitlines()[1:6]]
    assert rows == [
        ["1", f"{W}.split", "success"],
        ["2", f"{W}.shout", "success"],
        ["2[0]", f"{W}.shout", "success"],
        ["2[1]", f"{W}.shout", "success"],
        ["2[2]", f"{W}.shout", "success"],
    ]
    assert "outputs:  {'words': [['a', 'b', 'c']], 'loud': ['A', 'B', 'C'], 'count': [3]}" in result.stdout


def test_graph_of_explicit_edges_has_no_subgraphs():
    result = hymir("graph", f"{W}:explicit")
    assert result.stdout == (
        "flowchart TD\n"
        '    job_1["load: shout(#quot;x#quot;)<br/>output: words"]\n'
        '    job_2["total: count<br/>output: count"]\n'
        "    job_1 --> job_2\n"
    )


def test_run_prints_every_job_and_the_outputs():
    result = hymir("run", f"{W}:nested", "--max-workers", "2")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"job  {'function':<{len(W) + 7}}  status   retries  checks  result",
        f"1    {W}.shout   success  0        0       'A'",
        f"2    {W}.shout   success  0        0       'B'",
        f"3    {W}.shout   success  0        0       'C'",
        f"4    {W}.count   success  0        0       3",
        f"5    {W}.report  success  0        0       'workflow success'",
        "",
        "workflow: success",
        "outputs:  {'words': ['A', 'B', 'C'], 'count': [3]}",
    ]
    assert f"running {W}:nested" in result.stderr


def test_run_of_a_failing_workflow_exits_1_and_shows_why():
    result = hymir("run", f"{W}:failing")
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"job  {'function':<{len(W) + 8}}  status   retries  checks  result",
        f"1    {W}.shout    success  0        0       'OK'",
        f"2    {W}.explode  failure  0        0       RuntimeError: boom",
        f"3    {W}.refuse   failure  0        0       returned Failure('no thanks')",
        f"4    {W}.count    pending  0        0",
        f"5    {W}.report   success  0        0       'workflow failure'",
        "",
        "workflow: failure",
        "outputs:  {'words': ['OK']}",
    ]
    assert "Traceback" not in result.stderr


def test_run_verbose_logs_each_job_and_the_traceback():
    result = hymir("run", f"{W}:failing", "--verbose")
    assert result.returncode == 1
    assert f"INFO job 1 ({W}.shout): 'ok' -> Success(result='OK')" in result.stderr
    assert f"WARNING job 2 ({W}.explode) raised:\nTraceback (most recent call last):" in result.stderr
    assert "RuntimeError: boom" in result.stderr


@pytest.mark.airflow
def test_dag_writes_a_drop_in_file_that_builds_the_dag():
    result = hymir("dag", f"{W}:nested", "--dag-id", "cli_nested")
    assert result.returncode == 0, result.stderr
    source = result.stdout
    assert "airflow" in source and "dag" in source  # Airflow's safe mode skips files without both words
    assert f"from {W} import nested\n" in source
    assert 'dag = workflow_to_dag(nested(), dag_id="cli_nested")\n' in source
    code = compile(source, "cli_nested.py", "exec")
    pytest.importorskip("airflow.sdk")
    namespace: dict = {}
    exec(code, namespace)
    dag = namespace["dag"]
    assert dag.dag_id == "cli_nested"
    assert sorted(dag.task_ids) == ["count", "report", "shout", "shout_2", "shout_3"]


@pytest.mark.airflow
def test_dag_of_a_workflow_object_with_a_schedule():
    result = hymir(
        "dag", f"{W}:single", "--dag-id", "cli.single", "--schedule", "0 6 * * *", "--start-date", "2026-01-02"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith(
        "dag = workflow_to_dag(\n"
        "    single,\n"
        '    dag_id="cli.single",\n'
        '    schedule="0 6 * * *",\n'
        "    start_date=datetime(2026, 1, 2, tzinfo=timezone.utc),\n"
        ")\n"
    )
    code = compile(result.stdout, "cli_single.py", "exec")
    pytest.importorskip("airflow.sdk")
    namespace: dict = {}
    exec(code, namespace)
    dag = namespace["dag"]
    assert (dag.dag_id, dag.start_date.isoformat()) == ("cli.single", "2026-01-02T00:00:00+00:00")
    assert dag.timetable.expression == "0 6 * * *"


def test_dag_rejects_a_dag_id_airflow_would_refuse():
    result = hymir("dag", f"{W}:single", "--dag-id", "two words")
    assert result.returncode == 2
    assert "Invalid value for '--dag-id': 'two words': a DAG id is made of letters" in result.stderr


def test_dag_file_is_written_without_airflow():
    result = hymir_without("airflow", "dag", f"{W}:single", "--dag-id", "no_airflow")
    assert result.returncode == 0, result.stderr
    assert 'dag = workflow_to_dag(single, dag_id="no_airflow")\n' in result.stdout


def test_without_click_the_command_says_how_to_install_it():
    result = hymir_without("click", "--help")
    assert result.returncode == 1
    assert (
        result.stderr
        == "The hymir command needs click, which comes with the cli extra: pip install 'hymir-workflows[cli]'\n"
    )


def test_run_overrides_params_given_as_json_or_text():
    result = hymir("run", f"{W}:greeting", "--param", "name=Ada", "-p", "times=2")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "outputs:  {'greeting': ['hello Ada hello Ada']}"


@pytest.mark.parametrize(
    "argument, message",
    [("nmae=Ada", "unknown params ['nmae']"), ("name", "'name' is not NAME=VALUE")],
    ids=["unknown", "no-equals"],
)
def test_run_refuses_a_bad_param_as_a_usage_error(argument, message):
    result = hymir("run", f"{W}:greeting", "--param", argument)
    assert result.returncode == 2
    assert message in result.stderr


@pytest.mark.airflow
def test_dag_output_file_is_written_only_for_a_valid_workflow(tmp_path):
    written = tmp_path / "cli_nested.py"
    result = hymir("dag", f"{W}:nested", "--dag-id", "cli_nested", "-o", str(written))
    assert result.returncode == 0, result.stderr
    assert written.read_text() == hymir("dag", f"{W}:nested", "--dag-id", "cli_nested").stdout
    refused = tmp_path / "cli_broken.py"
    result = hymir("dag", f"{W}:broken", "--dag-id", "cli_broken", "--output", str(refused))
    assert result.returncode == 1
    assert not refused.exists()
