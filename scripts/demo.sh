#!/usr/bin/env bash
# The first README command: set up a virtual environment, then run the main job on the embedded default
# (one DuckDB file): simulate traffic with distillation campaigns inside it, analyze it, write the campaign
# report, score the result against the simulator's ground truth.  Output lands in demo-out/.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then "$PY" -m venv .venv; fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e .
OUT=${OUT:-demo-out}
SCENARIO=${SCENARIO:-reported-2026}
rm -rf "$OUT"
.venv/bin/distillguard simulate --scenario "$SCENARIO" --out "$OUT/sim" --seed 7
.venv/bin/distillguard analyze "$OUT/sim/log" --out "$OUT/results" --store "$OUT/store.duckdb"
.venv/bin/distillguard report --results "$OUT/results" --store "$OUT/store.duckdb" --out "$OUT/report.html"
.venv/bin/distillguard evaluate --labels "$OUT/sim/labels" --results "$OUT/results" --json "$OUT/evaluation.json"
echo "results: $OUT/results (accounts.parquet, campaigns.parquet, summary.json); report: $OUT/report.html;"
echo "store: $OUT/store.duckdb (browse it with: .venv/bin/distillguard serve --store $OUT/store.duckdb --results $OUT/results)"
