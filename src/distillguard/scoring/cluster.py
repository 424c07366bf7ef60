"""Cluster-level behaviour: what the accounts of one linked cluster do together.

A hydra cluster spreads its volume so that each account looks small; these aggregates put it back
together. ``CLUSTER_DOC`` names every column. Also computes each account's *affinity* to its cluster
(the share of its traffic in the template families its cluster shares), so that an ordinary customer
who merely shares a reseller's egress with a campaign is not condemned by infrastructure alone.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from distillguard.features.flags import N_TOOLS, OWN_PROMPT, flag_shares, hashed, reply_key
from distillguard.fingerprint.stage import BLANK_USER
from distillguard.linking.graph import IDENTITY_KINDS, identity_core, identity_ties
from distillguard.sqlconn import SqlConnection, registered

CLUSTER_DOC: dict[str, str] = {
    "cluster_id": "cluster from linking",
    "n_accounts": "accounts in the cluster",
    "n_exchanges": "exchanges they sent",
    "exchanges_per_account": "mean exchanges per account",
    "n_orgs": "distinct organisations",
    "n_payments": "distinct payment fingerprints",
    "payment_shared_share": "share of accounts whose payment fingerprint a member of another organisation also "
    "uses (an organisation paying for its own accounts shares nothing)",
    "n_pathways": "distinct sign-up pathways",
    "unverified_share": "share of accounts not verified",
    "n_nets": "distinct /24 or /48 networks",
    "mean_nets_per_account": "mean distinct networks each account arrived from (rotating proxies: hundreds)",
    "n_countries": "distinct account countries",
    "creation_burst_share": "largest share of accounts created within one day",
    "core_family_share": "share of the cluster's traffic in families used by several of its accounts",
    "top_family_share": "share of its traffic in its single largest family",
    "n_core_families": "families used by several of its accounts",
    "high_value_share": "share in high-value capability areas",
    "cot_share": "share eliciting chain-of-thought",
    "reconstruction_share": "share asking to reconstruct reasoning behind a given answer",
    "coercion_share": "share coercing the reasoning trace's language or form",
    "rubric_share": "share of rubric grading",
    "rewrite_share": "share of sensitive-rewrite requests",
    "single_turn_share": "share with no earlier assistant turn",
    "thinking_share": "share with thinking requested",
    "large_budget_share": "share with large thinking budgets",
    "tool_result_share": "share returning tool results",
    "fabricated_share": "share carrying a conversation history its account never received",
    "fabricated_top_share": "of the requests carrying a history their account never received, the share sent by "
    "the one account that sends most of them (1: one member's doing, not its cluster's)",
    "standalone_share": "share that is not a genuine continuation of its account's own conversation",
    "tools_offered_share": "share offering tools",
    "new_model_share": "share on models released during the log",
    "fast_pivot_share": "share of accounts that used a new model within 24 h of its release",
    "mean_gap_cv": "mean timing irregularity of its accounts",
    "mean_hour_entropy": "mean round-the-clock spread of its accounts",
    "synchrony": "mean correlation of each account's hourly activity with the rest of the cluster",
    "n_end_users": "distinct declared end users",
}

LINK_DOC: dict[str, str] = {
    "identity_linked_share": "share of accounts tied to another member by payment, client fingerprint, "
    "rare user agent, network or creation burst",
    "content_linked_share": "share of accounts tied to another member by a template family or system prompt",
    "identity_core_share": "share of accounts in the cluster's identity core: its largest group of members "
    "joined to each other by shared payments, client fingerprints, rare user agents, networks or bursts",
    "link_kinds": "kinds of key that tie members together, with how many accounts each ties",
    "sender_identity_linked_share": "identity_linked_share among the members that send the cluster's shared "
    "templates (affinity at least min_affinity): ties between the accounts that carry its template traffic, not "
    "between bystanders linked beside them (two chat users on one household network)",
}

CONTENT_KINDS = ("family", "prompt", "system")

_CLUSTER_FLAGS = (
    "cot", "reconstruction", "coercion", "rubric", "rewrite", "single_turn", "thinking", "large_budget",
    "tool_result", "tools_offered",
)  # fmt: skip

# The exchanges' account, end-user and network ids are only counted distinct (or deduplicated) here, so the
# shared relations carry their 64-bit hashes (``features.flags.hashed``), as the features query does: on the
# 4M bench store, alternated in one process, cluster features 4.74/5.31 -> 4.19/4.76 s and core families
# 1.53/1.42 -> 1.28/1.43 s, the same tables.
# ``x`` (every exchange of the accounts, joined to its fingerprint) feeds two aggregates; DuckDB materialized it
# for them (4M: ~400 MB, spilled at the 768 MB cap). NOT MATERIALIZED: each aggregate runs the join itself,
# streaming. 4M bench store, fresh processes alternated: 3.6/4.6 -> 2.2/2.0 s, the process's peak 1,014/1,033
# -> 748/736 MiB, the same table. (Tried on the other queries' ``x``: affinity no change, core families and
# the features query read theirs three or more times and got slower.)
_CLUSTER_SQL = """
WITH a AS (SELECT * FROM acc),
x AS NOT MATERIALIZED (
  SELECT hash(e.account_id) AS akey, a.cluster_id, f.family_id, e.ts, e.model, f.capability, f.cot_elicitation,
         f.reasoning_reconstruction, f.trace_coercion, f.rubric_grading, f.sensitive_rewrite,
         e.n_assistant_turns, e.thinking_requested, e.thinking_budget, e.n_tool_results,
         {n_tools}, {end_user_id} AS end_user_id
  FROM {ex} e JOIN {fp} f USING ({key}) JOIN a USING (account_id)
),
fam AS (
  SELECT cluster_id, family_id, count(*) AS c, count(DISTINCT akey) AS n_acc FROM x GROUP BY ALL
),
fam_stats AS (
  SELECT fam.cluster_id,
         sum(CASE WHEN core.family_id IS NOT NULL THEN fam.c ELSE 0 END) / sum(fam.c) AS core_family_share,
         max(fam.c) / sum(fam.c) AS top_family_share, count(core.family_id) AS n_core_families
  FROM fam LEFT JOIN core USING (cluster_id, family_id) GROUP BY fam.cluster_id
),
pay AS (
  SELECT cluster_id, payment_fingerprint, count(DISTINCT coalesce(org_id, account_id)) AS n FROM a
  WHERE payment_fingerprint IS NOT NULL GROUP BY ALL
),
pay_stats AS (
  SELECT a.cluster_id, avg(CASE WHEN pay.n >= 2 THEN 1.0 ELSE 0.0 END) AS payment_shared_share
  FROM a LEFT JOIN pay USING (cluster_id, payment_fingerprint) GROUP BY a.cluster_id
),
burst AS (
  SELECT cluster_id, max(n) AS n_burst FROM (
    SELECT cluster_id, CAST(account_created AS DATE) AS d, count(*) AS n FROM a
    WHERE account_created IS NOT NULL GROUP BY ALL) GROUP BY cluster_id
),
acc_stats AS (
  SELECT cluster_id, count(*) AS n_accounts, sum(n_exchanges) AS n_exchanges,
         count(DISTINCT org_id) AS n_orgs, count(DISTINCT payment_fingerprint) AS n_payments,
         count(DISTINCT pathway) AS n_pathways,
         avg(CASE WHEN coalesce(verified, false) THEN 0.0 ELSE 1.0 END) AS unverified_share,
         count(DISTINCT country) AS n_countries,
         avg(CASE WHEN pivot_hours IS NOT NULL AND pivot_hours <= 24 THEN 1.0 ELSE 0.0 END) AS fast_pivot_share,
         avg(gap_cv) AS mean_gap_cv, avg(hour_entropy) AS mean_hour_entropy, avg(n_nets) AS mean_nets_per_account,
         sum(fabricated_share * n_exchanges) / sum(n_exchanges) AS fabricated_share,
         max(fabricated_share * n_exchanges) / nullif(sum(fabricated_share * n_exchanges), 0) AS fabricated_top_share,
         sum(standalone_share * n_exchanges) / sum(n_exchanges) AS standalone_share
  FROM a GROUP BY cluster_id
),
ex_stats AS (
  SELECT cluster_id,
         avg(CASE WHEN capability IN ({high_value}) THEN 1.0 ELSE 0.0 END) AS high_value_share,
         {flag_shares},
         avg(CASE WHEN model IN (SELECT model FROM releases) THEN 1.0 ELSE 0.0 END) AS new_model_share,
         count(DISTINCT end_user_id) AS n_end_users
  FROM x GROUP BY cluster_id
),
nets AS (
  SELECT a.cluster_id, count(DISTINCT {client_net}) AS n_nets
  FROM {ex} e JOIN a USING (account_id) GROUP BY a.cluster_id
)
SELECT s.cluster_id, s.n_accounts, s.n_exchanges, s.n_exchanges / s.n_accounts AS exchanges_per_account,
       s.n_orgs, s.n_payments, coalesce(p.payment_shared_share, 0.0) AS payment_shared_share, s.n_pathways,
       s.unverified_share, n.n_nets, s.mean_nets_per_account, s.n_countries,
       coalesce(b.n_burst, 0) / s.n_accounts AS creation_burst_share,
       f.core_family_share, f.top_family_share, f.n_core_families,
       x.high_value_share, x.cot_share, x.reconstruction_share, x.coercion_share, x.rubric_share,
       x.rewrite_share, x.single_turn_share, x.thinking_share, x.large_budget_share, x.tool_result_share,
       s.fabricated_share, s.fabricated_top_share, s.standalone_share,
       x.tools_offered_share, x.new_model_share, s.fast_pivot_share, s.mean_gap_cv, s.mean_hour_entropy,
       x.n_end_users
FROM acc_stats s
JOIN ex_stats x USING (cluster_id)
JOIN fam_stats f USING (cluster_id)
JOIN nets n USING (cluster_id)
LEFT JOIN pay_stats p USING (cluster_id)
LEFT JOIN burst b USING (cluster_id)
ORDER BY s.cluster_id
"""

_CORE_SQL = """
WITH x AS (
  SELECT hash(e.account_id) AS akey, a.cluster_id, f.family_id, f.system_family_id AS sf, f.user_family_id AS uf
  FROM {ex} e JOIN {fp} f USING ({key}) JOIN acc a USING (account_id)
),
size AS (SELECT cluster_id, count(*) AS n FROM acc GROUP BY cluster_id),
parts AS (
  SELECT akey, cluster_id, 0 AS kind, family_id AS k FROM x
  UNION ALL SELECT akey, cluster_id, 1, uf FROM x WHERE uf <> {blank_user}
  UNION ALL SELECT akey, cluster_id, 2, sf FROM x WHERE sf IS NOT NULL
),
used AS (SELECT DISTINCT akey, cluster_id, kind, k FROM parts),
everyone AS (SELECT kind, k, count(*) AS n_all FROM used GROUP BY kind, k),
shared AS (
  SELECT u.cluster_id, u.kind, u.k FROM used u JOIN size USING (cluster_id) JOIN everyone e USING (kind, k)
  GROUP BY u.cluster_id, u.kind, u.k, size.n, e.n_all
  HAVING count(*) >= greatest({min_accounts}, {min_share} * size.n) AND count(*) >= {min_exclusive} * e.n_all
),
combos AS (SELECT DISTINCT family_id, sf, uf FROM x WHERE sf IS NOT NULL)
SELECT cluster_id, k AS family_id FROM shared WHERE kind = 0
UNION
SELECT su.cluster_id, c.family_id FROM combos c
JOIN shared su ON su.kind = 1 AND su.k = c.uf
JOIN shared ss ON ss.kind = 2 AND ss.k = c.sf AND ss.cluster_id = su.cluster_id
ORDER BY 1, 2
"""

# ``replies`` as one 64-bit key per (account, digest) pair (``flags.reply_key``), as in the replay: a smaller set
# to build and join than (account id string, digest) pairs.
_AFFINITY_SQL = """
WITH x AS (
  SELECT e.account_id, a.cluster_id AS own, f.family_id, e.n_assistant_turns, e.context_digest
  FROM {ex} e JOIN {fp} f USING ({key}) JOIN acc a USING (account_id)
),
replies AS (SELECT DISTINCT {reply} AS d FROM {ex} WHERE reply_digest IS NOT NULL),
n AS (SELECT account_id, count(*) AS n FROM x GROUP BY account_id),
hits AS (
  SELECT x.account_id, x.own, core.cluster_id, count(*) AS c,
         sum(CASE WHEN {own_prompt} THEN 1 ELSE 0 END) AS p
  FROM x JOIN core USING (family_id)
  LEFT JOIN replies rp ON rp.d = {context}
  GROUP BY ALL
),
mine AS (SELECT account_id, c, p FROM hits WHERE cluster_id = own),
other AS (
  SELECT account_id, cluster_id, c FROM (
    SELECT account_id, cluster_id, c, row_number() OVER (PARTITION BY account_id ORDER BY c DESC, cluster_id) AS rn
    FROM hits WHERE cluster_id <> own
  ) WHERE rn = 1
)
SELECT n.account_id, coalesce(mine.c, 0) / n.n AS affinity, coalesce(mine.p, 0) AS core_prompts,
       other.cluster_id AS foreign_cluster,
       coalesce(other.c, 0) / n.n AS foreign_affinity, coalesce(other.c, 0) AS foreign_exchanges
FROM n LEFT JOIN mine USING (account_id) LEFT JOIN other USING (account_id)
ORDER BY n.account_id
"""


def core_families(
    con: SqlConnection,
    acc: pa.Table,
    *,
    exchanges: str,
    fp: str,
    key: str = "request_id",
    min_share: float,
    min_exclusive: float,
    min_accounts: int = 3,
) -> pa.Table:
    """cluster_id, family_id: the template families a cluster *shares*.

    A template (a family, or the user-turn or system-prompt part of one) is shared by a cluster when at least
    ``min_share`` of its accounts (and ``min_accounts``) use it, and it is the cluster's own: at least
    ``min_exclusive`` of everyone using it is in the cluster. A template the whole population uses (a
    greeting, a popular public prompt) is nobody's campaign template. A family is shared when it is, or when
    both its user part and its system part are shared by the same cluster: an operator that pairs system
    prompts and user templates from its own pools at random makes a family per pairing, each too rare to
    count, while each part runs through the whole cluster. One part alone is not enough: a customer's
    system prompt or opening line can match a campaign's by chance (a common assistant persona, a common
    request), both at once much less often.
    """
    with registered(con, {"acc": acc.select(["account_id", "cluster_id"])}):
        sql = _CORE_SQL.format(
            ex=exchanges,
            fp=fp,
            key=key,
            min_share=float(min_share),
            min_exclusive=float(min_exclusive),
            min_accounts=int(min_accounts),
            blank_user=BLANK_USER,
        )
        return con.sql(sql).to_arrow_table()


def cluster_features(
    con: SqlConnection,
    acc: pa.Table,
    *,
    exchanges: str,
    fp: str,
    key: str = "request_id",
    high_value: tuple[str, ...],
    large_budget: int,
    core: pa.Table,
) -> pa.Table:
    """``acc`` = account features with ``cluster_id``; ``releases`` must be registered (model, released)."""
    with registered(con, {"acc": acc, "core": core}):
        sql = _CLUSTER_SQL.format(
            ex=exchanges,
            fp=fp,
            key=key,
            high_value=", ".join(f"'{c}'" for c in high_value),
            flag_shares=flag_shares(_CLUSTER_FLAGS, large_budget=large_budget),
            n_tools=N_TOOLS,
            end_user_id=hashed("e.end_user_id"),
            client_net=hashed("e.client_net"),
        )
        return con.sql(sql).to_arrow_table()


def affinity(
    con: SqlConnection, acc: pa.Table, *, exchanges: str, fp: str, key: str = "request_id", core: pa.Table
) -> pa.Table:
    """account_id, affinity: share of the account's traffic in its cluster's shared families; core_prompts:
    how many of those exchanges are prompts of its own (a conversation's opening turn, or a history it
    never received) rather than turns continuing a conversation it really had; and the other
    cluster whose shared families hold most of its traffic: foreign_cluster, foreign_affinity (share),
    foreign_exchanges (count)."""
    with registered(con, {"acc": acc.select(["account_id", "cluster_id"]), "core": core}):
        keys = {
            "reply": reply_key("account_id", "reply_digest"),
            "context": reply_key("x.account_id", "x.context_digest"),
        }
        sql = _AFFINITY_SQL.format(ex=exchanges, fp=fp, key=key, own_prompt=OWN_PROMPT, **keys)
        return con.sql(sql).to_arrow_table()


def link_summary(
    incidence: pa.Table, clusters: pa.Table, con: SqlConnection, *, min_exclusive: float = 0.5
) -> tuple[pa.Table, pa.Table]:
    """Per cluster: cluster_id, identity_linked_share, content_linked_share, link_kinds (see ``LINK_DOC``);
    per account: account_id, identity_tied (it shares an identity key with another member), own_ties (the kinds
    of key that tie it to other members, each with how many others share such a key with it, most first, and
    how many accounts carry that key in all; null where nothing does).

    A key ties two members when both carry it; what ties a cluster together says how sure the link is:
    a payment method or a private network is an identity, a shared template alone may be a public one.
    A key counts only where at least ``min_exclusive`` of all the accounts carrying it are in the cluster,
    so a carrier NAT or a popular SDK that everybody shares ties nobody, while a proxy egress or client
    stack that the cluster shares (and few others do) does, however large the cluster is.
    """
    ident = ", ".join(f"'{k}'" for k in IDENTITY_KINDS)
    content = ", ".join(f"'{k}'" for k in CONTENT_KINDS)
    tied = identity_ties(con, incidence, clusters, min_exclusive=min_exclusive)
    with registered(con, {"tied": tied, "cl": clusters.select(["account_id", "cluster_id"])}):
        return _tie_summaries(con, ident, content)


def _tie_summaries(con: SqlConnection, ident: str, content: str) -> tuple[pa.Table, pa.Table]:
    """The cluster and account summaries of the ``tied`` view (see ``link_summary``)."""
    core_ids = identity_core(con.sql(f"SELECT * FROM tied WHERE kind IN ({ident})").to_arrow_table())
    with registered(con, {"core_ids": core_ids}):
        per_cluster = con.sql(
            f"""
          WITH size AS (SELECT cluster_id, count(*) AS n FROM cl GROUP BY cluster_id),
          per_kind AS (SELECT cluster_id, kind, count(DISTINCT account_id) AS a FROM tied GROUP BY ALL),
          kinds AS (
            SELECT cluster_id, list(struct_pack(kind := kind, accounts := a) ORDER BY a DESC, kind) AS link_kinds
            FROM per_kind GROUP BY cluster_id
          ),
          shares AS (
            SELECT cluster_id,
                   count(DISTINCT CASE WHEN kind IN ({ident}) THEN account_id END) AS ni,
                   count(DISTINCT CASE WHEN kind IN ({content}) THEN account_id END) AS nc
            FROM tied GROUP BY cluster_id
          ),
          core AS (SELECT cl.cluster_id, count(*) AS nk FROM cl JOIN core_ids USING (account_id) GROUP BY ALL)
          SELECT size.cluster_id, coalesce(ni, 0) / size.n AS identity_linked_share,
                 coalesce(nc, 0) / size.n AS content_linked_share, coalesce(nk, 0) / size.n AS identity_core_share,
                 kinds.link_kinds
          FROM size LEFT JOIN shares USING (cluster_id) LEFT JOIN kinds USING (cluster_id)
          LEFT JOIN core USING (cluster_id)
          ORDER BY size.cluster_id
        """
        ).to_arrow_table()
        per_account = con.sql(
            """
          WITH shared AS (SELECT cluster_id, kind, key, count(DISTINCT account_id) AS a FROM tied GROUP BY ALL),
          mine AS (
            SELECT t.account_id, t.kind, max(s.a) - 1 AS others, arg_max(t.n_accounts, s.a) AS carriers
            FROM tied t JOIN shared s USING (cluster_id, kind, key) GROUP BY ALL
          ),
          own AS (
            SELECT account_id,
                   list(struct_pack(kind := kind, others := others, carriers := carriers) ORDER BY others DESC, kind)
                     AS ties
            FROM mine GROUP BY account_id
          )
          SELECT cl.account_id, core_ids.account_id IS NOT NULL AS identity_tied, own.ties AS own_ties
          FROM cl LEFT JOIN core_ids USING (account_id) LEFT JOIN own USING (account_id) ORDER BY cl.account_id
        """
        ).to_arrow_table()
    return per_cluster, per_account


def synchrony(
    con: SqlConnection,
    acc: pa.Table,
    *,
    exchanges: str,
    min_accounts: int = 3,
    max_accounts: int = 2000,
) -> pa.Table:
    """cluster_id, synchrony: mean leave-one-out correlation of accounts' hourly series in the cluster.

    Load-balanced hydra accounts rise and fall together; independent customers do not. Clusters larger
    than ``max_accounts`` are measured on a fixed sample of their accounts so memory stays bounded.
    """
    with registered(con, {"acc": acc}):
        sql = f"""
          WITH big AS (SELECT cluster_id FROM acc GROUP BY cluster_id HAVING count(*) >= {int(min_accounts)}),
          sample AS (
            SELECT account_id, cluster_id FROM (
              SELECT account_id, cluster_id,
                     row_number() OVER (PARTITION BY cluster_id ORDER BY md5(account_id)) AS rn
              FROM acc WHERE cluster_id IN (SELECT cluster_id FROM big))
            WHERE rn <= {int(max_accounts)}
          )
          SELECT s.cluster_id, s.account_id, CAST(epoch(date_trunc('hour', e.ts)) // 3600 AS BIGINT) AS h,
                 count(*) AS c
          FROM {exchanges} e JOIN sample s USING (account_id) GROUP BY ALL ORDER BY s.cluster_id
        """
        tbl = con.sql(sql).to_arrow_table()
    out_ids: list[int] = []
    out_sync: list[float] = []
    if tbl.num_rows == 0:
        return pa.table({"cluster_id": pa.array([], pa.int64()), "synchrony": pa.array([], pa.float64())})
    cid = tbl["cluster_id"].to_numpy()
    # Each account's rank among the distinct account ids (what np.unique's inverse gives), sorting only the
    # distinct ids, not one Python string per (account, hour) row.
    encoded = pc.dictionary_encode(tbl["account_id"].combine_chunks())
    rank = np.empty(len(encoded.dictionary), dtype=np.int64)
    rank[np.argsort(encoded.dictionary.to_numpy(zero_copy_only=False), kind="stable")] = np.arange(len(rank))
    acc_codes = rank[encoded.indices.to_numpy(zero_copy_only=False)]
    hours = tbl["h"].to_numpy()
    counts = tbl["c"].to_numpy().astype(np.float64)
    bounds = np.flatnonzero(np.diff(cid)) + 1
    for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, len(cid)], strict=True):
        a = np.unique(acc_codes[lo:hi], return_inverse=True)[1]
        h = hours[lo:hi] - hours[lo:hi].min()
        m = sp.csr_matrix((counts[lo:hi], (a, h)), shape=(a.max() + 1, h.max() + 1)).toarray()
        total = m.sum(axis=0)
        rest = total[None, :] - m
        mc = m - m.mean(axis=1, keepdims=True)
        rc = rest - rest.mean(axis=1, keepdims=True)
        denom = np.sqrt((mc * mc).sum(axis=1) * (rc * rc).sum(axis=1))
        with np.errstate(invalid="ignore", divide="ignore"):
            r = np.where(denom > 0, (mc * rc).sum(axis=1) / denom, 0.0)
        out_ids.append(int(cid[lo]))
        out_sync.append(float(np.mean(r)))
    return pa.table({"cluster_id": pa.array(out_ids, pa.int64()), "synchrony": pa.array(out_sync, pa.float64())})
