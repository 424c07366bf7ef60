"""`distillguard evaluate`: score a detection run against the simulator's labels."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from distillguard.cli.app import app
from distillguard.errors import InputError

if TYPE_CHECKING:
    from distillguard.evaluate import EvaluationReport


def _f(x: float | None, pct: bool = True) -> str:
    if x is None:
        return "n/a"
    return f"{x:.1%}" if pct else f"{x:.3f}"


@app.command()
def evaluate(
    results: Annotated[Path, typer.Option(help="analyze output folder holding accounts.parquet")],
    labels: Annotated[Path | None, typer.Option(help="labels folder written by simulate (OUT/labels)")] = None,
    analyst_labels: Annotated[
        Path | None, typer.Option("--analyst-labels", help="store holding analyst labels (distillguard serve)")
    ] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="also write the report as JSON")] = None,
) -> None:
    """Precision, recall, per-campaign coverage and leak, per-archetype false positives."""
    from distillguard.evaluate import evaluate as run_evaluation

    if (labels is None) == (analyst_labels is None):
        raise InputError("give exactly one of --labels (simulator ground truth) or --analyst-labels STORE")
    if analyst_labels is not None:
        from distillguard.web.labels import write_label_folder

        with tempfile.TemporaryDirectory(prefix="dg-analyst-labels-") as tmp:
            report = run_evaluation(write_label_folder(analyst_labels, tmp), results)
    else:
        assert labels is not None
        report = run_evaluation(labels, results)
    print_report(Console(), report)
    if json_out is not None:
        json_out.write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")


def print_report(console: Console, r: EvaluationReport) -> None:
    for w in r.warnings:
        console.print(f"[yellow]warning:[/] {w}")
    a = r.accounts
    t = Table(title="accounts")
    for c in (
        "accounts",
        "attacking",
        "flagged",
        "TP",
        "FP",
        "FN",
        "precision",
        "recall",
        "F1",
        "PR-AUC",
        "exch-weighted recall",
    ):
        t.add_column(c, justify="right")
    t.add_row(
        f"{a.accounts:,}",
        f"{a.attack_accounts:,}",
        f"{a.flagged:,}",
        f"{a.tp:,}",
        f"{a.fp:,}",
        f"{a.fn:,}",
        _f(a.precision),
        _f(a.recall),
        _f(a.f1),
        _f(a.pr_auc, pct=False),
        _f(r.exchange_weighted_recall),
    )
    console.print(t)
    if r.campaigns:
        t = Table(title="campaigns")
        for c in (
            "campaign",
            "accounts",
            "found",
            "exchanges",
            "covered",
            "predicted",
            "share",
            "purity",
            "time to first flag",
            "leak before detection",
        ):
            t.add_column(c, justify="right")
        for m in r.campaigns:
            ttf = "never" if m.time_to_first_flag_s is None else f"{m.time_to_first_flag_s / 3600:.1f} h"
            t.add_row(
                m.campaign,
                f"{m.accounts:,}",
                f"{m.found:,}",
                f"{m.exchanges:,}",
                _f(m.exchange_coverage),
                m.predicted_campaign or "-",
                _f(m.predicted_share),
                _f(m.purity),
                ttf,
                _f(m.leak_before_detection),
            )
        console.print(t)
    t = Table(title="legitimate archetypes")
    for c in ("archetype", "accounts", "flagged", "FPR", "flagged accounts"):
        t.add_column(c)
    for x in r.archetypes:
        shown = ", ".join(x.flagged_accounts[:5]) + (" ..." if len(x.flagged_accounts) > 5 else "")
        t.add_row(x.archetype, f"{x.accounts:,}", f"{x.flagged:,}", _f(x.false_positive_rate), shown or "-")
    console.print(t)
    if r.missing_accounts or r.extra_accounts:
        console.print(f"missing accounts: {r.missing_accounts:,}; extra accounts ignored: {r.extra_accounts:,}")
