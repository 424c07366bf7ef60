"""Traffic simulator with ground truth.

Contract: a scenario (TOML, built-in or a file) + scale + seed -> an exchange log in the
EXCHANGE_LOG format (sharded ``.jsonl.zst``) and, separately, the truth (``labels/``). Same inputs,
same bytes. The log carries no hint of the truth: attackers' identities and infrastructure are
drawn from the same distributions as everyone else's unless a scenario knob says otherwise.
The detector never imports this package.

Public API::

    load_scenario(name_or_path) -> Scenario
    make_plan(scenario, scale, seed) -> Plan
    simulate(scenario, out_dir, scale=1.0, seed=0, prompts=None, workers=None, shard_rows=20_000)
        -> SimulationSummary
    describe(plan) -> Description
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from distillguard.simulate.corpus import load_corpus
from distillguard.simulate.describe import Description, describe
from distillguard.simulate.plan import Plan, make_plan
from distillguard.simulate.scenario import BUILTIN, Scenario, load_scenario, parse_scenario
from distillguard.simulate.writer import SHARD_ROWS, SimulationSummary, write_simulation

__all__ = [
    "BUILTIN",
    "Description",
    "Plan",
    "Scenario",
    "SimulationSummary",
    "describe",
    "load_corpus",
    "load_scenario",
    "make_plan",
    "parse_scenario",
    "simulate",
]


def simulate(
    scenario: Scenario | str | Path,
    out_dir: str | Path,
    scale: float = 1.0,
    seed: int = 0,
    prompts: str | Path | None = None,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
    shard_rows: int = SHARD_ROWS,
) -> SimulationSummary:
    """Generate ``scenario`` at ``scale`` into ``out_dir``; see ``writer`` for the layout."""
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    corpus = load_corpus(Path(prompts)) if prompts is not None else None
    plan = make_plan(sc, scale, seed)
    return write_simulation(
        plan, Path(out_dir), corpus=corpus, workers=workers, shard_rows=shard_rows, progress=progress
    )
