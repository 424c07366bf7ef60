"""The typer application every command module registers on."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="distillguard",
    help="Detect and stop distillation attacks against an LLM API.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
