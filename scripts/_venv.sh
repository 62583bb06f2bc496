# Sourced by the scripts: create or reuse .venv with the project and what it needs installed.
# Re-installs only when pyproject.toml or the pinned Airflow version changed (a stamp records them).

HYMIR_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${HYMIR_VENV:-$HYMIR_ROOT/.venv}"
AIRFLOW_VERSION="${AIRFLOW_VERSION:-3.3.2}"
PYTHON="${PYTHON:-python3}"

ensure_venv() {
    local stamp="$VENV/.hymir-installed"
    local want
    want="$(cat "$HYMIR_ROOT/pyproject.toml" | sha256sum | cut -c1-16) airflow=$AIRFLOW_VERSION"
    if [ ! -x "$VENV/bin/python" ]; then
        echo "==> creating virtual environment $VENV"
        "$PYTHON" -m venv "$VENV"
    fi
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        echo "==> installing hymir with Airflow $AIRFLOW_VERSION into $VENV (about a minute the first time)"
        "$VENV/bin/python" -m pip install --quiet --upgrade pip
        "$VENV/bin/python" -m pip install --quiet -e "$HYMIR_ROOT[airflow,cli,test,deploy]" "apache-airflow==$AIRFLOW_VERSION"
        echo "$want" > "$stamp"
    fi
    export PATH="$VENV/bin:$PATH"
}
