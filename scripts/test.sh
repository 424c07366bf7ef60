#!/usr/bin/env bash
# The second README command: set up a virtual environment with every test dependency, then run lint,
# types and the whole test suite. CI (.ci/run) calls exactly this. --dist loadfile keeps each test file on one
# worker: module fixtures (a gateway, a store) are built once and tests that read their accumulated state agree.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then "$PY" -m venv .venv; fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[dev,spark]'
echo "== ruff"; .venv/bin/ruff check src tests bench scripts
.venv/bin/ruff format --check src tests bench scripts
echo "== mypy --strict"; .venv/bin/mypy
echo "== pytest"; .venv/bin/python -m pytest -q -n 2 --dist loadfile "$@"
