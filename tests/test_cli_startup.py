"""The command line starts without importing the stages: each command imports what it runs when it runs.

`distillguard --help` imported every stage, numba's compiled kernels and the graph libraries (3.4 s on the
development machine) before printing a line; every command paid that before its own work.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from distillguard.cli import app
from distillguard.heap import ANALYZE_MEMORY_LIMIT

HEAVY = (
    "numba",
    "duckdb",
    "sknetwork",
    "scipy",
    "plotly",
    "stix2",
    "uvicorn",
    "distillguard.pipeline",
    "distillguard.fingerprint.stage",
    "distillguard.linking",
    "distillguard.scoring",
    "distillguard.simulate",
    "distillguard.report",
    "distillguard.intel",
    "distillguard.gateway",
)


def _loaded_after(code: str) -> list[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))"
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True)
    loaded: list[str] = json.loads(out.stdout.strip().splitlines()[-1])
    return loaded


def test_the_cli_imports_no_stage_until_a_command_runs() -> None:
    assert _loaded_after("import distillguard.cli") == []


def test_help_lists_every_command_without_importing_a_stage() -> None:
    code = (
        "import sys\nfrom typer.testing import CliRunner\nfrom distillguard.cli import app\n"
        "r = CliRunner().invoke(app, ['--help'])\nassert r.exit_code == 0, r.output\n"
        "assert all(c in r.output for c in ('analyze', 'ingest', 'decide', 'report', 'gateway', 'intel'))\n"
        "r = CliRunner().invoke(app, ['analyze', '--help'])\nassert r.exit_code == 0, r.output"
    )
    assert _loaded_after(code) == []


def test_a_command_imports_its_stage_when_it_runs(tmp_path: Path) -> None:
    """The laziness is not a missing import: the command's own help names the default its stage uses, and
    a run of the command loads the stage."""
    r = CliRunner().invoke(app, ["analyze", "--help"])
    assert r.exit_code == 0 and ANALYZE_MEMORY_LIMIT in r.output
    assert "distillguard.pipeline" in _loaded_after(
        "from typer.testing import CliRunner\nfrom distillguard.cli import app\n"
        f"CliRunner().invoke(app, ['analyze', {str(tmp_path / 'missing.jsonl')!r}, '--out', {str(tmp_path / 'out')!r}])"
    )
