"""`distillguard simulate`: generate traffic with ground truth, or describe what a scenario generates."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from distillguard.cli.app import app
from distillguard.errors import ConfigError

if TYPE_CHECKING:
    from distillguard.simulate.describe import Description


def _scale(text: str, reported: float) -> float:
    if text == "reported":
        return reported
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"--scale must be a number or 'reported', got {text!r}") from None


@app.command()
def simulate(
    scenario: Annotated[str, typer.Option(help="built-in name (reported-2026, hard-negatives, adaptive) or TOML file")],
    out: Annotated[Path | None, typer.Option(help="output folder (must be new or empty)")] = None,
    scale: Annotated[str, typer.Option(help="size multiplier; 'reported' = the reported size")] = "1",
    seed: Annotated[int, typer.Option(help="random seed: same seed, same bytes")] = 0,
    prompts: Annotated[Path | None, typer.Option(help="folder of JSONL prompt corpora {text, kind}")] = None,
    workers: Annotated[int | None, typer.Option(help="worker processes (default: up to 2)")] = None,
    describe_only: Annotated[
        bool, typer.Option("--describe", help="print per-archetype and per-campaign figures, write nothing")
    ] = False,
) -> None:
    """Simulate API traffic with distillation campaigns and write the log and its labels."""
    from distillguard.simulate import describe, load_corpus, load_scenario, make_plan
    from distillguard.simulate.writer import write_simulation

    console = Console()
    sc = load_scenario(scenario)
    plan = make_plan(sc, _scale(scale, sc.reported_scale), seed)
    if describe_only:
        print_description(console, describe(plan))
        return
    if out is None:
        raise ConfigError("--out is required unless --describe is given")
    corpus = load_corpus(prompts) if prompts is not None else None
    columns = (TextColumn("simulating"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("exchanges", total=plan.total)
        summary = write_simulation(plan, out, corpus=corpus, workers=workers, progress=lambda n: bar.advance(task, n))
    console.print(
        f"wrote {summary.exchanges:,} exchanges from {summary.accounts:,} accounts "
        f"({summary.attack_accounts:,} attacking, {summary.attack_exchanges:,} attack exchanges) "
        f"in {summary.shards} shard(s) to {summary.out_dir}"
    )


_BARS = "▁▂▃▄▅▆▇█"


def _spark(shares: tuple[float, ...]) -> str:
    top = max(shares) or 1.0
    return "".join(_BARS[min(7, int(x / top * 7.999))] for x in shares)


def _mix(pairs: tuple[tuple[str, float], ...], top: int = 4) -> str:
    return ", ".join(f"{k} {v:.0%}" for k, v in pairs[:top])


def print_description(console: Console, d: Description) -> None:
    console.print(
        f"[bold]{d.scenario}[/] scale {d.scale:g} seed {d.seed}: {d.accounts:,} accounts, "
        f"{d.exchanges:,} exchanges over {d.days:g} days"
    )
    t = Table(title="volume and time")
    cols = ("group", "kind", "accounts", "exchanges", "per acct med/p90/max", "active days", "UTC 00-23h", "models")
    for c in cols:
        t.add_column(c, overflow="fold")
    for g in d.groups:
        peak = max(range(24), key=lambda h: g.hourly_utc[h])
        t.add_row(
            g.name,
            f"campaign ({g.archetype})" if g.attack else "legit",
            f"{g.accounts:,}",
            f"{g.exchanges:,}",
            f"{g.per_account_median:g}/{g.per_account_p90:g}/{g.per_account_max:,}",
            f"{g.first_day:.1f}-{g.last_day:.1f}",
            _spark(g.hourly_utc) + f" peak {peak:02d}h",
            _mix(g.models),
        )
    console.print(t)
    t = Table(title="content")
    for c in ("group", "capabilities", "sessions", "thinking", "CoT harvest", "phases", "payments", "UAs", "TLS"):
        t.add_column(c, overflow="fold")
    for g in d.groups:
        t.add_row(
            g.name,
            _mix(g.capabilities),
            _mix(g.sessions, 3),
            f"{g.thinking_share:.0%}",
            f"{g.harvest_share:.0%}",
            _mix(g.phases) or "-",
            f"{g.distinct_payment:,}",
            f"{g.distinct_user_agents:,}",
            f"{g.distinct_tls_fingerprints:,}",
        )
    console.print(t)
