"""The account-key graph and its communities.

Each account is tied to the keys it shares with other accounts; the graph is bipartite (accounts on one
side, keys on the other), so a key used by n accounts costs n edges, not n² pairs. Louvain community
detection (scikit-network) over this weighted biadjacency turns it into clusters.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp
from sknetwork.clustering import Louvain

from distillguard.fingerprint.sketch import components
from distillguard.sqlconn import SqlConnection, registered

KEY_KINDS = (
    "net",
    "asn",
    "payment",
    "user_agent",
    "client",
    "email_domain",
    "family",
    "prompt",
    "system",
    "params",
    "created",
)
"""Kinds of blocking key, each with a base weight, a crowd cap and a minimum share in ``LinkConfig``."""


IDENTITY_KINDS = ("payment", "user_agent", "net", "created", "email_domain")
"""Kinds of key that identify an operator. An ASN (a cloud, a carrier), a TLS/HTTP client fingerprint and
a request-parameter signature (a library's defaults) are shared by independent users of the same cloud or
tool: they link accounts for community detection but prove no common operator."""


@dataclass(frozen=True)
class KeyRule:
    weight: float
    crowd_cap: int
    """Beyond this many accounts a key is a crowd (NAT, reseller egress, campus): its weight shrinks."""
    min_share: float
    """An account joins a key only if at least this share of its traffic carries it."""
    min_count: int = 1


def _default_rules() -> dict[str, KeyRule]:
    return {
        "net": KeyRule(weight=0.6, crowd_cap=60, min_share=0.2),
        "asn": KeyRule(weight=0.15, crowd_cap=40, min_share=0.5),
        "payment": KeyRule(weight=1.0, crowd_cap=500, min_share=0.0),
        "user_agent": KeyRule(weight=0.4, crowd_cap=30, min_share=0.5),
        "client": KeyRule(weight=0.4, crowd_cap=30, min_share=0.5),
        "email_domain": KeyRule(weight=0.2, crowd_cap=30, min_share=0.0),
        "family": KeyRule(weight=1.0, crowd_cap=1_000_000, min_share=0.03, min_count=2),
        "prompt": KeyRule(weight=0.8, crowd_cap=1_000_000, min_share=0.03, min_count=1),
        "system": KeyRule(weight=0.8, crowd_cap=1_000_000, min_share=0.3, min_count=3),
        "params": KeyRule(weight=0.3, crowd_cap=50, min_share=0.5, min_count=3),
        "created": KeyRule(weight=0.3, crowd_cap=200, min_share=0.0),
    }


@dataclass(frozen=True)
class LinkConfig:
    rules: dict[str, KeyRule] = field(default_factory=_default_rules)
    crowd_exponent: float = 1.5
    """Weight of a crowd key = weight * (crowd_cap / n_accounts) ** crowd_exponent."""
    resolution: float = 1.0
    seed: int = 7
    core_split_share: float = 0.3
    """A community whose identity core (``identity_core``) holds at least this share of its accounts, but
    not all, is split in two: the core, and the accounts tied to it by other keys."""
    core_split_min_accounts: int = 3
    """... and at least this many accounts."""
    core_split_rounds: int = 4
    """The accounts split off are checked again for a web of their own, at most this many times in all."""
    core_min_exclusive: float = 0.5
    """An identity key ties members only where at least this share of all its accounts are in the community
    (a carrier NAT or a popular e-mail domain ties nobody)."""


@dataclass(frozen=True)
class Linkage:
    incidence: pa.Table
    """account_id, kind, key, n_accounts, share, weight: the kept account-key ties."""
    clusters: pa.Table
    """account_id, cluster_id (int64); accounts with no tie form singleton clusters."""


# Keys built from several columns (asn|pathway, client, params) are assembled once per group, not once per
# exchange: grouped by the raw columns first, then by the key (two raw tuples may read as one key).
# Every branch's key is non-null by construction (a WHERE on the column it is made of, or concat_ws, which
# skips nulls): a ``key IS NOT NULL`` on ``raw`` would be pushed by DuckDB below the grouping and build the
# composite keys once per exchange to test them (4M bench store: 1.9 s of CPU; ``incidence`` 6.3 -> 5.4 s).
_INCIDENCE_SQL = """
WITH acc AS (SELECT account_id, count(*) AS n FROM {ex} GROUP BY account_id),
fam AS (
  SELECT e.account_id, f.family_id, f.user_family_id, f.system_family_id, count(*) AS c
  FROM {ex} e JOIN {fp} f USING ({key}) GROUP BY ALL
),
raw AS (
  SELECT account_id, 'net' AS kind, client_net AS key, count(*) AS c FROM {ex}
    WHERE client_net IS NOT NULL GROUP BY ALL
  UNION ALL
  SELECT account_id, 'asn', CAST(client_asn AS VARCHAR) || '|' || coalesce(pathway, ''), CAST(sum(c) AS BIGINT)
    FROM (SELECT account_id, client_asn, pathway, count(*) AS c FROM {ex} WHERE client_asn IS NOT NULL GROUP BY ALL)
    GROUP BY ALL
  UNION ALL
  SELECT account_id, 'payment', payment_fingerprint, count(*) FROM {ex}
    WHERE payment_fingerprint IS NOT NULL GROUP BY ALL
  UNION ALL
  SELECT account_id, 'user_agent', user_agent, count(*) FROM {ex} WHERE user_agent IS NOT NULL GROUP BY ALL
  UNION ALL
  SELECT account_id, 'client', concat_ws('|', ja4, ja3, http2_fingerprint, header_order), CAST(sum(c) AS BIGINT)
    FROM (SELECT account_id, ja4, ja3, http2_fingerprint, header_order, count(*) AS c FROM {ex}
          WHERE coalesce(ja4, ja3, http2_fingerprint, header_order) IS NOT NULL GROUP BY ALL)
    GROUP BY ALL
  UNION ALL
  SELECT account_id, 'email_domain', email_domain, count(*) FROM {ex} WHERE email_domain IS NOT NULL GROUP BY ALL
  UNION ALL
  SELECT account_id, 'family', CAST(family_id AS VARCHAR), CAST(sum(c) AS BIGINT) FROM fam
    WHERE family_id IS NOT NULL GROUP BY ALL
  UNION ALL
  SELECT account_id, 'prompt', CAST(user_family_id AS VARCHAR), CAST(sum(c) AS BIGINT) FROM fam
    WHERE user_family_id IS NOT NULL GROUP BY ALL
  UNION ALL
  SELECT account_id, 'system', CAST(system_family_id AS VARCHAR), CAST(sum(c) AS BIGINT) FROM fam
    WHERE system_family_id IS NOT NULL GROUP BY ALL
  UNION ALL
  SELECT account_id, 'params',
         concat_ws('|', api, model, CAST(max_tokens AS VARCHAR), CAST(thinking_budget AS VARCHAR),
                   reasoning_effort, CAST(temperature AS VARCHAR), CAST(n_tools AS VARCHAR)),
         CAST(sum(c) AS BIGINT)
    FROM (SELECT account_id, api, model, max_tokens, thinking_budget, reasoning_effort, temperature,
                 array_length(tools_offered) AS n_tools, count(*) AS c FROM {ex} GROUP BY ALL)
    GROUP BY ALL
  UNION ALL
  SELECT account_id, 'created', strftime(min(account_created), '%Y-%m-%d %H') || '|' || coalesce(min(pathway), ''),
         count(*) FROM {ex} WHERE account_created IS NOT NULL GROUP BY account_id
),
kept AS (
  SELECT r.account_id, r.kind, r.key, r.c / acc.n AS share
  FROM raw r JOIN acc USING (account_id) JOIN rules USING (kind)
  WHERE r.c >= rules.min_count AND r.c / acc.n >= rules.min_share
)
SELECT account_id, kind, key, count(*) OVER (PARTITION BY kind, key) AS n_accounts, share FROM kept
"""


def incidence(con: SqlConnection, cfg: LinkConfig, *, exchanges: str, fp: str, key: str = "request_id") -> pa.Table:
    """Account-key ties that pass each kind's share rule, with the key's crowd size and final weight."""
    rules = pa.table(
        {
            "kind": list(cfg.rules),
            "min_share": [r.min_share for r in cfg.rules.values()],
            "min_count": [r.min_count for r in cfg.rules.values()],
        }
    )
    with registered(con, {"rules": rules}):
        # ``fam``: one join of exchanges to families, read thrice
        sql = _INCIDENCE_SQL.format(ex=exchanges, fp=fp, key=key)
        tbl = con.sql(sql).to_arrow_table()
    # DuckDB returns rows in no fixed order; Louvain's result depends on node order, so fix it.
    tbl = tbl.filter(pc.greater_equal(tbl["n_accounts"], 2)).sort_by(
        [("account_id", "ascending"), ("kind", "ascending"), ("key", "ascending")]
    )
    kinds = tbl["kind"].to_pylist()
    n_acc = tbl["n_accounts"].to_numpy().astype(np.float64)
    base = np.array([cfg.rules[k].weight for k in kinds], dtype=np.float64)
    cap = np.array([cfg.rules[k].crowd_cap for k in kinds], dtype=np.float64)
    crowd = np.minimum(1.0, (cap / np.maximum(n_acc, 1.0)) ** cfg.crowd_exponent)
    share = tbl["share"].to_numpy().astype(np.float64)
    weight = base * crowd * np.sqrt(share)
    return tbl.append_column("weight", pa.array(weight, pa.float64()))


def communities(accounts: pa.Array, inc: pa.Table, cfg: LinkConfig) -> pa.Table:
    """Louvain over the weighted account-key biadjacency; untied accounts become singletons."""
    acc_list = accounts.to_pylist()
    row_of = {a: i for i, a in enumerate(acc_list)}
    n = len(acc_list)
    if inc.num_rows == 0 or n == 0:
        return pa.table({"account_id": accounts, "cluster_id": pa.array(np.arange(n), pa.int64())})
    key_ids = pc.binary_join_element_wise(inc["kind"], inc["key"], "\x1f")
    enc = pc.dictionary_encode(key_ids).combine_chunks()
    cols = enc.indices.to_numpy()
    rows = np.fromiter((row_of[a] for a in inc["account_id"].to_pylist()), dtype=np.int64, count=inc.num_rows)
    w = inc["weight"].to_numpy()
    bi = sp.csr_matrix((w, (rows, cols)), shape=(n, len(enc.dictionary)))
    labels = Louvain(resolution=cfg.resolution, random_state=cfg.seed).fit(bi, force_bipartite=True).labels_row_
    labels = np.asarray(labels, dtype=np.int64)
    # Accounts with no tie keep their own cluster rather than a shared "isolated" label.
    tied = np.asarray(bi.getnnz(axis=1) > 0)
    nxt = int(labels.max()) + 1 if n else 0
    lone = np.flatnonzero(~tied)
    labels[lone] = np.arange(nxt, nxt + lone.size)
    return pa.table({"account_id": accounts, "cluster_id": pa.array(labels, pa.int64())})


def identity_core(tied: pa.Table) -> pa.Table:
    """account_id of the accounts in their cluster's *identity core*: the largest group of members joined
    to each other by shared identity keys (``tied`` rows: cluster_id, account_id, kind, key).

    Two members of one organisation share a payment method with each other, not with the campaign their
    templates were clustered with; the core is the operator's own web of payments, networks and bursts.
    """
    if tied.num_rows == 0:
        return pa.table({"account_id": pa.array([], pa.string())})
    acc_codes, acc_ids = _codes(tied["account_id"])
    keys = pc.binary_join_element_wise(
        tied["cluster_id"].cast(pa.string()), tied["kind"], tied["key"].cast(pa.string()), "\x1f"
    )
    key_codes, _ = _codes(keys)
    n_acc = len(acc_ids)
    # Accounts and keys as one graph's nodes (keys numbered after the accounts); an edge per carried key.
    comp = components(n_acc + int(key_codes.max()) + 1, np.stack([acc_codes, n_acc + key_codes], axis=1))[:n_acc]
    cluster_of = np.zeros(n_acc, dtype=np.int64)
    cluster_of[acc_codes] = tied["cluster_id"].to_numpy()
    # Largest component per cluster (ties: the smallest label, so the choice is deterministic).
    pairs, inv, counts = np.unique(
        np.stack([cluster_of, comp], axis=1), axis=0, return_inverse=True, return_counts=True
    )
    order = np.lexsort((pairs[:, 1], -counts, pairs[:, 0]))
    winner = np.zeros(len(pairs), dtype=bool)
    winner[order[np.r_[True, pairs[order][1:, 0] != pairs[order][:-1, 0]]]] = True
    keep = winner[inv.ravel()]
    return pa.table({"account_id": pa.array(acc_ids, pa.string()).take(pa.array(np.flatnonzero(keep)))})


def _codes(column: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, list[object]]:
    encoded = pc.dictionary_encode(column)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    return encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64), encoded.dictionary.to_pylist()


def identity_ties(con: SqlConnection, incidence: pa.Table, clusters: pa.Table, *, min_exclusive: float) -> pa.Table:
    """cluster_id, account_id, kind, key, n_accounts: the keys that tie members of a cluster to each other
    (carried by two or more of its members, and at least ``min_exclusive`` of all the ``n_accounts`` accounts
    carrying them are in it)."""
    views = {
        "inc": incidence.select(["account_id", "kind", "key", "n_accounts"]),
        "cl": clusters.select(["account_id", "cluster_id"]),
    }
    with registered(con, views):
        return con.sql(
            f"""
          WITH x AS (SELECT inc.*, cl.cluster_id FROM inc JOIN cl USING (account_id)),
          shared AS (
            SELECT x.cluster_id, x.kind, x.key, count(DISTINCT x.account_id) AS a, any_value(x.n_accounts) AS k
            FROM x GROUP BY ALL HAVING count(DISTINCT x.account_id) >= 2
          ),
          lifted AS (SELECT * FROM shared WHERE a / k >= {float(min_exclusive)})
          SELECT DISTINCT x.cluster_id, x.account_id, x.kind, x.key, x.n_accounts
          FROM x JOIN lifted USING (cluster_id, kind, key)
          ORDER BY x.cluster_id, x.account_id, x.kind, x.key
        """
        ).to_arrow_table()


def split_identity_cores(con: SqlConnection, clusters: pa.Table, incidence: pa.Table, cfg: LinkConfig) -> pa.Table:
    """Split each community that holds an operator's identity web and accounts outside it.

    Community detection merges weakly tied groups into one community (the resolution limit of modularity:
    in a large graph, a sign-up hour, a public benchmark prompt or a common client is enough to join a small
    group to a dense one). Where a community's identity core (its largest web of members sharing payments,
    rare user agents, private networks, sign-up bursts or e-mail domains) holds ``core_split_share`` of it,
    the core is one operator's accounts and the others share something else with them (wording, a crowd
    key): they become a community of their own, so neither group's behaviour is read as the other's.
    A community without such a web (a campaign of independent-looking accounts tied by its templates) is
    left whole.

    The rest is checked again, up to ``core_split_rounds`` times: one community can hold two operators' webs
    (a class on its campus network and a campaign's accounts on their shared cards, joined by the chat
    users who write like both), and only the larger is the core the first time.
    """
    if clusters.num_rows == 0 or incidence.num_rows == 0:
        return clusters
    ident = incidence.filter(pc.is_in(incidence["kind"], value_set=pa.array(IDENTITY_KINDS)))
    labels = clusters["cluster_id"].to_numpy().astype(np.int64)
    # Rows still to check: every account the first time, then only those split off in the last round (a core
    # is all web, and a community left whole is the same community, with the same ties, the next time).
    rows = np.arange(clusters.num_rows)
    for _ in range(cfg.core_split_rounds):
        check = pa.table({"account_id": clusters["account_id"].take(rows), "cluster_id": labels[rows]})
        moved = _split_once(con, check, ident, cfg, next_id=int(labels.max()) + 1)
        if moved is None:
            break
        rows = rows[moved[0]]
        labels[rows] = moved[1]
    return pa.table({"account_id": clusters["account_id"], "cluster_id": pa.array(labels, pa.int64())})


def _split_once(
    con: SqlConnection, clusters: pa.Table, ident: pa.Table, cfg: LinkConfig, *, next_id: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """One round of ``split_identity_cores`` over ``clusters``: the mask of its rows that leave their community
    and their new cluster ids (numbered from ``next_id``, one per community split); None where none is split."""
    core = identity_core(identity_ties(con, ident, clusters, min_exclusive=cfg.core_min_exclusive))
    cid = clusters["cluster_id"].to_numpy().astype(np.int64)
    in_core = np.asarray(pc.is_in(clusters["account_id"], value_set=core["account_id"]).to_numpy(zero_copy_only=False))
    size = np.bincount(cid)
    n_core = np.bincount(cid, weights=in_core.astype(np.float64), minlength=len(size))
    split = (n_core >= np.maximum(cfg.core_split_min_accounts, cfg.core_split_share * size)) & (n_core < size)
    if not split.any():
        return None
    moved = split[cid] & ~in_core
    new_id = np.full(len(size), -1, dtype=np.int64)
    new_id[split] = next_id + np.arange(int(split.sum()))
    return moved, new_id[cid[moved]]


def link_accounts(
    con: SqlConnection,
    accounts: pa.Array,
    config: LinkConfig | None = None,
    *,
    exchanges: str = "exchanges",
    fp: str = "fp_exchanges",
    key: str = "request_id",
) -> Linkage:
    cfg = config or LinkConfig()
    inc = incidence(con, cfg, exchanges=exchanges, fp=fp, key=key)
    return Linkage(incidence=inc, clusters=split_identity_cores(con, communities(accounts, inc, cfg), inc, cfg))
