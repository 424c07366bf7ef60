"""`distillguard gateway --upstream URL --listen HOST:PORT --log-dir DIR [--store FILE] [--policy FILE]`."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from distillguard.cli.app import app
from distillguard.errors import ConfigError, StoreError

if TYPE_CHECKING:
    from distillguard.policy import OnlineSettings

log = logging.getLogger(__name__)


def _listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise typer.BadParameter(f"{text!r}: expected HOST:PORT, e.g. 127.0.0.1:8080")
    return host.strip("[]") or "127.0.0.1", int(port)


@app.command(name="gateway")
def gateway_cmd(
    upstream: Annotated[str, typer.Option("--upstream", help="Model API base URL, e.g. http://10.0.0.5:9000.")],
    log_dir: Annotated[Path, typer.Option("--log-dir", help="Folder for the exchange-log shards.")],
    listen: Annotated[str, typer.Option("--listen", help="HOST:PORT to serve on.")] = "127.0.0.1:8080",
    store: Annotated[Path | None, typer.Option("--store", help="Store with decisions (read at start).")] = None,
    snapshot: Annotated[
        Path | None, typer.Option("--snapshot", help="Enforcement snapshot to watch (default STORE.enforcement.json).")
    ] = None,
    policy: Annotated[Path | None, typer.Option("--policy", help="Policy file (online-linking settings).")] = None,
    account_header: Annotated[str, typer.Option(help="Header the auth layer sets to the account id.")] = "x-account-id",
    pathway_header: Annotated[str, typer.Option(help="Header with the sign-up pathway.")] = "x-account-pathway",
    payment_header: Annotated[str, typer.Option(help="Header with the payment fingerprint.")] = "x-payment-fingerprint",
    verified_header: Annotated[str, typer.Option(help="Header saying the account is verified.")] = "x-account-verified",
    client_ip_header: Annotated[
        str | None, typer.Option(help="Trusted header with the client address (set by your edge).")
    ] = None,
    key_secret_file: Annotated[
        Path | None,
        typer.Option(help="Secret for API-key hashes (else $DISTILLGUARD_KEY_SECRET or LOG_DIR/key-secret)."),
    ] = None,
    watermark_secret_file: Annotated[
        Path | None, typer.Option(help="Secret for watermark account keys (default: the key-hash secret).")
    ] = None,
    admin_token_env: Annotated[
        str, typer.Option(help="Environment variable holding the admin API token (admin API off when unset).")
    ] = "DISTILLGUARD_ADMIN_TOKEN",
    fsync: Annotated[str, typer.Option(help="always | interval | never (see docs/gateway.md).")] = "interval",
    fail_mode: Annotated[str, typer.Option(help="When an exchange cannot be logged: closed (503) or open.")] = "closed",
    max_body_mib: Annotated[float, typer.Option(help="Largest request body accepted.")] = 4.0,
    shard_mib: Annotated[float, typer.Option(help="Rotate log shards at this size.")] = 64.0,
    shard_seconds: Annotated[float, typer.Option(help="Rotate log shards at this age.")] = 3600.0,
    queue_size: Annotated[int, typer.Option(help="Exchanges waiting to be logged before backpressure.")] = 10_000,
    upstream_timeout: Annotated[float, typer.Option(help="Seconds to wait for the upstream.")] = 600.0,
    body_timeout: Annotated[float, typer.Option(help="Seconds a client has to send its body.")] = 30.0,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Reverse proxy for the Anthropic Messages and OpenAI Chat Completions APIs: logs, enforces, links online."""
    from distillguard.gateway import GatewayConfig, load_secret, serve
    from distillguard.policy import default_policy, default_snapshot_path, load_policy

    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    host, port = _listen(listen)
    pol = load_policy(policy) if policy is not None else default_policy()
    snap = snapshot or (default_snapshot_path(store) if store is not None else None)
    if store is not None and snap is not None and not snap.exists():
        _first_snapshot(store, snap, pol.online)
    config = GatewayConfig(
        upstream=upstream,
        log_dir=log_dir,
        snapshot=snap,
        store=store,
        policy=policy,
        account_header=account_header,
        pathway_header=pathway_header,
        payment_header=payment_header,
        verified_header=verified_header,
        client_ip_header=client_ip_header,
        key_secret=load_secret(key_secret_file, log_dir),
        watermark_secret=load_secret(watermark_secret_file, log_dir) if watermark_secret_file else None,
        admin_token=os.environ.get(admin_token_env) or None,
        max_body_bytes=int(max_body_mib * 1024 * 1024),
        shard_bytes=int(shard_mib * 1024 * 1024),
        shard_seconds=shard_seconds,
        fsync=fsync,
        fail_mode=fail_mode,
        queue_size=queue_size,
        upstream_timeout_s=upstream_timeout,
        body_timeout_s=body_timeout,
    )
    serve(config, pol, host, port)


def _first_snapshot(store: Path, snap: Path, online: OnlineSettings) -> None:
    """No snapshot yet: build one from the store with a short read-only open (skipped when it is busy)."""
    from distillguard.policy import export_snapshot
    from distillguard.store import Store

    try:
        with Store.open(store, read_only=True) as st:
            export_snapshot(st, snap, online)
    except (StoreError, ConfigError) as exc:
        log.warning(
            "no enforcement snapshot yet and the store is unavailable (%s); enforcing nothing until one appears", exc
        )
