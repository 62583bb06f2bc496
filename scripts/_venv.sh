# Sourced by the scripts: create or reuse a virtual environment with the project and what it needs.
# Re-installs only when pyproject.toml, the Airflow version or the constraints changed (a stamp
# records them). AIRFLOW_VERSION picks the Airflow release; constraints/airflow-<minor>.txt holds
# the pins that release needs to start at all.

HYMIR_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
AIRFLOW_VERSION="${AIRFLOW_VERSION:-3.3.2}"
VENV="${HYMIR_VENV:-$HYMIR_ROOT/.venv}"
HYMIR_EXTRAS="${HYMIR_EXTRAS:-airflow,cli,test,deploy,lint}"
PYTHON="${PYTHON:-python3}"

ensure_venv() {
    local stamp="$VENV/.hymir-installed"
    local minor="${AIRFLOW_VERSION%.*}"
    local constraints="$HYMIR_ROOT/constraints/airflow-$minor.txt"
    local inputs=("$HYMIR_ROOT/pyproject.toml") pins=() want
    if [ -f "$constraints" ]; then
        inputs+=("$constraints")
        pins=(--constraint "$constraints")
    fi
    want="$(cat "${inputs[@]}" | sha256sum | cut -c1-16) airflow=$AIRFLOW_VERSION extras=$HYMIR_EXTRAS"
    # One install at a time per environment: CI installs the older minors' environments early,
    # in the background, and the test script asks for them again once it gets there.
    local lock
    exec {lock}>"$VENV.lock"
    flock "$lock"
    if [ ! -x "$VENV/bin/python" ]; then
        echo "==> creating virtual environment $VENV"
        "$PYTHON" -m venv "$VENV"
    fi
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        echo "==> installing hymir with Airflow $AIRFLOW_VERSION into $VENV (a few minutes the first time)"
        "$VENV/bin/python" -m pip install --quiet --upgrade pip
        "$VENV/bin/python" -m pip install --quiet "${pins[@]}" -e "$HYMIR_ROOT[$HYMIR_EXTRAS]" "apache-airflow==$AIRFLOW_VERSION"
        echo "$want" > "$stamp"
    fi
    flock --unlock "$lock"
    exec {lock}>&-
    export PATH="$VENV/bin:$PATH"
}
