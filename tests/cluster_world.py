"""A minimal store for the cluster-feature tests: one exchange per account, every column `cluster_features` reads."""

from __future__ import annotations

import duckdb
import pyarrow as pa


def one_exchange_each(accounts: list[str]) -> duckdb.DuckDBPyConnection:
    """An in-memory connection with ``exchanges`` (one row per account, at one time, the other columns null),
    ``fp`` (every exchange in family 1, chat, no flag), ``releases`` (none). Pass ``exchanges="exchanges",
    fp="fp"`` to ``cluster_features``."""
    con = duckdb.connect()
    con.register("accs", pa.table({"account_id": accounts}))
    con.execute("CREATE TABLE exchanges AS SELECT 'r' || account_id AS request_id, account_id FROM accs")
    con.execute("ALTER TABLE exchanges ADD COLUMN ts TIMESTAMPTZ DEFAULT TIMESTAMPTZ '2026-01-01 00:00:00+00'")
    for col, typ in (("model", "VARCHAR"), ("n_assistant_turns", "INTEGER"), ("thinking_requested", "BOOLEAN"),
                     ("thinking_budget", "INTEGER"), ("n_tool_results", "INTEGER"), ("end_user_id", "VARCHAR"),
                     ("client_net", "VARCHAR"), ("tools_offered", "VARCHAR[]")):  # fmt: skip
        con.execute(f"ALTER TABLE exchanges ADD COLUMN {col} {typ}")
    con.execute(
        "CREATE TABLE fp AS SELECT request_id, 1::BIGINT AS family_id, 'chat' AS capability, false AS cot_elicitation, "
        "false AS reasoning_reconstruction, false AS trace_coercion, false AS rubric_grading, "
        "false AS sensitive_rewrite FROM exchanges"
    )
    con.register("releases", pa.table({"model": pa.array([], pa.string())}))
    return con
