"""Per-account behaviour vectors, one SQL definition run by DuckDB.

The SQL is the single definition of every feature: the embedded engine runs it as is, and an engine for
scale-out translates the same text. Column meanings are listed in ``FEATURE_DOC``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from distillguard.features.flags import EXCHANGE_FLAGS, N_TOOLS, flag_shares, hashed, reply_key
from distillguard.fingerprint import AREAS
from distillguard.sqlconn import SqlConnection, registered

CAPABILITIES = AREAS
"""Capability areas the fingerprint stage assigns to template families."""

HIGH_VALUE = ("reasoning", "coding", "agentic", "data_analysis", "computer_use", "vision", "rubric_grading")
"""Areas whose outputs are the most valuable as training data for a student model."""

# Rough UTC offset (hours) of where most of a country's people live; used to place activity in the
# account's local day. Unknown countries fall back to 0, which only weakens the night-share signal.
_TZ = {
    "US": -6,
    "CA": -5,
    "MX": -6,
    "BR": -3,
    "AR": -3,
    "CL": -4,
    "CO": -5,
    "PE": -5,
    "GB": 0,
    "IE": 0,
    "PT": 0,
    "ES": 1,
    "FR": 1,
    "DE": 1,
    "NL": 1,
    "BE": 1,
    "CH": 1,
    "AT": 1,
    "IT": 1,
    "SE": 1,
    "NO": 1,
    "DK": 1,
    "PL": 1,
    "CZ": 1,
    "FI": 2,
    "GR": 2,
    "RO": 2,
    "UA": 2,
    "IL": 2,
    "TR": 3,
    "RU": 3,
    "SA": 3,
    "AE": 4,
    "EG": 2,
    "ZA": 2,
    "NG": 1,
    "KE": 3,
    "IN": 5,
    "PK": 5,
    "BD": 6,
    "TH": 7,
    "VN": 7,
    "ID": 7,
    "MY": 8,
    "SG": 8,
    "PH": 8,
    "CN": 8,
    "HK": 8,
    "TW": 8,
    "KR": 9,
    "JP": 9,
    "AU": 10,
    "NZ": 12,
}


@dataclass(frozen=True)
class FeatureConfig:
    """Definitions (not thresholds) that features depend on."""

    large_thinking_budget: int = 8000
    release_grace_hours: float = 24.0
    """A model first seen this long after the log starts counts as a release seen in the log."""
    shared_family_accounts: int = 5
    """A template family used by at least this many accounts counts as shared across accounts."""


FEATURE_DOC: dict[str, str] = {
    "account_id": "the account",
    "n_exchanges": "exchanges sent",
    "first_ts": "first exchange",
    "last_ts": "last exchange",
    "active_days": "distinct UTC days with traffic",
    "active_hours": "distinct UTC hours (date+hour) with traffic",
    "per_active_hour": "exchanges per active hour",
    "peak_hour": "most exchanges in one clock hour",
    "gap_cv": "coefficient of variation of the gaps between exchanges (low = machine-regular)",
    "hour_entropy": "entropy of the UTC hour of day, normalised to [0,1] (1 = round the clock)",
    "night_share": "share sent between 01:00 and 06:00 in the account's country",
    "n_families": "distinct template families",
    "top_family_share": "share of the largest template family",
    "family_entropy": "entropy of template families, normalised by log(n_exchanges)",
    "shared_family_share": "share of traffic in families that many accounts use",
    "max_family_accounts": "accounts in the widest family this account uses",
    "top_capability": "capability area with most traffic",
    "top_capability_share": "its share",
    "capability_entropy": "entropy of capability areas, normalised to [0,1]",
    "high_value_share": "share in high-value capability areas (reasoning, coding, agentic, ...)",
    "cot_share": "share eliciting chain-of-thought (step-by-step, reconstruction, trace coercion)",
    "reconstruction_share": "share asking to reconstruct the reasoning behind a given answer",
    "coercion_share": "share coercing the language or form of the reasoning trace",
    "rubric_share": "share of rubric grading (reward-model use)",
    "rewrite_share": "share of 'safe rewrite' requests of sensitive questions",
    "refusal_probe_share": "share probing refusals",
    "thinking_share": "share with thinking / reasoning requested",
    "large_budget_share": "share with a thinking budget at or above the configured size",
    "single_turn_share": "share with no earlier assistant turn (no conversation)",
    "tools_offered_share": "share offering tools",
    "tool_result_share": "share returning tool results (a real tool loop)",
    "tool_loop_ratio": "exchanges with tool results / exchanges offering tools",
    "image_share": "share with images",
    "out_in_ratio": "median output/input tokens",
    "saturation_share": "share stopped at max_tokens",
    "error_share": "share with HTTP status >= 400",
    "n_ips": "distinct source addresses",
    "n_nets": "distinct /24 or /48 networks",
    "n_user_agents": "distinct user agents",
    "n_end_users": "distinct declared end users",
    "n_models": "distinct models",
    "new_model_share": "share on a model released during the log, after its release",
    "pivot_hours": "hours from a release to this account's first use of it (accounts active before it)",
    "history_share": "share carrying an earlier assistant turn (a conversation or tool-loop history)",
    "continuity_share": "of those, share whose last assistant turn is a reply this account really received",
    "fabricated_share": "share carrying a history the account never received: fabricated conversations",
    "fabricated_distinct_share": "of those fabricated histories, the share that are distinct (by their last "
    "assistant turn): a few-shot prompt repeats one made-up history, synthetic traces are each new",
    "standalone_share": "share that is not a genuine continuation of the account's own conversation "
    "(single-turn or fabricated history)",
    "pathway": "sign-up pathway",
    "verified": "identity verified",
    "country": "account country",
    "org_id": "organisation",
    "payment_fingerprint": "payment-method fingerprint",
    "email_domain": "sign-up e-mail domain",
    "account_created": "account creation time",
    "age_days_at_first": "account age in days at its first exchange",
}

_SQL = """
WITH x AS (
  SELECT hash(e.account_id) AS akey, e.ts, e.model, e.country, {client_ip}, {client_net}, {user_agent},
         {context_digest}, {reply_digest},
         {end_user_id}, e.n_assistant_turns, e.n_tool_results, {n_tools},
         e.n_images, e.thinking_requested, e.thinking_budget, e.input_tokens, e.output_tokens,
         e.stop_reason, e.status, f.family_id, f.capability, f.cot_elicitation,
         f.reasoning_reconstruction, f.trace_coercion, f.rubric_grading, f.sensitive_rewrite,
         f.refusal_probe
  FROM {exchanges} e JOIN {fp} f USING ({key}){part_x}
),
meta AS (
  SELECT hash(account_id) AS akey, min(account_id) AS account_id,
         mode(pathway) AS pathway, bool_or(coalesce(verified, false)) AS verified,
         mode(country) AS country, mode(org_id) AS org_id, mode(payment_fingerprint) AS payment_fingerprint,
         mode(email_domain) AS email_domain, min(account_created) AS account_created
  FROM {exchanges}{part_meta} GROUP BY hash(account_id)
),
replies AS (
  SELECT DISTINCT {reply} AS d FROM x WHERE reply_digest IS NOT NULL
),
continuity AS (
  SELECT x.akey, count(*) AS n_ctx, count(r.d) AS n_cont, count(*) - count(r.d) AS n_fab,
         count(DISTINCT CASE WHEN r.d IS NULL THEN x.context_digest END) AS n_fab_distinct
  FROM x LEFT JOIN replies r ON r.d = {context}
  WHERE x.context_digest IS NOT NULL GROUP BY x.akey
),
gaps AS (
  SELECT akey,
         epoch(ts) - epoch(lag(ts) OVER (PARTITION BY akey ORDER BY ts)) AS gap
  FROM x
),
gap_stats AS (
  SELECT akey, CASE WHEN avg(gap) > 0 THEN stddev_pop(gap) / avg(gap) END AS gap_cv
  FROM gaps WHERE gap IS NOT NULL GROUP BY akey
),
hours AS (
  SELECT akey, hour(ts) AS h, count(*) AS c FROM x GROUP BY ALL
),
hour_stats AS (
  SELECT akey, -sum(p * ln(p)) / ln(24) AS hour_entropy
  FROM (SELECT akey, c / sum(c) OVER (PARTITION BY akey) AS p FROM hours)
  GROUP BY akey
),
clock AS (
  SELECT akey, date_trunc('hour', ts) AS hr, count(*) AS c FROM x GROUP BY ALL
),
clock_stats AS (
  SELECT akey, count(*) AS active_hours, max(c) AS peak_hour FROM clock GROUP BY akey
),
fam AS (
  SELECT akey, family_id, count(*) AS c FROM x GROUP BY ALL
),
fam_acc AS (
  {fam_acc}
),
fam_stats AS (
  SELECT akey, count(*) AS n_families, max(p) AS top_family_share,
         CASE WHEN sum(c) > 1 THEN -sum(p * ln(p)) / ln(sum(c)) ELSE 0 END AS family_entropy,
         sum(CASE WHEN n_acc >= {shared_accounts} THEN p ELSE 0 END) AS shared_family_share,
         max(n_acc) AS max_family_accounts
  FROM (SELECT akey, family_id, c, c / sum(c) OVER (PARTITION BY akey) AS p FROM fam)
  JOIN fam_acc USING (family_id)
  GROUP BY akey
),
cap AS (
  SELECT akey, capability, count(*) AS c FROM x GROUP BY ALL
),
cap_stats AS (
  SELECT akey, first(capability ORDER BY c DESC, capability) AS top_capability, max(p) AS top_capability_share,
         -sum(p * ln(p)) / ln({n_caps}) AS capability_entropy,
         sum(CASE WHEN capability IN ({high_value}) THEN p ELSE 0 END) AS high_value_share
  FROM (SELECT akey, capability, c, c / sum(c) OVER (PARTITION BY akey) AS p FROM cap)
  GROUP BY akey
),
releases AS (
  {releases}
),
model_pivot AS (
  SELECT x.akey,
         avg(CASE WHEN r.model IS NOT NULL THEN 1.0 ELSE 0.0 END) AS new_model_share,
         min(CASE WHEN r.model IS NOT NULL AND fa.first_ts < r.released
                  THEN epoch(x.ts) - epoch(r.released) END) / 3600.0 AS pivot_hours
  FROM x LEFT JOIN releases r ON x.model = r.model
  JOIN (SELECT akey, min(ts) AS first_ts FROM x GROUP BY akey) fa ON fa.akey = x.akey
  GROUP BY x.akey
),
base AS (
  SELECT akey,
         count(*) AS n_exchanges, min(ts) AS first_ts, max(ts) AS last_ts,
         count(DISTINCT CAST(ts AS DATE)) AS active_days,
         avg(CASE WHEN ((hour(ts) + coalesce(tz.off, 0) + 24) % 24) BETWEEN 1 AND 5 THEN 1.0 ELSE 0.0 END)
           AS night_share,
         {flag_shares},
         median(output_tokens / greatest(input_tokens, 1)) AS out_in_ratio,
         avg(CASE WHEN stop_reason = 'max_tokens' THEN 1.0 ELSE 0.0 END) AS saturation_share,
         avg(CASE WHEN coalesce(status, 200) >= 400 THEN 1.0 ELSE 0.0 END) AS error_share,
         count(DISTINCT client_ip) AS n_ips, count(DISTINCT client_net) AS n_nets,
         count(DISTINCT user_agent) AS n_user_agents, count(DISTINCT end_user_id) AS n_end_users,
         count(DISTINCT model) AS n_models
  FROM x LEFT JOIN tz ON x.country = tz.country
  GROUP BY akey
)
SELECT m.account_id, b.n_exchanges, b.first_ts, b.last_ts, b.active_days, c.active_hours,
       b.n_exchanges / c.active_hours AS per_active_hour, c.peak_hour,
       coalesce(g.gap_cv, 0.0) AS gap_cv, h.hour_entropy, b.night_share,
       f.n_families, f.top_family_share, f.family_entropy, f.shared_family_share, f.max_family_accounts,
       k.top_capability, k.top_capability_share, k.capability_entropy, k.high_value_share,
       b.cot_share, b.reconstruction_share, b.coercion_share, b.rubric_share, b.rewrite_share,
       b.refusal_probe_share, b.thinking_share, b.large_budget_share, b.single_turn_share,
       b.tools_offered_share, b.tool_result_share,
       CASE WHEN b.tools_offered_share > 0 THEN b.tool_result_share / b.tools_offered_share ELSE 0 END
         AS tool_loop_ratio,
       b.image_share, b.out_in_ratio, b.saturation_share, b.error_share,
       b.n_ips, b.n_nets, b.n_user_agents, b.n_end_users, b.n_models,
       p.new_model_share,
       coalesce(ct.n_ctx, 0) / b.n_exchanges AS history_share,
       ct.n_cont / ct.n_ctx AS continuity_share,
       coalesce(ct.n_fab, 0) / b.n_exchanges AS fabricated_share,
       ct.n_fab_distinct / nullif(ct.n_fab, 0) AS fabricated_distinct_share,
       b.single_turn_share + coalesce(ct.n_fab, 0) / b.n_exchanges AS standalone_share,
       p.pivot_hours,
       m.pathway, m.verified, m.country, m.org_id, m.payment_fingerprint, m.email_domain, m.account_created,
       (epoch(b.first_ts) - epoch(m.account_created)) / 86400.0 AS age_days_at_first
FROM base b
JOIN clock_stats c USING (akey)
JOIN hour_stats h USING (akey)
JOIN fam_stats f USING (akey)
JOIN cap_stats k USING (akey)
JOIN model_pivot p USING (akey)
JOIN meta m USING (akey)
LEFT JOIN gap_stats g USING (akey)
LEFT JOIN continuity ct USING (akey)
ORDER BY m.account_id
"""


HASHED = ("client_ip", "client_net", "user_agent", "context_digest", "reply_digest", "end_user_id")
"""Text columns the features only count distinct values of or compare for equality. The shared relation ``x``
is materialized and read by every aggregate, so it carries 64-bit hashes of these (NULL kept NULL), and the
account as ``akey``, the hash of its id (``meta`` maps it back): every aggregate groups by an integer. At 4M
exchanges the query took 8.9 s and 2.55 GiB with the strings, 7.1 s and 2.34 GiB with the hashes; under a
1536 MB memory limit 16.6 -> 12.4 s (less to spill). Two values of one account colliding (2**-64 a pair)
would count once; two accounts colliding would merge (2**-64 a pair of accounts)."""


def _hashed(col: str) -> str:
    return f"{hashed(f'e.{col}')} AS {col}"


_WHOLE_FAM_ACC = "SELECT family_id, count(*) AS n_acc FROM fam GROUP BY family_id"
_WHOLE_RELEASES = """SELECT model, min(ts) AS released FROM x GROUP BY model
  HAVING min(ts) > (SELECT min(ts) FROM x) + to_microseconds(CAST({grace_us} AS BIGINT))"""


def _sql(cfg: FeatureConfig, exchanges: str, fp: str, key: str, part: tuple[int, int, str] | None = None) -> str:
    """The features query: of every account, or (``part`` = (i, k, families)) of the accounts whose id hashes
    to i modulo k, with what needs every account read from tables: each family's accounts from ``families``
    (the fingerprint's ``n_accounts``), the releases from the view ``feature_releases``."""
    grace_us = int(cfg.release_grace_hours * 3600 * 1_000_000)
    if part is None:
        part_x = part_meta = ""
        fam_acc, releases = _WHOLE_FAM_ACC, _WHOLE_RELEASES.format(grace_us=grace_us)
    else:
        i, k, families = part
        part_x = f" WHERE hash(e.account_id) % {int(k)} = {int(i)}"
        part_meta = f" WHERE hash(account_id) % {int(k)} = {int(i)}"
        fam_acc = f"SELECT family_id, n_accounts AS n_acc FROM {families}"
        releases = "SELECT model, released FROM feature_releases"
    return _SQL.format(
        **{c: _hashed(c) for c in HASHED},
        exchanges=exchanges,
        fp=fp,
        key=key,
        part_x=part_x,
        part_meta=part_meta,
        fam_acc=fam_acc,
        releases=releases,
        shared_accounts=int(cfg.shared_family_accounts),
        n_caps=len(CAPABILITIES),
        high_value=", ".join(f"'{c}'" for c in HIGH_VALUE),
        flag_shares=flag_shares(EXCHANGE_FLAGS, large_budget=int(cfg.large_thinking_budget)),
        n_tools=N_TOOLS,
        reply=reply_key("akey", "reply_digest"),  # one 64-bit key per pair (see ``reply_key``)
        context=reply_key("x.akey", "x.context_digest"),
    )


def _tz() -> pa.Table:
    return pa.table({"country": list(_TZ), "off": list(_TZ.values())})


def account_features(
    con: SqlConnection,
    *,
    exchanges: str = "exchanges",
    fp: str = "fp_exchanges",
    key: str = "request_id",
    config: FeatureConfig | None = None,
    passes: int = 1,
    families: str = "fp_families",
    releases: pa.Table | None = None,
) -> pa.Table:
    """One row per account with every column of ``FEATURE_DOC`` (``key``: the column that joins ``exchanges``
    to ``fp``, the request_id or an engine's ``schema.ROW_KEY``), ordered by account_id.

    ``passes`` > 1 runs the query once per share of the accounts (by a hash of their id), each reading only
    its accounts' exchanges, so that what the query holds at once (its shared relation is materialized)
    stays in memory instead of spilling: at 4M exchanges under the 1536 MB limit, 13.5 s in one pass, 9.7 s in
    four. What needs every account comes from tables then: how many accounts use each family from
    ``families`` (the fingerprint's family table) and the releases from ``releases`` (``model_releases``'s
    table, computed here when not given)."""
    cfg = config or FeatureConfig()
    if passes <= 1:
        with registered(con, {"tz": _tz()}):
            return con.sql(_sql(cfg, exchanges, fp, key)).to_arrow_table()
    if releases is None:
        releases = model_releases(con, exchanges=exchanges, config=cfg)
    with registered(con, {"tz": _tz(), "feature_releases": releases}):
        parts = [con.sql(_sql(cfg, exchanges, fp, key, (i, passes, families))).to_arrow_table() for i in range(passes)]
    return pa.concat_tables(parts).sort_by("account_id")


def model_releases(
    con: SqlConnection, *, exchanges: str = "exchanges", config: FeatureConfig | None = None
) -> pa.Table:
    """Models first seen well after the log starts: (model, released) — releases the log itself shows."""
    cfg = config or FeatureConfig()
    grace = int(cfg.release_grace_hours * 3600 * 1_000_000)
    sql = f"""
      SELECT model, min(ts) AS released FROM {exchanges} GROUP BY model
      HAVING min(ts) > (SELECT min(ts) FROM {exchanges}) + to_microseconds(CAST({grace} AS BIGINT))
      ORDER BY released
    """
    return con.sql(sql).to_arrow_table()
