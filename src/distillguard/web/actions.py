"""The analyst's decisions from the dashboard, written through the policy package's audit trail.

Each one appends audit entries (nothing is changed in place) and rewrites the enforcement snapshot the
gateway reloads, as ``distillguard decide`` does.
"""

from __future__ import annotations

from pathlib import Path

from distillguard.errors import InputError
from distillguard.policy import (
    Action,
    Decision,
    Scope,
    Status,
    default_policy,
    default_snapshot_path,
    export_snapshot,
    load_policy,
)
from distillguard.policy import decisions as dec
from distillguard.store import Store
from distillguard.web import labels as lab
from distillguard.web.data import Gate, campaign_members

DISMISS_NOTE = "dismissed as false positive"


def _scope(kind: str) -> Scope:
    try:
        return Scope(kind)
    except ValueError:
        raise InputError(f"unknown subject kind {kind!r} (account or campaign)") from None


def _snapshot(store: Store, snapshot: Path | None, policy: Path | None) -> None:
    online = (load_policy(policy) if policy is not None else default_policy()).online
    export_snapshot(store, snapshot or default_snapshot_path(store.path), online)


def _live(store: Store, kind: Scope, subject: str) -> list[Decision]:
    return [d for d in dec.current_decisions(store) if d.subject_kind is kind and d.subject_id == subject]


def _members(store: Store, kind: Scope, subject: str) -> list[str]:
    return campaign_members(store, subject) if kind is Scope.campaign else [subject]


class Actions:
    def __init__(self, gate: Gate, policy: Path | None = None, snapshot: Path | None = None) -> None:
        self.gate, self.policy, self.snapshot = gate, policy, snapshot

    def suspend(self, kind: str, subject: str, analyst: str, note: str | None) -> str:
        """Approve a proposed suspension of the subject, or create one; returns the decision id."""
        scope = _scope(kind)
        with self.gate.write() as store:
            members = _members(store, scope, subject)
            if scope is Scope.campaign and not members:
                raise InputError(f"no campaign {subject!r} in the store")
            pending = [d for d in _live(store, scope, subject) if d.action is Action.suspend]
            if pending and pending[0].status is Status.proposed:
                did = dec.approve(store, pending[0].decision_id, analyst, note).decision_id
            elif pending:
                did = pending[0].decision_id  # already suspended: nothing to add
            else:
                did = dec.create(
                    store, scope, subject, Action.suspend, {}, analyst, note, members if scope is Scope.campaign else ()
                ).decision_id
            _snapshot(store, self.snapshot, self.policy)
        return did

    def approve(self, did: str, analyst: str, note: str | None) -> None:
        with self.gate.write() as store:
            dec.approve(store, did, analyst, note)
            _snapshot(store, self.snapshot, self.policy)

    def lift(self, did: str, analyst: str, note: str | None) -> None:
        with self.gate.write() as store:
            dec.lift(store, did, analyst, note)
            _snapshot(store, self.snapshot, self.policy)

    def dismiss(self, kind: str, subject: str, analyst: str, note: str | None) -> int:
        """False positive: label the accounts, lift every live decision on the subject (and on its accounts).

        With no decision to lift, a monitor decision is created and lifted at once so the dismissal still
        stands in the audit trail. Returns the number of decisions lifted.
        """
        scope = _scope(kind)
        text = f"{DISMISS_NOTE}: {note}" if note else DISMISS_NOTE
        with self.gate.write() as store:
            members = _members(store, scope, subject)
            live = _live(store, scope, subject)
            if scope is Scope.campaign:
                live += [d for a in members for d in _live(store, Scope.account, a)]
            if not live:
                live = [
                    dec.create(
                        store,
                        scope,
                        subject,
                        Action.monitor,
                        {},
                        analyst,
                        text,
                        members if scope is Scope.campaign else (),
                    )
                ]
            for d in live:
                dec.lift(store, d.decision_id, analyst, text)
            lab.record_labels(store, members, "false_positive", analyst, note)
            _snapshot(store, self.snapshot, self.policy)
        return len(live)

    def label(self, kind: str, subject: str, label: str, analyst: str, note: str | None) -> int:
        scope = _scope(kind)
        with self.gate.write() as store:
            members = _members(store, scope, subject)
            if not members:
                raise InputError(f"no {scope.value} {subject!r} in the store")
            return lab.record_labels(store, members, label, analyst, note)
