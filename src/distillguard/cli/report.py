"""`distillguard report --results DIR --out report.html|.md|.json`: campaign report for analysts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from distillguard.cli.app import app


@app.command(name="report")
def report_cmd(
    results: Annotated[Path, typer.Option("--results", help="Folder written by `distillguard analyze --out`.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Report file: .html, .md or .json (by suffix).")],
    store: Annotated[
        Path | None, typer.Option("--store", help="Store the results came from (default: found from the folder).")
    ] = None,
    js_beside: Annotated[
        bool, typer.Option("--js-beside", help="Write plotly.min.js once beside the HTML instead of inline.")
    ] = False,
) -> None:
    """One page per campaign (capabilities, activity with model releases, infrastructure, prompts, evidence,
    actions) after a summary page ranking them. Works offline; prints to PDF one campaign per page."""
    from distillguard.report import build_report, load_results, write_report

    loaded = load_results(results, store)
    data = build_report(loaded)
    path = write_report(data, out, js_beside=js_beside)
    note = "" if loaded.store else " (no store found: timelines, prompts and payment clusters left out)"
    Console().print(f"wrote {path}: {len(data['campaigns'])} campaigns{note}", highlight=False)
