"""Campaigns: the clusters that hold flagged accounts, described the way an incident report needs them."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from distillguard.scoring.score import Scores
from distillguard.sqlconn import SqlConnection, registered

ACCOUNT_OUTPUT = (
    "account_id",
    "risk",
    "flagged",
    "campaign_id",
    "first_flagged_at",
    "first_flag_rules",
    "evidence",
    "cluster_id",
    "account_risk",
    "campaign_risk",
    "affinity",
    "n_exchanges",
    "top_capability",
    "pathway",
    "country",
)

# The members' exchanges are picked (IN) before the joins: joined on the row key, DuckDB otherwise builds the
# fingerprint side whole and the query took 0.87 s instead of 0.62 s at 1M (the join itself is faster).
# ``x`` is counted once per (campaign, account, and every attribute described below): each summary sums those
# counts instead of reading every exchange again. 4M bench store: 2,944,845 exchanges -> 14,739 rows; DuckDB had
# streamed the exchanges to seventeen aggregates at once and filled its memory cap doing it.
_SQL = """
WITH m AS (SELECT account_id, campaign_id FROM members),
x AS (
  SELECT m.campaign_id, e.account_id, e.model, e.client_net, e.client_asn, e.pathway,
         e.payment_fingerprint, e.user_agent, e.country, f.capability,
         count(*) AS n_ex, min(e.ts) AS lo, max(e.ts) AS hi
  FROM (SELECT * FROM {ex} WHERE account_id IN (SELECT account_id FROM m)) e
  JOIN m USING (account_id) JOIN {fp} f USING ({key})
  GROUP BY ALL
),
tot AS (SELECT campaign_id, CAST(sum(n_ex) AS BIGINT) AS n FROM x GROUP BY campaign_id),
caps AS (
  SELECT campaign_id, list(struct_pack(name := capability, share := c / n) ORDER BY c DESC, capability) AS capabilities
  FROM (SELECT campaign_id, capability, CAST(sum(n_ex) AS BIGINT) AS c FROM x GROUP BY ALL) JOIN tot USING (campaign_id)
  GROUP BY campaign_id
),
models AS (
  SELECT campaign_id, list(struct_pack(name := model, share := c / n) ORDER BY c DESC, model) AS models
  FROM (SELECT campaign_id, model, CAST(sum(n_ex) AS BIGINT) AS c FROM x GROUP BY ALL) JOIN tot USING (campaign_id)
  GROUP BY campaign_id
),
top_of AS (
  SELECT campaign_id, kind, list(struct_pack(name := key, accounts := a, exchanges := c) ORDER BY c DESC, key) AS top
  FROM (
    SELECT campaign_id, kind, key, a, c,
           row_number() OVER (PARTITION BY campaign_id, kind ORDER BY c DESC, key) AS rn
    FROM (
      SELECT campaign_id, 'nets' AS kind, client_net AS key, count(DISTINCT account_id) AS a,
             CAST(sum(n_ex) AS BIGINT) AS c
        FROM x GROUP BY ALL
      UNION ALL SELECT campaign_id, 'asns', CAST(client_asn AS VARCHAR), count(DISTINCT account_id),
             CAST(sum(n_ex) AS BIGINT)
        FROM x GROUP BY ALL
      UNION ALL SELECT campaign_id, 'pathways', pathway, count(DISTINCT account_id), CAST(sum(n_ex) AS BIGINT)
        FROM x GROUP BY ALL
      UNION ALL SELECT campaign_id, 'user_agents', user_agent, count(DISTINCT account_id),
             CAST(sum(n_ex) AS BIGINT)
        FROM x GROUP BY ALL
      UNION ALL SELECT campaign_id, 'countries', country, count(DISTINCT account_id), CAST(sum(n_ex) AS BIGINT)
        FROM x GROUP BY ALL
    ) WHERE key IS NOT NULL
  ) WHERE rn <= 10
  GROUP BY campaign_id, kind
),
infra AS (
  SELECT campaign_id,
         struct_pack(
           nets := max(CASE WHEN kind = 'nets' THEN top END),
           asns := max(CASE WHEN kind = 'asns' THEN top END),
           pathways := max(CASE WHEN kind = 'pathways' THEN top END),
           user_agents := max(CASE WHEN kind = 'user_agents' THEN top END),
           countries := max(CASE WHEN kind = 'countries' THEN top END)
         ) AS infrastructure
  FROM top_of GROUP BY campaign_id
),
basic AS (
  SELECT campaign_id, count(DISTINCT account_id) AS accounts, CAST(sum(n_ex) AS BIGINT) AS exchanges,
         min(lo) AS first_seen, max(hi) AS last_seen, count(DISTINCT client_net) AS n_nets,
         count(DISTINCT payment_fingerprint) AS n_payment_fingerprints,
         list(DISTINCT account_id ORDER BY account_id) AS account_ids
  FROM x GROUP BY campaign_id
)
SELECT b.campaign_id, b.accounts, b.exchanges, b.first_seen, b.last_seen, c.capabilities, mo.models,
       i.infrastructure, b.n_nets, b.n_payment_fingerprints, b.account_ids
FROM basic b JOIN caps c USING (campaign_id) JOIN models mo USING (campaign_id) JOIN infra i USING (campaign_id)
ORDER BY b.exchanges DESC, b.campaign_id
"""


def assign_campaigns(scores: Scores) -> dict[int, str]:
    """cluster_id -> campaign id (C001, C002, ... by flagged exchanges, largest first)."""
    acc = scores.accounts.filter(scores.accounts["flagged"])
    if acc.num_rows == 0:
        return {}
    vol = acc.group_by("cluster_id").aggregate([("n_exchanges", "sum")])
    order = np.lexsort((vol["cluster_id"].to_numpy(), -vol["n_exchanges_sum"].to_numpy()))
    clusters = vol["cluster_id"].to_numpy()[order]
    return {int(c): f"C{i + 1:03d}" for i, c in enumerate(clusters)}


def _campaign_ids(scores: Scores, mapping: dict[int, str]) -> pa.Array:
    """Each account's campaign id (None unless flagged), in the order of ``scores.accounts``."""
    acc = scores.accounts
    flagged = acc["flagged"].to_pylist()
    camp = [mapping.get(c) if f else None for c, f in zip(acc["cluster_id"].to_pylist(), flagged, strict=True)]
    return pa.array(camp, pa.string())


def campaign_members(scores: Scores) -> pa.Table:
    """account_id, campaign_id of every flagged account (``assign_campaigns``)."""
    acc = scores.accounts.select(["account_id", "flagged"])
    acc = acc.append_column("campaign_id", _campaign_ids(scores, assign_campaigns(scores)))
    return acc.filter(acc["flagged"]).select(["account_id", "campaign_id"])


def campaign_summaries(
    con: SqlConnection,
    members: pa.Table,
    *,
    exchanges: str = "exchanges",
    fp: str = "fp_exchanges",
    key: str = "request_id",
) -> pa.Table:
    """One row per campaign of ``members`` (``campaign_members``): its accounts, exchanges, first and last seen,
    capabilities and models with shares, infrastructure; largest first. Reads only the campaigns' exchanges
    (``key``: the column joining ``exchanges`` to ``fp``, see ``features.account_features``)."""
    with registered(con, {"members": members}):
        return con.sql(_SQL.format(ex=exchanges, fp=fp, key=key)).to_arrow_table()


def build_outputs(
    con: SqlConnection,
    scores: Scores,
    first_flagged: pa.Table,
    *,
    exchanges: str = "exchanges",
    fp: str = "fp_exchanges",
    key: str = "request_id",
    summaries: pa.Table | None = None,
) -> tuple[pa.Table, pa.Table]:
    """(accounts, campaigns) tables as written to accounts.parquet and campaigns.parquet. ``summaries``: what
    ``campaign_summaries`` returns for ``campaign_members(scores)``, when it was run already (``analyze`` runs it
    beside the replay); else it is run here."""
    mapping = assign_campaigns(scores)
    acc = scores.accounts
    acc = acc.append_column("campaign_id", _campaign_ids(scores, mapping))
    # (pyarrow joins cannot carry the list-typed evidence column, so the replay's columns are taken by row.)
    at = pc.index_in(acc["account_id"], value_set=first_flagged["account_id"])
    for name in ("first_flagged_at", "first_flag_rules"):
        acc = acc.append_column(name, first_flagged[name].take(at))
    acc = acc.sort_by("account_id")
    accounts = acc.select(list(ACCOUNT_OUTPUT))

    if summaries is None:
        summaries = campaign_summaries(con, campaign_members(scores), exchanges=exchanges, fp=fp, key=key)
    campaigns = summaries
    cl = scores.clusters
    by_cluster = {c: i for i, c in enumerate(cl["cluster_id"].to_pylist())}
    cluster_of = {v: k for k, v in mapping.items()}
    risk, evidence, cluster_ids = [], [], []
    acc_risk = {
        r["account_id"]: r["risk"]
        for r in accounts.filter(accounts["flagged"]).select(["account_id", "risk"]).to_pylist()
    }
    for cid, ids in zip(campaigns["campaign_id"].to_pylist(), campaigns["account_ids"].to_pylist(), strict=True):
        j = by_cluster[cluster_of[cid]]
        member_risk = max(acc_risk[a] for a in ids)
        risk.append(max(float(cl["risk"][j].as_py()), member_risk))
        evidence.append(cl["evidence"][j].as_py())
        cluster_ids.append(cluster_of[cid])
    campaigns = (
        campaigns.append_column("risk", pa.array(risk, pa.float64()))
        .append_column("evidence", pa.array(evidence, pa.list_(pa.string())))
        .append_column("cluster_id", pa.array(cluster_ids, pa.int64()))
    )
    return accounts, campaigns
