"""`distillguard alerts --results DIR --ecs FILE --hec FILE`: SIEM alerts from analyze results."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from distillguard.cli.app import app


@app.command(name="alerts")
def alerts_cmd(
    results: Annotated[Path, typer.Option("--results", help="Folder written by `distillguard analyze --out`.")],
    ecs: Annotated[Path | None, typer.Option("--ecs", help="Write Elastic Common Schema JSON lines here.")] = None,
    hec: Annotated[Path | None, typer.Option("--hec", help="Write Splunk HEC events (JSON lines) here.")] = None,
    index: Annotated[str | None, typer.Option("--hec-index", help="Splunk index to name in each HEC event.")] = None,
) -> None:
    """One alert per campaign and per flagged account (event.kind: alert, threat.*, gen_ai.*)."""
    from distillguard.alerts import write_alerts

    if ecs is None and hec is None:
        raise typer.BadParameter("give --ecs FILE, --hec FILE or both")
    s = write_alerts(results, ecs, hec, hec_index=index)
    where = " and ".join(p for p in (s.ecs_path, s.hec_path) if p)
    Console().print(f"wrote {s.campaigns} campaign and {s.accounts} account alerts to {where}", highlight=False)
