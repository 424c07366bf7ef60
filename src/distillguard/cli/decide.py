"""`distillguard decide ...`: turn analysis results into decisions, review them, and keep the audit trail."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import orjson
import typer
from rich.console import Console
from rich.table import Table

from distillguard.cli.app import app
from distillguard.errors import InputError
from distillguard.policy import (
    Action,
    Scope,
    check_examples,
    decide,
    default_policy,
    default_snapshot_path,
    export_snapshot,
    load_policy,
)
from distillguard.policy import decisions as dec
from distillguard.policy.model import Decision, Policy

if TYPE_CHECKING:
    from distillguard.store import Store

decide_app = typer.Typer(
    name="decide",
    help="Decisions with an audit trail: run the policy, list, approve, override, lift, add.",
    no_args_is_help=True,
)
app.add_typer(decide_app, name="decide")

StoreOpt = Annotated[Path, typer.Option("--store", "-s", help="DuckDB store (with analyze results).")]
PolicyOpt = Annotated[Path | None, typer.Option("--policy", help="Policy file (TOML); default: the packaged one.")]
SnapshotOpt = Annotated[
    Path | None, typer.Option("--snapshot", help="Enforcement snapshot to rewrite (default STORE.enforcement.json).")
]
ActorOpt = Annotated[str, typer.Option("--actor", help="Who decides (recorded in the audit trail).")]
NoteOpt = Annotated[str | None, typer.Option("--note", help="Why (recorded in the audit trail).")]
ParamOpt = Annotated[list[str] | None, typer.Option("--param", help="Action parameter KEY=VALUE (repeatable).")]


def _open_store(path: Path, read_only: bool = False) -> Store:
    from distillguard.store import Store  # DuckDB, only when a command runs

    return Store.open(path, read_only=read_only)


def _policy(path: Path | None) -> Policy:
    return load_policy(path) if path is not None else default_policy()


def _export(store: Store, snapshot: Path | None, policy: Path | None) -> Path:
    return export_snapshot(store, snapshot or default_snapshot_path(store.path), _policy(policy).online)


def _params(items: list[str] | None) -> dict[str, str]:
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError(f"--param {item!r}: expected KEY=VALUE")
        out[key.strip()] = value.strip()
    return out


def _print(decisions: list[Decision], title: str) -> None:
    table = Table(title=title)
    for col in ("decision", "subject", "action", "status", "rule", "actor", "when"):
        table.add_column(col)
    for d in decisions:
        params = f" {dict(d.params)}" if d.params else ""
        table.add_row(
            d.decision_id,
            f"{d.subject_kind.value} {d.subject_id}",
            d.action.value + params,
            d.status.value,
            d.rule,
            d.actor,
            d.at.strftime("%Y-%m-%d %H:%M:%S"),
        )
    Console().print(table)


@decide_app.command("run")
def run_cmd(
    store: StoreOpt,
    results: Annotated[
        Path | None, typer.Option("--results", help="analyze --out folder (default: the store's tables).")
    ] = None,
    policy: PolicyOpt = None,
    snapshot: SnapshotOpt = None,
) -> None:
    """Evaluate the policy on the latest analysis, record new decisions, rewrite the enforcement snapshot."""
    pol = _policy(policy)
    with _open_store(store) as st:
        result = decide(st, pol, results=results, snapshot=snapshot)
    r = result.recorded
    Console().print(
        f"{result.proposals} rule matches: {r.added} new or changed decisions, {r.unchanged} unchanged, "
        f"{r.kept_by_analyst} kept as an analyst set them; snapshot {result.snapshot}"
    )


@decide_app.command("list")
def list_cmd(
    store: StoreOpt,
    all_: Annotated[bool, typer.Option("--all", help="Include lifted decisions.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table.")] = False,
) -> None:
    """The current state of every decision."""
    with _open_store(store, read_only=True) as st:
        ds = dec.current_decisions(st, include_lifted=all_)
    if as_json:
        for d in ds:
            typer.echo(orjson.dumps({**d.__dict__, "params": dict(d.params)}, default=str).decode())
    else:
        _print(ds, f"decisions in {store}")


@decide_app.command("show")
def show_cmd(decision_id: str, store: StoreOpt) -> None:
    """The audit trail of one decision: every entry, oldest first, as JSON lines."""
    with _open_store(store, read_only=True) as st:
        entries = dec.audit_trail(st, decision_id)
    if not entries:
        raise InputError(f"no decision {decision_id!r} in {store}")
    for e in entries:
        typer.echo(orjson.dumps(e, default=str).decode())


@decide_app.command("approve")
def approve_cmd(
    decision_id: str,
    store: StoreOpt,
    actor: ActorOpt,
    note: NoteOpt = None,
    policy: PolicyOpt = None,
    snapshot: SnapshotOpt = None,
) -> None:
    """Activate a proposed decision."""
    with _open_store(store) as st:
        d = dec.approve(st, decision_id, actor, note)
        _export(st, snapshot, policy)
    _print([d], "approved")


@decide_app.command("lift")
def lift_cmd(
    decision_id: str,
    store: StoreOpt,
    actor: ActorOpt,
    note: NoteOpt = None,
    policy: PolicyOpt = None,
    snapshot: SnapshotOpt = None,
) -> None:
    """Lift a decision (a new audit entry; the decision and its history remain)."""
    with _open_store(store) as st:
        d = dec.lift(st, decision_id, actor, note)
        _export(st, snapshot, policy)
    _print([d], "lifted")


@decide_app.command("override")
def override_cmd(
    decision_id: str,
    store: StoreOpt,
    actor: ActorOpt,
    action: Annotated[Action, typer.Option("--action", help="The action that replaces the decision's.")],
    param: ParamOpt = None,
    note: NoteOpt = None,
    policy: PolicyOpt = None,
    snapshot: SnapshotOpt = None,
) -> None:
    """Replace a decision's action; later policy runs leave it as the analyst set it."""
    with _open_store(store) as st:
        d = dec.override(st, decision_id, actor, action, _params(param), note)
        _export(st, snapshot, policy)
    _print([d], "overridden")


@decide_app.command("add")
def add_cmd(
    store: StoreOpt,
    actor: ActorOpt,
    kind: Annotated[Scope, typer.Option("--kind", help="account or campaign")],
    subject: Annotated[str, typer.Option("--subject", help="Account id or campaign id.")],
    action: Annotated[Action, typer.Option("--action")],
    param: ParamOpt = None,
    note: NoteOpt = None,
    policy: PolicyOpt = None,
    snapshot: SnapshotOpt = None,
) -> None:
    """An analyst's own decision, active at once (a campaign's current members are recorded with it)."""
    with _open_store(store) as st:
        members: list[str] = []
        if kind is Scope.campaign:
            rows = (
                st.connection.execute("SELECT account_ids FROM campaigns WHERE campaign_id = ?", [subject]).fetchall()
                if "campaigns" in {r[0] for r in st.connection.execute("SHOW TABLES").fetchall()}
                else []
            )
            members = list(rows[0][0]) if rows else []
        d = dec.create(st, kind, subject, action, _params(param), actor, note, members)
        _export(st, snapshot, policy)
    _print([d], "added")


@decide_app.command("import-online")
def import_online_cmd(
    log_dir: Annotated[Path, typer.Argument(help="The gateway's log folder (holds online-links.log).")],
    store: StoreOpt,
    actor: Annotated[str, typer.Option("--actor", help="Recorded as the decider.")] = "gateway",
    policy: PolicyOpt = None,
    snapshot: SnapshotOpt = None,
) -> None:
    """Record the accounts the gateway linked to known campaigns online as decisions in the audit trail."""
    path = log_dir / "online-links.log"
    if not path.is_file():
        raise InputError(f"{path}: no such file (has the gateway linked any account yet?)")
    links = []
    for n, line in enumerate(path.read_bytes().splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise InputError(f"{path}:{n}: not JSON ({exc})") from None
        if not isinstance(rec, dict) or "account_id" not in rec or "campaign_id" not in rec:
            raise InputError(f"{path}:{n}: a link needs account_id and campaign_id")
        links.append(rec)
    with _open_store(store) as st:
        added = dec.record_online_links(st, links, actor)
        _export(st, snapshot, policy)
    _print(added, "linked online")


@decide_app.command("export")
def export_cmd(store: StoreOpt, policy: PolicyOpt = None, snapshot: SnapshotOpt = None) -> None:
    """Rewrite the enforcement snapshot the gateway reloads."""
    with _open_store(store, read_only=True) as st:
        path = _export(st, snapshot, policy)
    Console().print(f"snapshot {path}")


@decide_app.command("check-policy")
def check_cmd(policy: Annotated[Path, typer.Argument(help="Policy file (TOML).")]) -> None:
    """Validate a policy file and run each rule's match / no-match examples."""
    pol = load_policy(policy)
    failures = check_examples(pol)
    for f in failures:
        Console(stderr=True, soft_wrap=True).print(f"[red]{f}[/]", highlight=False)
    if failures:
        raise typer.Exit(1)
    Console().print(f"{policy}: {len(pol.rules)} rules, all examples pass")
