"""Replay: when would each account first have been flagged, had the detector run every ``step``?

One aggregation pass groups exchanges by (account, time bucket); the replay then walks the buckets in
order, adding each bucket's counts to running totals and evaluating the same rules on the running
shares. Cost: one pass over the log plus (checkpoints × accounts) vector work, not one analysis per step.

What the replay knows in hindsight (documented in docs/detection.md): the final clustering and its shared
template families, slow-moving cluster attributes (payment sharing, organisations, creation bursts,
synchrony, infrastructure counts; the account rules read some through ``score.CLUSTER_CONTEXT``), and the
account features with no running count here (``fabricated_distinct_share``, timing). Everything volume-
or content-based is recomputed at each checkpoint from the exchanges seen so far, so an account is never
flagged before it has sent the traffic that condemns it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from distillguard.features.account import CAPABILITIES, HIGH_VALUE
from distillguard.features.flags import EXCHANGE_FLAGS, FABRICATED, N_TOOLS, OWN_PROMPT, reply_key
from distillguard.scoring.rules import RuleSet, columns_of, risk_from_points, rule_columns, rule_points
from distillguard.scoring.score import Scores, identity_context, membership, off_pool, rotation_context
from distillguard.sqlconn import SqlConnection, registered

_FLAGS = {
    **{name: EXCHANGE_FLAGS[name] for name in ("cot", "reconstruction", "coercion", "rubric", "rewrite")},
    **{name: EXCHANGE_FLAGS[name] for name in ("refusal_probe", "single_turn")},
    "history": "context_digest IS NOT NULL",
    "fabricated": FABRICATED,
    **{name: EXCHANGE_FLAGS[name] for name in ("tools_offered", "tool_result", "thinking", "large_budget", "image")},
    "high_value": "capability IN ({high_value})",
    "core": "core.family_id IS NOT NULL",
    "core_prompt": f"core.family_id IS NOT NULL AND ({OWN_PROMPT})",
    **{f"cap_{c}": f"capability = '{c}'" for c in CAPABILITIES},
}
"""Running counts per (account, bucket): the shared exchange flags plus what only the replay needs."""

# ``replies`` holds each account's received reply digests as one 64-bit key per (account, digest) pair
# (``flags.reply_key``), not the account id string beside the digest: a smaller set to build and to join
# against (4M bench store: 4.8 -> 4.3 s with the account's hash beside the digest, ~4.1 -> ~3.9 s with one key).
_SQL = """
WITH x AS (
  SELECT e.*, {n_tools}, f.family_id, f.capability, f.cot_elicitation, f.reasoning_reconstruction, f.trace_coercion,
         f.rubric_grading, f.sensitive_rewrite, f.refusal_probe, a.cluster_id
  FROM {ex} e JOIN {fp} f USING ({key}) JOIN acc a USING (account_id)
),
replies AS (SELECT DISTINCT {reply} AS d FROM x WHERE reply_digest IS NOT NULL)
SELECT x.account_id, CAST(floor((epoch(ts) - {t0}) / {step}) AS BIGINT) AS b, count(*) AS n, {sums}
FROM x LEFT JOIN core USING (cluster_id, family_id)
LEFT JOIN replies rp ON rp.d = {context}
GROUP BY ALL ORDER BY b
"""


def _bucket_counts(
    con: SqlConnection,
    acc: pa.Table,
    core: pa.Table,
    *,
    exchanges: str,
    fp: str,
    key: str,
    t0: float,
    step: float,
    rules: RuleSet,
) -> pa.Table:
    # BIGINT: DuckDB sums integers into HUGEINT, which reaches Arrow as decimal128 and numpy as one Python
    # Decimal per value (the conversion cost as much as the query).
    sums = ", ".join(
        f"CAST(sum(CASE WHEN {expr} THEN 1 ELSE 0 END) AS BIGINT) AS {name}" for name, expr in _FLAGS.items()
    ).format(
        large_budget=int(rules.setting("large_thinking_budget")),
        high_value=", ".join(f"'{c}'" for c in HIGH_VALUE),
    )
    sql = _SQL.format(
        ex=exchanges,
        fp=fp,
        key=key,
        t0=t0,
        step=step,
        sums=sums,
        n_tools=N_TOOLS,
        reply=reply_key("account_id", "reply_digest"),
        context=reply_key("x.account_id", "x.context_digest"),
    )
    with registered(con, {"acc": acc.select(["account_id", "cluster_id"]), "core": core}):
        return con.sql(sql).to_arrow_table()


# Running shares that account rules and cluster rules both read: share column -> count it divides.
_SHARED = {
    "cot_share": "cot",
    "reconstruction_share": "reconstruction",
    "coercion_share": "coercion",
    "rubric_share": "rubric",
    "rewrite_share": "rewrite",
    "single_turn_share": "single_turn",
    "fabricated_share": "fabricated",
    "thinking_share": "thinking",
    "large_budget_share": "large_budget",
    "tool_result_share": "tool_result",
    "tools_offered_share": "tools_offered",
    "high_value_share": "high_value",
}


def _shares(col: dict[str, np.ndarray], n: np.ndarray) -> dict[str, object]:
    """The shares both views carry, from running counts ``col`` over ``n`` exchanges."""
    safe = np.maximum(n, 1.0)
    out: dict[str, object] = {share: col[count] / safe for share, count in _SHARED.items()}
    out["standalone_share"] = (col["single_turn"] + col["fabricated"]) / safe
    return out


Columns = dict[str, np.ndarray]
"""A view as the rules read it: column name -> one value per row (``rules.columns_of``)."""


def _account_view(cum: np.ndarray, names: list[str], static: Columns) -> Columns:
    n = cum[:, 0]
    safe = np.maximum(n, 1.0)
    col = {name: cum[:, i + 1] for i, name in enumerate(names)}
    caps = np.stack([col[f"cap_{c}"] for c in CAPABILITIES], axis=1)
    top = caps.argmax(axis=1)
    data: dict[str, object] = {
        **static,  # final values of what does not move; the running values below replace the rest
        # Accounts with no traffic yet must match nothing: their volume is null, so no rule fires.
        "n_exchanges": np.where(n > 0, n, np.nan),
        **_shares(col, n),
        "refusal_probe_share": col["refusal_probe"] / safe,
        "history_share": col["history"] / safe,
        "continuity_share": np.where(
            col["history"] > 0, (col["history"] - col["fabricated"]) / np.maximum(col["history"], 1), np.nan
        ),
        "tool_loop_ratio": np.where(
            col["tools_offered"] > 0, col["tool_result"] / np.maximum(col["tools_offered"], 1), 0
        ),
        "image_share": col["image"] / safe,
        "top_capability_share": caps.max(axis=1) / safe,
        "top_capability": np.array(CAPABILITIES, dtype=object)[top],
        "affinity": col["core"] / safe,
    }
    return {k: np.asarray(v) for k, v in data.items()}


def _cluster_view(cum: np.ndarray, names: list[str], cid: np.ndarray, n_clusters: int, static: Columns) -> Columns:
    sums = np.zeros((n_clusters, cum.shape[1]))
    np.add.at(sums, cid, cum)
    seen = np.bincount(cid, weights=(cum[:, 0] > 0).astype(np.float64), minlength=n_clusters)
    n = sums[:, 0]
    col = {name: sums[:, i + 1] for i, name in enumerate(names)}
    top = np.zeros(n_clusters)  # the largest running count of fabricated histories of one member
    np.maximum.at(top, cid, cum[:, 1 + names.index("fabricated")])
    data: dict[str, object] = {
        **static,
        "n_accounts": np.where(seen > 0, seen, np.nan),
        "n_exchanges": n,
        "exchanges_per_account": n / np.maximum(seen, 1.0),
        "core_family_share": col["core"] / np.maximum(n, 1.0),
        **_shares(col, n),
        "fabricated_top_share": np.where(col["fabricated"] > 0, top / np.maximum(col["fabricated"], 1.0), np.nan),
    }
    return {k: np.asarray(v) for k, v in data.items()}


_BLOCK_ROWS = 1 << 16
"""(checkpoint, account) rows evaluated at once by the replay (bounded memory: ~50 columns of doubles; at 4M
exchanges 2^18 rows a block peaked 0.25 GiB above the replay's counts query, docs/design/memory.md)."""


def _tiled(cols: Columns, times: int) -> Columns:
    return {k: np.tile(v, times) for k, v in cols.items()}


def first_flagged(
    con: SqlConnection,
    scores: Scores,
    rules: RuleSet,
    *,
    step: timedelta,
    exchanges: str = "exchanges",
    fp: str = "fp_exchanges",
    key: str = "request_id",
    then: Callable[[], object] | None = None,
) -> pa.Table:
    """account_id, first_flagged_at for the accounts of every cluster that holds a flagged account (``key``:
    the column joining ``exchanges`` to ``fp``, see ``features.account_features``). ``then`` is called once the
    bucket counts are read, before the checkpoints are walked (Python on one core: ``analyze`` starts a query
    beside it there), or before returning where no cluster is flagged."""
    accounts, clusters = scores.accounts, scores.clusters
    flagged_clusters = set(accounts.filter(accounts["flagged"])["cluster_id"].to_pylist())
    if not flagged_clusters:
        if then is not None:
            then()
        return pa.table(
            {
                "account_id": pa.array([], pa.string()),
                "first_flagged_at": pa.array([], pa.timestamp("us", tz="UTC")),
                "first_flag_rules": pa.array([], pa.list_(pa.string())),
            }
        )
    mask = pa.array([c in flagged_clusters for c in accounts["cluster_id"].to_pylist()])
    acc = accounts.filter(mask)
    t0 = float(con.sql(f"SELECT epoch(min(ts)) AS t FROM {exchanges}").to_arrow_table()["t"][0].as_py())
    step_s = step.total_seconds()
    counts = _bucket_counts(con, acc, scores.core, exchanges=exchanges, fp=fp, key=key, t0=t0, step=step_s, rules=rules)
    if then is not None:
        then()
    names = list(_FLAGS)
    ids = acc["account_id"].to_pylist()
    cl_ids = sorted(flagged_clusters)
    cl_row = {c: i for i, c in enumerate(cl_ids)}
    cid = np.array([cl_row[c] for c in acc["cluster_id"].to_pylist()], dtype=np.int64)
    cl_static = clusters.filter(pa.array([c in flagged_clusters for c in clusters["cluster_id"].to_pylist()]))
    cl_static = cl_static.take(np.argsort([cl_row[c] for c in cl_static["cluster_id"].to_pylist()]))
    acc_static = acc.drop_columns([c for c in acc.column_names if c in ("risk", "flagged", "evidence")])

    rows = pc.index_in(counts["account_id"], value_set=acc["account_id"]).to_numpy(zero_copy_only=False)
    rows = rows.astype(np.int64)  # every counted account is one of ``acc`` (the SQL joins it)
    buckets = counts["b"].to_numpy()
    values = np.stack([counts[c].to_numpy().astype(np.float64) for c in ["n", *names]], axis=1)
    cum = np.zeros((len(ids), len(names) + 1))
    first = np.full(len(ids), -1, dtype=np.int64)
    center, slope = float(rules.setting("risk_center")), float(rules.setting("risk_slope"))
    threshold = float(rules.setting("flag_threshold"))
    size = acc_static["cluster_size"].to_numpy().astype(np.float64)
    tied, group = identity_context(acc_static, cl_static, cid)
    rotation, cluster_rotation, n_final = rotation_context(acc_static, cid)  # final values (hindsight)
    stays = off_pool(rotation, cluster_rotation, n_final, rules)
    reasons: list[list[str] | None] = [None] * len(ids)
    # The final (static) values the rules read, converted once; each checkpoint replaces the running ones.
    acc_cols = columns_of(acc_static, rule_columns(rules.account))
    cl_cols = columns_of(cl_static, rule_columns(rules.campaign))
    # Checkpoints (the buckets where some account had traffic) are evaluated a block at a time: the
    # running totals of a block's checkpoints are stacked into one (checkpoints x accounts) table, so the
    # rules run once per block instead of once per checkpoint (every rule is row-wise; the cluster view
    # sums per (checkpoint, cluster)). Counts are integers: the running sums are exact either way.
    new_ck = np.diff(buckets, prepend=buckets[:1] - 1) != 0  # a row opening a checkpoint (rows are by bucket)
    starts = np.flatnonzero(new_ck)
    ck_of_row = np.cumsum(new_ck) - 1
    bounds = np.r_[starts, len(buckets)]
    n, n_cl, width = len(ids), len(cl_ids), len(names) + 1
    per_block = max(1, _BLOCK_ROWS // max(n, 1))
    for k0 in range(0, len(starts), per_block):
        k1 = min(len(starts), k0 + per_block)
        r0, r1 = int(bounds[k0]), int(bounds[k1])
        delta = np.zeros((k1 - k0, n, width))
        np.add.at(delta, (ck_of_row[r0:r1] - k0, rows[r0:r1]), values[r0:r1])
        block = cum[None, :, :] + np.cumsum(delta, axis=0)
        cum = block[-1].copy()
        m = k1 - k0
        flat = block.reshape(m * n, width)
        cids = (cid[None, :] + (np.arange(m) * n_cl)[:, None]).ravel()
        av = _account_view(flat, names, _tiled(acc_cols, m))
        a_points = rule_points(av, m * n, rules.account)
        cv = _cluster_view(flat, names, cids, m * n_cl, _tiled(cl_cols, m))
        c_points = rule_points(cv, m * n_cl, rules.campaign)
        aff = np.nan_to_num(av["affinity"].astype(np.float64))
        core_prompts = flat[:, 1 + names.index("core_prompt")]
        member = membership(
            aff, np.tile(size, m), np.tile(tied, m), np.tile(group, m), rules, core_prompts, a_points, np.tile(stays, m)
        )
        risk = np.maximum(
            risk_from_points(a_points, center, slope), risk_from_points(c_points, center, slope)[cids] * member
        )
        hit = ((risk > threshold) & (flat[:, 0] > 0)).reshape(m, n) & (first < 0)[None, :]
        newly = np.flatnonzero(hit.any(axis=0))
        if len(newly) == 0:
            continue
        at_ck = hit.argmax(axis=0)[newly]  # each account's first checkpoint over the threshold
        first[newly] = buckets[starts[k0 + at_ck]]
        idx = at_ck * n + newly
        for i, held in zip(newly.tolist(), _why(av, cv, idx, cids[idx], member[idx], rules), strict=True):
            reasons[i] = held
    # Accounts flagged by the full analysis but never by the replay (their condemning evidence is only
    # visible in hindsight) are dated at the end of the log: the analysis itself is what flagged them.
    last = int(buckets.max()) if len(buckets) else 0
    final = np.array(acc["flagged"].to_pylist(), dtype=bool)
    first = np.where((first < 0) & final, last, first)
    at = [None if b < 0 else int((t0 + (b + 1) * step_s) * 1e6) for b in first]
    hindsight = ["flagged by the full analysis only: no checkpoint of the replay reached the threshold"]
    why: list[list[str] | None] = [
        r if r is not None else (hindsight if b >= 0 else None) for r, b in zip(reasons, first.tolist(), strict=True)
    ]
    return pa.table(
        {
            "account_id": pa.array(ids),
            "first_flagged_at": pa.array(at, pa.timestamp("us", tz="UTC")),
            "first_flag_rules": pa.array(why, pa.list_(pa.string())),
        }
    )


def _why(
    av: Columns, cv: Columns, idx: np.ndarray, cl_idx: np.ndarray, member: np.ndarray, rules: RuleSet
) -> list[list[str]]:
    """The rules that held at the checkpoint where accounts ``idx`` were first flagged: their own, then
    their cluster's (rows ``cl_idx``) with the share of its risk each account carried."""
    n = len(idx)
    own = {k: v[idx] for k, v in av.items()}
    cl = {k: v[cl_idx] for k, v in cv.items()}
    out: list[list[str]] = [[] for _ in range(n)]
    for rule in rules.account:
        for j in np.flatnonzero(rule.mask(own, n)).tolist():
            out[j].append(f"{rule.name} ({rule.points:+g})")
    for rule in rules.campaign:
        for j in np.flatnonzero(rule.mask(cl, n) & (member > 0)).tolist():
            out[j].append(f"cluster: {rule.name} ({rule.points:+g})")
    for j in np.flatnonzero(member > 0).tolist():
        out[j].append(f"carried {member[j]:.0%} of its cluster's risk")
    return out
