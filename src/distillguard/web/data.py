"""What the dashboard pages show, read from the store through short-lived connections.

DuckDB lets one process write a file, and a reader in another process only while nobody writes. The
dashboard therefore never holds the store open: each request opens it (read-only to read, writable for a
decision or a label) and closes it before answering; a lock serialises this process's own requests.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from distillguard.errors import InputError, StoreError
from distillguard.policy import Decision
from distillguard.policy import decisions as dec
from distillguard.report import build_report
from distillguard.report.model import payment_label
from distillguard.report.results import Results, arrow, has_table
from distillguard.store import Store
from distillguard.web import labels as lab
from distillguard.web.graph import link_graph

EXCHANGES_SHOWN = 50
TEXT_SHOWN = 4000
SORT_KEYS = ("campaign_id", "risk", "accounts", "exchanges", "first_seen", "last_seen", "capability", "status")


class Gate:
    """The store, opened per use; one use at a time within this process."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.RLock()

    @contextmanager
    def read(self) -> Iterator[Store]:
        with self.lock:
            try:
                store = Store.open(self.path, read_only=True)
            except StoreError as exc:
                raise StoreError(f"{exc} (another process may be writing to it; try again shortly)") from None
            with store:
                yield store

    @contextmanager
    def write(self) -> Iterator[Store]:
        with self.lock:
            try:
                store = Store.open(self.path)
            except StoreError as exc:
                raise StoreError(f"{exc} (another process may hold it open; try again shortly)") from None
            with store:
                yield store


def _results(store: Store, cid: str | None = None) -> Results:
    """The analysis tables as report ``Results``: all campaigns and no accounts (the list page), or one
    campaign and its accounts; never the whole accounts table, which has a row per customer."""
    con = store.connection
    for name in ("accounts", "campaigns"):
        if not has_table(con, name):
            raise InputError(f"{store.path}: no {name} table (run `distillguard analyze ... --store` first)")
    if cid is None:
        accounts, campaigns = arrow(con, "SELECT * FROM accounts LIMIT 0"), arrow(con, "SELECT * FROM campaigns")
    else:
        accounts = arrow(con, "SELECT * FROM accounts WHERE campaign_id = ?", [cid])
        campaigns = arrow(con, "SELECT * FROM campaigns WHERE campaign_id = ?", [cid])
    return Results(store.path.parent, accounts, campaigns, None, {}, store.path)


def _status(decisions: list[Decision], kind: str, subject: str) -> str:
    live = [d for d in decisions if d.subject_kind.value == kind and d.subject_id == subject]
    if not live:
        return "none"
    order = {"active": 0, "proposed": 1}
    d = min(live, key=lambda d: (order.get(d.status.value, 2), d.action.value != "suspend"))
    return f"{d.action.value} ({d.status.value})"


def campaign_list(
    gate: Gate, q: str = "", sort: str = "risk", desc: bool = True, min_risk: float = 0.0
) -> list[dict[str, Any]]:
    """Campaign rows for the list page, filtered (text in id, capability, evidence; minimum risk) and sorted."""
    with gate.read() as store:
        campaigns = _results(store).campaign_rows()
        decisions = dec.current_decisions(store)
        labels = lab.current_labels(store)
    rows = []
    needle = q.strip().lower()
    for c in campaigns:
        caps = c.get("capabilities") or []
        row = {
            "campaign_id": c["campaign_id"],
            "risk": float(c.get("risk") or 0.0),
            "accounts": int(c.get("accounts") or 0),
            "exchanges": int(c.get("exchanges") or 0),
            "first_seen": c.get("first_seen"),
            "last_seen": c.get("last_seen"),
            "capability": caps[0]["name"] if caps else "",
            "status": _status(decisions, "campaign", c["campaign_id"]),
            "labelled": sum(1 for a in c.get("account_ids") or [] if a in labels),
        }
        text = " ".join([row["campaign_id"], *(x["name"] for x in caps), *(c.get("evidence") or [])]).lower()
        if row["risk"] >= min_risk and (not needle or needle in text):
            rows.append(row)
    key = sort if sort in SORT_KEYS else "risk"
    present = [r for r in rows if r[key] is not None]
    present.sort(key=lambda r: (r[key], r["campaign_id"]), reverse=desc)
    return present + [r for r in rows if r[key] is None]


def campaign_detail(gate: Gate, cid: str) -> dict[str, Any]:
    """The report's data for one campaign plus its link graph, decisions, audit entries and labels."""
    with gate.read() as store:
        results = _results(store, cid)
        if results.campaigns.num_rows == 0:
            raise LookupError(cid)
    # build_report opens the store itself (read-only, then closes it); the gate's lock is re-entrant.
    with gate.lock:
        report = build_report(results)
        with gate.read() as store:
            c = report["campaigns"][0]
            members = c.get("account_ids") or []
            acc = results.accounts
            risk = dict(zip(acc["account_id"].to_pylist(), acc["risk"].to_pylist(), strict=True))
            graph = link_graph(store.connection, [(a, float(risk.get(a) or 0.0)) for a in members])
            decisions = [
                d
                for d in dec.current_decisions(store, include_lifted=True)
                if (d.subject_kind.value == "campaign" and d.subject_id == cid) or d.subject_id in members
            ]
            audit = [e for d in decisions for e in dec.audit_trail(store, d.decision_id)]
            labels = lab.current_labels(store)
    audit.sort(key=lambda e: (e["decided_at"], e["entry_id"]), reverse=True)
    return {
        "c": c,
        "report": report,
        "graph": graph,
        "risk": risk,
        "decisions": decisions,
        "audit": audit,
        "labels": {a: labels[a] for a in members if a in labels},
    }


def account_detail(gate: Gate, aid: str) -> dict[str, Any]:
    with gate.read() as store:
        con = store.connection
        has_accounts = has_table(con, "accounts")
        row = arrow(con, "SELECT * FROM accounts WHERE account_id = ?", [aid]).to_pylist() if has_accounts else []
        n = con.execute("SELECT count(*) FROM exchanges WHERE account_id = ?", [aid]).fetchall()[0][0]
        if not row and not n:
            raise LookupError(aid)
        timeline = con.execute(
            "SELECT time_bucket(INTERVAL '6 hours', ts) AS t, model, count(*) AS n FROM exchanges "
            "WHERE account_id = ? GROUP BY ALL ORDER BY t",
            [aid],
        ).fetchall()
        fam = "f.capability, f.family_id" if has_table(con, "fp_exchanges") else "NULL, NULL"
        join = "LEFT JOIN fp_exchanges f USING (request_id)" if has_table(con, "fp_exchanges") else ""
        cur = con.execute(
            f"""SELECT e.request_id, e.ts, e.model, e.client_ip, e.user_agent, e.status, e.output_tokens, {fam},
                       left(e.system_text, {TEXT_SHOWN}), left(e.first_user_text, {TEXT_SHOWN}),
                       left(e.request_body, {TEXT_SHOWN}), left(e.response_body, {TEXT_SHOWN})
                FROM exchanges e {join} WHERE e.account_id = ? ORDER BY e.ts DESC LIMIT {EXCHANGES_SHOWN}""",
            [aid],
        )
        cols = [
            "request_id",
            "ts",
            "model",
            "client_ip",
            "user_agent",
            "status",
            "output_tokens",
            "capability",
            "family_id",
            "system_text",
            "user_text",
            "request_body",
            "response_body",
        ]
        exchanges = [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
        links = []
        if has_table(con, "link_incidence"):
            links = [
                dict(zip(("kind", "key", "n_accounts", "weight"), r, strict=True))
                for r in con.execute(
                    "SELECT kind, key, n_accounts, weight FROM link_incidence WHERE account_id = ? "
                    "ORDER BY weight DESC, kind, key LIMIT 40",
                    [aid],
                ).fetchall()
            ]
            for link in links:
                if link["kind"] == "payment":  # pages never print a raw payment fingerprint
                    link["key"] = payment_label(str(link["key"]))
        decisions = [d for d in dec.current_decisions(store, include_lifted=True) if d.subject_id == aid]
        audit = [e for d in decisions for e in dec.audit_trail(store, d.decision_id)]
        labels = lab.label_history(store, [aid])
    audit.sort(key=lambda e: (e["decided_at"], e["entry_id"]), reverse=True)
    return {
        "account": row[0] if row else {"account_id": aid},
        "n_exchanges": int(n),
        "timeline": timeline,
        "exchanges": exchanges,
        "links": links,
        "decisions": decisions,
        "audit": audit,
        "labels": labels,
    }


def decisions_page(gate: Gate) -> dict[str, Any]:
    with gate.read() as store:
        decisions = dec.current_decisions(store, include_lifted=True)
        audit = dec.audit_trail(store)
    audit.sort(key=lambda e: (e["decided_at"], e["entry_id"]), reverse=True)
    return {"decisions": sorted(decisions, key=lambda d: d.at, reverse=True), "audit": audit[:200]}


def campaign_members(store: Store, cid: str) -> list[str]:
    if not has_table(store.connection, "campaigns"):
        return []
    rows = store.connection.execute("SELECT account_ids FROM campaigns WHERE campaign_id = ?", [cid]).fetchall()
    return list(rows[0][0] or []) if rows else []
