"""`distillguard ingest PATH... --store FILE.duckdb`: load exchange logs into a store."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.table import Table

from distillguard.cli.app import app

if TYPE_CHECKING:
    from distillguard.pipeline import IngestSummary


@app.command()
def ingest(
    paths: Annotated[list[str], typer.Argument(help="Log files, folders of shards, or glob patterns.")],
    store: Annotated[Path, typer.Option("--store", "-s", help="DuckDB store file (created if absent).")],
    keep_bodies: Annotated[
        bool, typer.Option("--keep-bodies", help="Also store the raw request/response JSON.")
    ] = False,
    privacy: Annotated[
        bool,
        typer.Option("--privacy", help="Store only masked skeletons of prompt texts and no bodies."),
    ] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 1 if any record was quarantined.")] = False,
    max_line_mib: Annotated[float, typer.Option("--max-line-mib", help="Reject longer lines.")] = 8.0,
    batch_rows: Annotated[int, typer.Option("--batch-rows", help="Lines per committed batch.")] = 122_880,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or table.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log each committed batch to stderr.")] = False,
) -> None:
    """Read exchange logs (JSONL[.gz|.zst], Parquet, OTel GenAI spans) into the store; resumable, idempotent."""
    from distillguard.ingest import NormalizeOptions
    from distillguard.pipeline import IngestOptions, ingest_paths

    if privacy and keep_bodies:
        raise typer.BadParameter("--privacy and --keep-bodies exclude each other")
    options = IngestOptions(
        max_line_bytes=max(1, int(max_line_mib * 1024 * 1024)),
        batch_rows=max(1, batch_rows),
        normalize=NormalizeOptions(privacy=privacy, keep_bodies=keep_bodies),
    )
    console = Console(stderr=True)
    if verbose:
        logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    if quiet:
        summary = ingest_paths(paths, store, options)
    else:
        columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"))
        with Progress(*columns, TimeRemainingColumn(), console=console, transient=True) as bar:
            tasks: dict[str, TaskID] = {}

            def report(path: str, done: int, total: int) -> None:
                if path not in tasks:
                    tasks[path] = bar.add_task(Path(path).name, total=max(total, 1))
                bar.update(tasks[path], completed=done)

            summary = ingest_paths(paths, store, options, progress=report)
        _print_summary(Console(), summary)
    if strict and summary.quarantined:
        console.print(f"[bold red]--strict:[/] {summary.quarantined} record(s) quarantined")
        raise typer.Exit(1)


def _print_summary(console: Console, summary: IngestSummary) -> None:
    table = Table(title="ingest")
    for name in ("file", "read", "stored", "duplicates", "quarantined"):
        table.add_column(name, justify="left" if name == "file" else "right")
    for f in summary.files:
        label = f.path + (" (already ingested)" if f.skipped else "")
        table.add_row(label, str(f.read), str(f.stored), str(f.duplicates), str(f.quarantined))
    table.add_row(
        "[bold]total", str(summary.read), str(summary.stored), str(summary.duplicates), str(summary.quarantined)
    )
    console.print(table)
