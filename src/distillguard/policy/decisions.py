"""Decisions in the store: an append-only audit table; a decision's state is its latest entry.

Table ``decision_audit`` (one row per event, never updated or deleted): entry_id, decision_id,
subject_kind ('account' | 'campaign'), subject_id, action, params (JSON text), status ('proposed' |
'active' | 'lifted'), rule, reason, evidence (list of sentences), actor ('policy' or the analyst's
name), decided_at (UTC), members (the campaign's accounts at the time, campaign decisions only), event
('proposed', 'activated', 'approved', 'overridden', 'lifted', 'created', 'online_link'), note.

Lifting or overriding a decision appends an entry; nothing disappears. A decision an analyst has
touched is never changed by a later policy run (the analyst's word stands); the policy only adds
decisions it has not made before.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from distillguard.errors import InputError
from distillguard.policy.engine import Proposal, decision_id
from distillguard.policy.model import ACTION_PARAMS, Action, Decision, Scope, Status

POLICY_ACTOR = "policy"
TABLE = "decision_audit"
_DDL = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    entry_id VARCHAR NOT NULL,
    decision_id VARCHAR NOT NULL,
    subject_kind VARCHAR NOT NULL,
    subject_id VARCHAR NOT NULL,
    action VARCHAR NOT NULL,
    params VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    rule VARCHAR NOT NULL,
    reason VARCHAR NOT NULL,
    evidence VARCHAR[] NOT NULL,
    actor VARCHAR NOT NULL,
    decided_at TIMESTAMPTZ NOT NULL,
    members VARCHAR[] NOT NULL,
    event VARCHAR NOT NULL,
    note VARCHAR
)"""
_COLUMNS = (
    "entry_id, decision_id, subject_kind, subject_id, action, params, status, rule, reason, evidence, actor, "
    "decided_at, members, event, note"
)

if TYPE_CHECKING:
    from distillguard.store import Store


@dataclass(frozen=True)
class RunSummary:
    """What recording a policy run did."""

    added: int
    unchanged: int
    kept_by_analyst: int


def ensure_tables(store: Store) -> None:
    store.connection.execute(_DDL)


def _has_table(store: Store) -> bool:
    rows = store.connection.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main' AND table_name = ?", [TABLE]
    ).fetchall()
    return bool(rows and rows[0][0])


def _now() -> datetime:
    return datetime.now(UTC)


def _append(store: Store, rows: Sequence[tuple[Any, ...]]) -> None:
    if not rows:
        return
    ensure_tables(store)
    con = store.connection
    con.execute("BEGIN TRANSACTION")
    try:
        con.executemany(f"INSERT INTO {TABLE} ({_COLUMNS}) VALUES ({', '.join(['?'] * 15)})", list(rows))
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _row(
    d: Decision | Proposal, status: Status, actor: str, event: str, note: str | None, at: datetime | None = None
) -> tuple[Any, ...]:
    return (
        "E" + secrets.token_hex(8),
        d.decision_id,
        d.subject_kind.value,
        d.subject_id,
        d.action.value,
        json.dumps(dict(d.params), sort_keys=True),
        status.value,
        d.rule,
        d.reason,
        list(d.evidence),
        actor,
        at or _now(),
        list(d.members),
        event,
        note,
    )


def same_campaign(a: Sequence[str], b: Sequence[str]) -> bool:
    """Two member lists name the same campaign when they share at least half of the smaller one."""
    sa, sb = set(a), set(b)
    if not sa or not sb:
        return not sa and not sb
    return len(sa & sb) * 2 >= min(len(sa), len(sb))


def current_decisions(store: Store, include_lifted: bool = False) -> list[Decision]:
    """The state of every decision (its latest audit entry), oldest first."""
    if not _has_table(store):
        return []
    rows = store.connection.execute(
        "SELECT decision_id, subject_kind, subject_id, action, params, status, rule, reason, evidence, actor, "
        "decided_at, members FROM (SELECT *, row_number() OVER "
        f"(PARTITION BY decision_id ORDER BY decided_at DESC, entry_id DESC) AS rn FROM {TABLE}) "
        "WHERE rn = 1 ORDER BY decided_at, decision_id"
    ).fetchall()
    out = [
        Decision(
            decision_id=r[0],
            subject_kind=Scope(r[1]),
            subject_id=r[2],
            action=Action(r[3]),
            params=json.loads(r[4]),
            status=Status(r[5]),
            rule=r[6],
            reason=r[7],
            evidence=tuple(r[8]),
            actor=r[9],
            at=r[10],
            members=tuple(r[11]),
        )
        for r in rows
    ]
    return out if include_lifted else [d for d in out if d.status is not Status.lifted]


def decision(store: Store, did: str) -> Decision:
    for d in current_decisions(store, include_lifted=True):
        if d.decision_id == did:
            return d
    raise InputError(f"no decision {did!r} in {store.path}")


def audit_trail(store: Store, did: str | None = None) -> list[dict[str, Any]]:
    """Audit entries (all, or of one decision), oldest first, as plain dicts."""
    if not _has_table(store):
        return []
    where, args = ("WHERE decision_id = ?", [did]) if did else ("", [])
    cur = store.connection.execute(f"SELECT {_COLUMNS} FROM {TABLE} {where} ORDER BY decided_at, entry_id", args)
    names = [c[0] for c in cur.description or ()]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def record_proposals(store: Store, proposals: Sequence[Proposal]) -> RunSummary:
    """Append the policy's proposals that are new; leave decisions an analyst has touched alone."""
    latest = {d.decision_id: d for d in current_decisions(store, include_lifted=True)}
    rows, unchanged, kept = [], 0, 0
    at = _now()
    for p in proposals:
        old = latest.get(p.decision_id)
        if old is not None and p.subject_kind is Scope.campaign and not same_campaign(old.members, p.members):
            # Campaign ids are per analysis run: this C007 is another group than the decided one.
            did = decision_id(p.subject_kind, f"{p.subject_id}#{min(p.members, default='')}", p.rule)
            p = replace(p, decision_id=did)
            old = latest.get(did)
        elif old is not None and p.subject_kind is Scope.campaign:
            # The same campaign, grown: accounts once linked stay covered.
            p = replace(p, members=tuple(sorted(set(old.members) | set(p.members))))
        if old is None:
            event = "activated" if p.status is Status.active else "proposed"
            rows.append(_row(p, p.status, POLICY_ACTOR, event, None, at))
        elif old.actor != POLICY_ACTOR:
            kept += 1
        elif old.action is p.action and dict(old.params) == dict(p.params) and old.members == p.members:
            unchanged += 1
        else:
            # The rule changed (or the campaign grew): a new entry, same decision, same status.
            rows.append(_row(p, old.status, POLICY_ACTOR, "updated", None, at))
    _append(store, rows)
    return RunSummary(added=len(rows), unchanged=unchanged, kept_by_analyst=kept)


def approve(store: Store, did: str, actor: str, note: str | None = None) -> Decision:
    d = decision(store, did)
    if d.status is not Status.proposed:
        raise InputError(f"decision {did} is {d.status.value}, only a proposed decision can be approved")
    _append(store, [_row(d, Status.active, actor, "approved", note)])
    return decision(store, did)


def lift(store: Store, did: str, actor: str, note: str | None = None) -> Decision:
    d = decision(store, did)
    if d.status is Status.lifted:
        raise InputError(f"decision {did} is already lifted")
    _append(store, [_row(d, Status.lifted, actor, "lifted", note)])
    return decision(store, did)


def override(
    store: Store, did: str, actor: str, action: Action, params: Mapping[str, Any] | None, note: str | None = None
) -> Decision:
    """Replace a decision's action (and params) by an analyst's; the decision becomes active."""
    d = decision(store, did)
    checked = check_params(action, params or {})
    new = Decision(**{**d.__dict__, "action": action, "params": checked})
    _append(store, [_row(new, Status.active, actor, "overridden", note)])
    return decision(store, did)


def create(
    store: Store,
    kind: Scope,
    subject: str,
    action: Action,
    params: Mapping[str, Any] | None,
    actor: str,
    note: str | None = None,
    members: Sequence[str] = (),
) -> Decision:
    """An analyst's own decision on an account or campaign, active at once."""
    p = Proposal(
        decision_id=decision_id(kind, subject, f"manual:{actor}:{action.value}"),
        subject_kind=kind,
        subject_id=subject,
        action=action,
        params=check_params(action, params or {}),
        status=Status.active,
        rule=f"manual:{actor}",
        reason=note or f"set by {actor}",
        evidence=(),
        members=tuple(members),
    )
    _append(store, [_row(p, Status.active, actor, "created", note)])
    return decision(store, p.decision_id)


def record_online_links(store: Store, links: Sequence[Mapping[str, Any]], actor: str = "gateway") -> list[Decision]:
    """Put the gateway's online links into the audit trail as account decisions.

    Each link (``account_id``, ``campaign_id``, ``score``, ``evidence``, ``request_number``) gives the
    account every active decision of its campaign, as a decision of its own whose rule names the campaign
    decision and whose evidence is the indicators that matched; a campaign without an active decision
    gives ``monitor``. Idempotent: a link already recorded adds nothing.
    """
    known = {d.decision_id for d in current_decisions(store, include_lifted=True)}
    active = [d for d in current_decisions(store) if d.subject_kind is Scope.campaign and d.status is Status.active]
    rows: list[tuple[Any, ...]] = []
    new_ids: list[str] = []
    for link in links:
        account, campaign = str(link["account_id"]), str(link["campaign_id"])
        said = (
            f"linked online to campaign {campaign} at its request {link.get('request_number', '?')} "
            f"(indicator score {float(link.get('score', 0.0)):.2f})"
        )
        evidence = (said, *(str(e) for e in link.get("evidence", ())))
        parents: list[Decision | None] = [d for d in active if d.subject_id == campaign] or [None]
        for parent in parents:
            rule = f"online:{parent.decision_id}" if parent else f"online:{campaign}"
            p = Proposal(
                decision_id=decision_id(Scope.account, account, rule),
                subject_kind=Scope.account,
                subject_id=account,
                action=parent.action if parent else Action.monitor,
                params=dict(parent.params) if parent else {},
                status=Status.active,
                rule=rule,
                reason=said,
                evidence=evidence,
                members=(),
            )
            if p.decision_id in known:
                continue
            known.add(p.decision_id)
            rows.append(_row(p, Status.active, actor, "linked_online", None))
            new_ids.append(p.decision_id)
    _append(store, rows)
    return [decision(store, did) for did in new_ids]


def check_params(action: Action, params: Mapping[str, Any]) -> dict[str, Any]:
    allowed = ACTION_PARAMS[action]
    out = {}
    for key, value in params.items():
        if key not in allowed:
            raise InputError(f"action {action.value} takes no param {key!r} (takes: {sorted(allowed) or 'none'})")
        try:
            out[key] = allowed[key](value)
        except (TypeError, ValueError):
            raise InputError(f"param {key} must be {allowed[key].__name__}, got {value!r}") from None
    if action is Action.throttle and out.get("rate_per_minute", 1) < 1:
        raise InputError("rate_per_minute must be >= 1")
    return out
