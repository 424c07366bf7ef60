"""`distillguard watermark detect|mark`: which account keys texts carry; mark a file's texts."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from distillguard.cli.app import app
from distillguard.errors import InputError

watermark_app = typer.Typer(help="Tracing watermark: mark texts with an account key; detect keys in texts.")
app.add_typer(watermark_app, name="watermark")

_SECRET_ENV = "DISTILLGUARD_WATERMARK_SECRET"


def _secret(secret_file: Path | None) -> bytes:
    if secret_file is not None:
        try:
            secret = secret_file.read_bytes().strip()
        except OSError as exc:
            raise InputError(f"{secret_file}: cannot read ({exc.strerror or exc})") from None
    else:
        secret = os.environ.get(_SECRET_ENV, "").encode()
    if not secret:
        raise InputError(f"no watermark secret: pass --secret-file or set {_SECRET_ENV}")
    return secret


def _store_accounts(store_path: Path) -> list[str]:
    from distillguard.store import Store

    with Store.open(store_path, read_only=True) as store:
        rows = store.connection.sql("SELECT DISTINCT account_id FROM exchanges ORDER BY 1").fetchall()
    return [str(r[0]) for r in rows if r[0] is not None]


@watermark_app.command("detect")
def detect_cmd(
    files: Annotated[list[Path], typer.Argument(help="texts: .txt, .json or .jsonl (.gz/.zst); logs and chats too")],
    keys: Annotated[Path | None, typer.Option("--keys", help='JSON {"name": "hex key"} or lines "name hexkey"')] = None,
    accounts: Annotated[
        Path | None, typer.Option("--accounts", help="store: test the key of every account in it")
    ] = None,
    secret_file: Annotated[
        Path | None, typer.Option("--secret-file", help=f"provider secret for --accounts (or ${_SECRET_ENV})")
    ] = None,
    alpha: Annotated[float, typer.Option(help="report a key as present when its adjusted p-value is below")] = 1e-6,
    top: Annotated[int, typer.Option(help="rows to show")] = 10,
    json_out: Annotated[Path | None, typer.Option("--json", help="write every key's result as JSON")] = None,
) -> None:
    """Test the texts in FILES for each key; exact p-values, Bonferroni-adjusted over the keys."""
    from distillguard.watermark import UnitCounts, account_key, detect_counts
    from distillguard.watermark.io import read_keys, read_texts

    if (keys is None) == (accounts is None):
        raise InputError("give exactly one of --keys KEYFILE or --accounts STORE")
    if keys is not None:
        key_map = read_keys(keys)
    else:
        assert accounts is not None
        secret = _secret(secret_file)
        key_map = {a: account_key(secret, a) for a in _store_accounts(accounts)}
        if not key_map:
            raise InputError(f"{accounts}: the store holds no accounts")
    uc = UnitCounts.collect(t for f in files for t in read_texts(f))
    results = detect_counts(uc, key_map, alpha)
    console = Console()
    table = Table(title=f"{uc.texts} texts, {len(uc.sids)} slot contexts, {len(key_map)} keys tested")
    for col in ("key", "p-value", "adjusted", "z", "units", "agree", "present"):
        table.add_column(col, justify="left" if col == "key" else "right")
    for d in results[:top]:
        table.add_row(
            d.key_id,
            f"{d.p_value:.2e}",
            f"{d.p_adjusted:.2e}",
            f"{d.z:.1f}",
            str(d.units),
            str(d.agree),
            "[bold red]yes[/]" if d.detected else "no",
        )
    console.print(table)
    found = [d.key_id for d in results if d.detected]
    console.print(f"keys present at adjusted p < {alpha:g}: {', '.join(found) if found else 'none'}")
    if json_out is not None:
        json_out.write_text(json.dumps([d.__dict__ for d in results], indent=1) + "\n", encoding="utf-8")


@watermark_app.command("mark")
def mark_cmd(
    file: Annotated[Path, typer.Argument(help="texts to mark (same formats as detect)")],
    out: Annotated[Path, typer.Option("--out", help="JSON Lines of marked texts ({'text': ...})")],
    account: Annotated[str, typer.Option(help="account id whose key marks the texts")],
    secret_file: Annotated[
        Path | None, typer.Option("--secret-file", help=f"provider secret (or ${_SECRET_ENV})")
    ] = None,
) -> None:
    """Mark every text in FILE with the account's key (for tests, demos and audits)."""
    from distillguard.watermark import account_key, mark_text
    from distillguard.watermark.io import read_texts

    key = account_key(_secret(secret_file), account)
    n = 0
    with out.open("w", encoding="utf-8") as fh:
        for text in read_texts(file):
            fh.write(json.dumps({"text": mark_text(text, key)}, ensure_ascii=False) + "\n")
            n += 1
    Console().print(f"marked {n} texts for {account} -> {out}")
