"""Command-line interface: a thin shell over the public API, one module per verb.

Each module registers its command(s) on ``distillguard.cli.app.app``; this package only imports them
and turns a ``DistillguardError`` into a one-line message and exit code 2 instead of a traceback.
"""

from __future__ import annotations

import sys

from rich.console import Console

from distillguard.cli import alerts as _alerts  # noqa: F401
from distillguard.cli import analyze as _analyze  # noqa: F401  (registers the command)
from distillguard.cli import decide as _decide  # noqa: F401
from distillguard.cli import evaluate as _evaluate  # noqa: F401
from distillguard.cli import gateway as _gateway  # noqa: F401
from distillguard.cli import ingest as _ingest  # noqa: F401
from distillguard.cli import intel as _intel  # noqa: F401
from distillguard.cli import report as _report  # noqa: F401
from distillguard.cli import serve as _serve  # noqa: F401
from distillguard.cli import simulate as _simulate  # noqa: F401
from distillguard.cli import watermark as _watermark  # noqa: F401
from distillguard.cli.app import app
from distillguard.errors import DistillguardError

__all__ = ["app", "main"]


def main() -> None:
    try:
        app()
    except DistillguardError as exc:
        Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(2)
