"""`distillguard intel export|import`: share campaigns as STIX 2.1 and match partners' bundles."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from distillguard.cli.app import app

intel_app = typer.Typer(help="Share campaigns as STIX 2.1 bundles and match partners' bundles.", no_args_is_help=True)
app.add_typer(intel_app, name="intel")

SaltFile = Annotated[
    Path, typer.Option("--salt-file", help="File holding the sharing group's secret salt (>= 16 bytes).")
]


@intel_app.command(name="export")
def export_cmd(
    results: Annotated[Path, typer.Option("--results", help="Folder written by `distillguard analyze --out`.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Bundle file to write (JSON).")],
    salt_file: SaltFile,
    store: Annotated[Path | None, typer.Option("--store", help="Store the results came from.")] = None,
    provider: Annotated[
        str, typer.Option("--provider", help="Name of the sharing organisation.")
    ] = "distillguard user",
    min_share: Annotated[
        float, typer.Option("--min-share", help="Least share of flagged accounts on a range/agent/payment to share it.")
    ] = 1.0,
    valid_days: Annotated[int, typer.Option("--valid-days", help="Validity after the campaign was last seen.")] = 90,
    tlp: Annotated[str, typer.Option("--tlp", help="TLP marking: clear, green, amber or red.")] = "amber",
) -> None:
    """Export campaigns as a STIX 2.1 bundle: keyed hashes and signatures, never raw prompts or payments."""
    from distillguard.intel import ExportOptions, export_bundle, read_salt

    options = ExportOptions(provider=provider, min_share=min_share, valid_days=valid_days, tlp=tlp)
    bundle = export_bundle(results, out, read_salt(salt_file), options, store=store)
    kinds = Counter(str(o.get("x_distillguard_kind", o["type"])) for o in bundle.objects if o["type"] != "relationship")
    Console().print(f"wrote {out}: " + ", ".join(f"{n} {k}" for k, n in kinds.most_common()), highlight=False)


@intel_app.command(name="import")
def import_cmd(
    bundle: Annotated[Path, typer.Argument(help="A partner's STIX 2.1 bundle (JSON).")],
    store: Annotated[Path, typer.Option("--store", help="My store to match against (evidence is written to it).")],
    salt_file: SaltFile,
    out: Annotated[Path | None, typer.Option("--out", help="Folder for intel_matches/intel_accounts parquet.")] = None,
    similarity: Annotated[
        float, typer.Option("--similarity", help="Least signature similarity for a template-family match.")
    ] = 0.6,
) -> None:
    """Match a partner's indicators against my accounts and traffic; write the evidence."""
    from distillguard.intel import ImportOptions, import_bundle, read_salt

    s = import_bundle(
        bundle, store, read_salt(salt_file), out_dir=out, options=ImportOptions(family_similarity=similarity)
    )
    console = Console()
    console.print(
        f"{s.partner}: {s.campaigns} campaigns, {s.indicators} indicators ({s.unsupported} unsupported, "
        f"{len(s.too_broad)} too broad) → {s.matches} matches on {s.accounts} of my accounts "
        f"({', '.join(f'{k} {n}' for k, n in sorted(s.by_kind.items())) or 'none'})",
        highlight=False,
    )
