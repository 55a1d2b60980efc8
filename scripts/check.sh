#!/usr/bin/env bash
# Every check CI runs, in order, stopping at the first failure: import contracts, lint, format, types, tests.
# Uses the tools of ./.venv (bash scripts/install.sh --test); VENV=/path/to/venv to use another one.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${VENV:-.venv}/bin"
# Check this checkout's code, whichever tree the virtualenv's editable install points to.
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

step() {
  echo "== $*" >&2
  "$@"
}

step "$bin/lint-imports"
step "$bin/ruff" check .
step "$bin/ruff" format --check .
step "$bin/mypy"
step "$bin/python" -m pytest -q "$@"
