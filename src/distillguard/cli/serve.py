"""`distillguard serve`: the analysts' web dashboard and the read-only TAXII 2.1 collection."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from distillguard.cli.app import app
from distillguard.errors import InputError


def _listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError(f"--listen {value!r}: expected HOST:PORT, e.g. 127.0.0.1:8000")
    return host.strip("[]") or "127.0.0.1", int(port)


@app.command()
def serve(
    store: Annotated[Path, typer.Option("--store", "-s", help="DuckDB store written by analyze.")],
    listen: Annotated[str, typer.Option("--listen", help="HOST:PORT to listen on.")] = "127.0.0.1:8000",
    results: Annotated[
        Path | None, typer.Option("--results", help="analyze --out folder (for the TAXII collection).")
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="TOML with a [dashboard] table (token, salt_file, policy...).")
    ] = None,
) -> None:
    """Serve the dashboard (login with the token from --config or DISTILLGUARD_TOKEN) and TAXII 2.1."""
    import uvicorn

    from distillguard.web import create_app, load_settings

    host, port = _listen(listen)
    settings = load_settings(store, config, results)
    console = Console(stderr=True)
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback and not settings.secure_cookies:
        console.print(
            "[yellow]warning:[/] listening beyond this machine without secure_cookies: put TLS in front and set "
            "secure_cookies = true in [dashboard]"
        )
    taxii = "on" if settings.results and settings.salt else "off (needs --results and salt_file)"
    console.print(f"dashboard on http://{host}:{port}/ · TAXII 2.1 {taxii} at /taxii2/ · store {store}")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info", proxy_headers=False)
