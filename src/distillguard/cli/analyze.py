"""`distillguard analyze LOG_OR_STORE... --out DIR`: find campaigns and score every account."""

from __future__ import annotations

import re
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from distillguard.cli.app import app
from distillguard.errors import ConfigError
from distillguard.heap import ANALYZE_MEMORY_LIMIT


class Engine(StrEnum):
    duckdb = "duckdb"
    spark = "spark"


def parse_duration(text: str) -> timedelta | None:
    """'6h', '30m', '1d', '90s'; '0' or 'off' turns replay off."""
    if text.strip().lower() in ("0", "off", "none"):
        return None
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*", text)
    if not m:
        raise typer.BadParameter(f"{text!r}: expected a duration such as 6h, 30m, 1d or 'off'")
    value, unit = float(m.group(1)), m.group(2)
    seconds = value * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]
    if seconds <= 0:
        raise typer.BadParameter("the replay step must be positive")
    return timedelta(seconds=seconds)


@app.command(name="analyze")
def analyze_cmd(
    inputs: Annotated[list[str], typer.Argument(help="Exchange logs (files, folders, globs) or one .duckdb store.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for accounts/campaigns parquet and summary.json.")],
    store: Annotated[
        Path | None, typer.Option("--store", help="Store to ingest logs into (default OUT/store.duckdb).")
    ] = None,
    engine: Annotated[
        Engine, typer.Option("--engine", help="Execution engine: duckdb (embedded) or spark (the 'spark' extra).")
    ] = Engine.duckdb,
    spark_master: Annotated[
        str | None,
        typer.Option("--spark-master", help="Spark master URL (default: $SPARK_MASTER, else local[*]); spark only."),
    ] = None,
    replay_every: Annotated[
        str, typer.Option("--replay-every", help="Replay checkpoint spacing for first-flag times, or 'off'.")
    ] = "6h",
    rules: Annotated[
        Path | None, typer.Option("--rules", help="Detection rule file (TOML); default: the packaged rules.")
    ] = None,
    memory_limit: Annotated[
        str,
        typer.Option(
            "--memory-limit",
            help="DuckDB memory limit, e.g. 1GB, or 'none' for DuckDB's own (80% of RAM). What does not fit spills "
            "to temporary files beside the store (slower, not failing). At the default, analyzing 4M exchanges "
            "peaks at about 1.0 GiB (bench/RESULTS.md).",
        ),
    ] = ANALYZE_MEMORY_LIMIT,
    alerts: Annotated[
        Path | None, typer.Option("--alerts", help="Also write SIEM alerts as ECS JSON lines to this file.")
    ] = None,
    alerts_hec: Annotated[
        Path | None, typer.Option("--alerts-hec", help="Also write SIEM alerts as Splunk HEC events to this file.")
    ] = None,
) -> None:
    """Fingerprint prompts, profile accounts, link hydra clusters into campaigns and score them with evidence."""
    from distillguard.alerts import write_alerts
    from distillguard.pipeline import AnalyzeOptions, analyze, duckdb_memory_limit

    console = Console(stderr=True)
    if spark_master and engine is not Engine.spark:
        raise typer.BadParameter("--spark-master needs --engine spark")
    try:
        duckdb_memory_limit(memory_limit)
    except ConfigError as exc:
        raise typer.BadParameter(str(exc), param_hint="--memory-limit") from None
    options = AnalyzeOptions(
        rules=rules,
        replay_every=parse_duration(replay_every),
        memory_limit=memory_limit,
        engine="spark" if engine is Engine.spark else "duckdb",
        spark_master=spark_master,
    )
    with console.status("analyze") as status:
        summary = analyze(inputs, out, options, store_path=store, step=lambda s: status.update(f"analyze: {s}"))
    if alerts or alerts_hec:
        sent = write_alerts(out, ecs_path=alerts, hec_path=alerts_hec)
        console.print(f"alerts: {sent}")
    table = Table(title=f"analyze → {out}")
    table.add_column("what")
    table.add_column("count", justify="right")
    for name, value in (
        ("exchanges", summary.exchanges),
        ("accounts", summary.accounts),
        ("template families", summary.families),
        ("flagged accounts", summary.flagged),
        ("campaigns", summary.campaigns),
    ):
        table.add_row(name, f"{value:,}")
    Console().print(table)
    total = sum(summary.seconds.values())
    Console().print(
        f"{total:.1f} s ({', '.join(f'{k} {v:.1f}' for k, v in summary.seconds.items())}); "
        f"{summary.exchanges / max(total, 1e-9):,.0f} exchanges/s"
        + (f"; peak RSS {summary.peak_rss_mib:,.0f} MiB" if summary.peak_rss_mib is not None else "")
    )
