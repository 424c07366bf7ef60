"""The enforcement snapshot: everything the gateway needs, in one JSON file written atomically.

The gateway never holds the DuckDB store open (one writing process per file: it would block ``analyze``
and ``decide``). Instead every command that changes decisions rewrites this snapshot (temporary file,
fsync, rename), and the gateway reloads it when it changes. Contents (``FORMAT``):

* ``decisions``: the active decisions (id, subject kind and id, action, params, rule); a campaign
  decision's subject is its campaign key (``campaign_keys``);
* ``campaign_members``: for each campaign with an active decision, its accounts (those recorded with the
  decision, plus the current members when the latest analysis still finds the same campaign);
* ``indicators``: per campaign, infrastructure keys (``net`` /24 or /48, ``payment`` fingerprint,
  ``user_agent``) that at least ``min_purity`` of their accounts share with the campaign;
* ``families``: per campaign, template families (MinHash signatures) its members use and outsiders
  rarely do; ``fingerprint``: the MinHash parameters those signatures were made with;
* ``api_keys``: keyed hash of an API key -> account (from a ``api_keys`` table, when the store has one).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import pyarrow as pa

from distillguard.errors import InputError
from distillguard.fingerprint.config import FingerprintConfig
from distillguard.policy.decisions import current_decisions, same_campaign
from distillguard.policy.model import Decision, OnlineSettings, Scope, Status
from distillguard.sqlconn import registered

if TYPE_CHECKING:
    from distillguard.store import Store

log = logging.getLogger(__name__)

FORMAT = "distillguard-enforcement/1"


def default_snapshot_path(store_path: str | os.PathLike[str]) -> Path:
    """``store.duckdb`` -> ``store.enforcement.json`` beside it."""
    p = Path(store_path)
    return p.with_name(p.stem + ".enforcement.json")


def _tables(store: Store) -> set[str]:
    rows = store.connection.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
    ).fetchall()
    return {r[0] for r in rows}


def campaign_keys(store: Store, decisions: Sequence[Decision]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Group the campaign decisions into campaigns: (decision id -> campaign key, campaign key -> members).

    A campaign's members are those recorded with its decisions plus today's members of the campaign of
    that id when the latest analysis still finds the same group (campaign ids are per analysis run). Two
    different groups decided under one id get distinct keys (``C001`` and ``C001~<decision>``).
    """
    tables = _tables(store)
    current: dict[str, list[str]] = {}
    if "campaigns" in tables:
        for cid, ids in store.connection.execute("SELECT campaign_id, account_ids FROM campaigns").fetchall():
            current[cid] = list(ids or [])
    keys: dict[str, str] = {}
    members: dict[str, set[str]] = {}
    for d in sorted((d for d in decisions if d.subject_kind is Scope.campaign), key=lambda d: d.at):
        now = current.get(d.subject_id, [])
        group = set(d.members) | (set(now) if same_campaign(d.members, now) or not d.members else set())
        candidates = [k for k in members if k == d.subject_id or k.startswith(d.subject_id + "~")]
        key = next((k for k in candidates if same_campaign(sorted(members[k]), sorted(group))), None)
        if key is None:
            key = d.subject_id if d.subject_id not in members else f"{d.subject_id}~{d.decision_id[1:7]}"
        keys[d.decision_id] = key
        members.setdefault(key, set()).update(group)
    return keys, {k: sorted(v) for k, v in members.items()}


def _membership(members: Mapping[str, Sequence[str]]) -> pa.Table:
    cids = [c for c, accts in members.items() for _ in accts]
    accts = [a for m in members.values() for a in m]
    return pa.table({"campaign_id": pa.array(cids, pa.string()), "account_id": pa.array(accts, pa.string())})


_KEYS_SQL = """
WITH keys AS (
    SELECT DISTINCT account_id, 'net' AS kind, client_net AS key FROM exchanges WHERE client_net IS NOT NULL
    UNION ALL
    SELECT DISTINCT account_id, 'payment', payment_fingerprint FROM exchanges WHERE payment_fingerprint IS NOT NULL
    UNION ALL
    SELECT DISTINCT account_id, 'user_agent', user_agent FROM exchanges WHERE user_agent IS NOT NULL
), totals AS (SELECT kind, key, count(*) AS n_all FROM keys GROUP BY ALL)
SELECT m.campaign_id, k.kind, k.key, count(*) AS n_in, any_value(t.n_all) AS n_all
FROM keys k JOIN _members m USING (account_id) JOIN totals t USING (kind, key)
GROUP BY ALL HAVING n_in >= ? AND n_in >= ? * n_all
ORDER BY m.campaign_id, k.kind, k.key
"""

_FAMILIES_SQL = """
WITH fam AS (
    SELECT DISTINCT e.account_id, f.family_id FROM fp_exchanges f JOIN exchanges e USING (request_id)
), totals AS (SELECT family_id, count(*) AS n_all FROM fam GROUP BY ALL),
hits AS (
    SELECT m.campaign_id, fam.family_id, count(*) AS n_in, any_value(t.n_all) AS n_all
    FROM fam JOIN _members m USING (account_id) JOIN totals t USING (family_id)
    GROUP BY ALL HAVING n_in >= ? AND n_in >= ? * n_all
)
SELECT h.campaign_id, h.family_id, h.n_in, h.n_all, ff.signature
FROM hits h JOIN fp_families ff USING (family_id)
WHERE ff.signature IS NOT NULL AND len(ff.signature) > 0
ORDER BY h.campaign_id, h.n_in DESC, h.family_id
"""


def campaign_indicators(
    store: Store, members: Mapping[str, Sequence[str]], online: OnlineSettings
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(infrastructure indicators, family signatures) of each campaign, kept only when specific to it."""
    tables = _tables(store)
    if not members or "exchange_rows" not in tables:
        return [], []
    con = store.connection
    with registered(con, {"_members": _membership(members)}):
        rows = con.execute(_KEYS_SQL, [online.min_accounts, online.min_purity]).fetchall()
        indicators = [
            {"campaign_id": c, "kind": k, "key": key, "accounts": n_in, "purity": round(n_in / n_all, 4)}
            for c, k, key, n_in, n_all in rows
        ]
        families: list[dict[str, Any]] = []
        if {"fp_exchanges", "fp_families"} <= tables:
            for c, fid, n_in, n_all, sig in con.execute(
                _FAMILIES_SQL, [online.min_accounts, online.min_purity]
            ).fetchall():
                families.append(
                    {
                        "campaign_id": c,
                        "family_id": str(fid),
                        "accounts": n_in,
                        "purity": round(n_in / n_all, 4),
                        "signature": list(sig),
                    }
                )
    return indicators, families


def build_snapshot(store: Store, online: OnlineSettings) -> dict[str, Any]:
    """The enforcement snapshot of a store (see the module docstring)."""
    decisions = [d for d in current_decisions(store) if d.status is Status.active]
    tables = _tables(store)
    keys, members = campaign_keys(store, decisions)
    indicators, families = campaign_indicators(store, members, online)
    api_keys: dict[str, str] = {}
    if "api_keys" in tables:
        api_keys = dict(store.connection.execute("SELECT key_hash, account_id FROM api_keys").fetchall())
    from distillguard.fingerprint.sketch import MINHASH  # the compiled kernels, only when a snapshot is built

    cfg = FingerprintConfig()
    return {
        "format": FORMAT,
        "generated_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "decisions": [
            {
                "decision_id": d.decision_id,
                "subject_kind": d.subject_kind.value,
                "subject_id": keys.get(d.decision_id, d.subject_id),
                "action": d.action.value,
                "params": dict(d.params),
                "rule": d.rule,
            }
            for d in decisions
        ],
        "campaign_members": members,
        "indicators": indicators,
        "families": families,
        "fingerprint": {
            "num_perm": cfg.num_perm,
            "seed": cfg.seed,
            "minhash": MINHASH,
            "shingle_size": cfg.shingle_size,
            "text_cap": cfg.text_cap,
        },
        "api_keys": api_keys,
    }


def write_snapshot(path: str | os.PathLike[str], snapshot: Mapping[str, Any]) -> Path:
    """Write atomically: a reader sees the old file or the new one, never half of one."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    data = orjson.dumps(snapshot)
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path


def read_snapshot(path: str | os.PathLike[str]) -> dict[str, Any]:
    path = Path(path)
    try:
        data = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise InputError(f"{path}: cannot read enforcement snapshot ({exc.strerror})") from None
    except orjson.JSONDecodeError as exc:
        raise InputError(f"{path}: not a valid enforcement snapshot ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputError(f"{path}: not an enforcement snapshot (expected format {FORMAT})")
    return data


def export_snapshot(store: Store, path: str | os.PathLike[str], online: OnlineSettings) -> Path:
    snap = build_snapshot(store, online)
    log.info(
        "snapshot %s: %d decisions, %d indicators, %d families",
        path,
        len(snap["decisions"]),
        len(snap["indicators"]),
        len(snap["families"]),
    )
    return write_snapshot(path, snap)
