"""Load labels and results, join them in DuckDB, compute the report."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from distillguard.errors import InputError
from distillguard.evaluate.metrics import average_precision, prf, ratio
from distillguard.evaluate.report import AccountMetrics, ArchetypeMetrics, CampaignMetrics, EvaluationReport

log = logging.getLogger(__name__)

_LABEL_COLS = {"account_id", "label", "campaign", "archetype"}
_EXCH_COLS = {"account_id", "ts", "campaign"}
_RESULT_REQUIRED = {"account_id", "risk", "flagged"}


def evaluate(labels_dir: str | Path, results_dir: str | Path) -> EvaluationReport:
    labels_dir, results_dir = Path(labels_dir), Path(results_dir)
    if not (labels_dir / "accounts.parquet").exists() and (labels_dir / "labels" / "accounts.parquet").exists():
        labels_dir = labels_dir / "labels"  # the simulate output folder itself was given
    la, lx, ra = (labels_dir / "accounts.parquet", labels_dir / "exchanges.parquet", results_dir / "accounts.parquet")
    for p in (la, lx, ra):
        if not p.is_file():
            raise InputError(f"{p}: file not found")
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    warnings: list[str] = []
    _check_columns(con, la, _LABEL_COLS)
    _check_columns(con, lx, _EXCH_COLS)
    rcols = _check_columns(con, ra, _RESULT_REQUIRED)
    camp = "campaign_id" if "campaign_id" in rcols else "NULL::VARCHAR"
    first = "first_flagged_at" if "first_flagged_at" in rcols else "NULL::TIMESTAMPTZ"
    for col in ("campaign_id", "first_flagged_at"):
        if col not in rcols:
            warnings.append(f"results have no {col} column: the metrics that need it are left empty")
    try:
        con.execute(
            f"""CREATE TEMP TABLE res AS SELECT CAST(account_id AS VARCHAR) AS account_id,
            CAST(risk AS DOUBLE) AS risk, CAST(flagged AS BOOLEAN) AS flagged,
            CAST({camp} AS VARCHAR) AS campaign_id, CAST({first} AS TIMESTAMPTZ) AS first_flagged_at
            FROM read_parquet(?)""",
            [str(ra)],
        )
    except duckdb.Error as exc:
        raise InputError(f"{ra}: columns of the wrong type: {exc}") from exc
    con.execute(
        "CREATE TEMP TABLE lab AS SELECT account_id, label, campaign, archetype FROM read_parquet(?)", [str(la)]
    )
    n_res = _one(con, "SELECT count(*) FROM res")
    if n_res == 0:
        warnings.append(f"{ra} holds no accounts: every labelled account counts as not flagged")
    dups = _one(con, "SELECT count(*) FROM (SELECT account_id FROM res GROUP BY 1 HAVING count(*) > 1)")
    if dups:
        raise InputError(f"{ra}: {dups} account_id values appear more than once")
    bad = _one(con, "SELECT count(*) FROM res WHERE risk IS NULL OR risk < 0 OR risk > 1 OR flagged IS NULL")
    if bad:
        raise InputError(f"{ra}: {bad} rows have risk outside [0, 1] or a null risk/flagged")
    missing = _one(con, "SELECT count(*) FROM lab LEFT JOIN res USING (account_id) WHERE res.account_id IS NULL")
    extra = _one(con, "SELECT count(*) FROM res LEFT JOIN lab USING (account_id) WHERE lab.account_id IS NULL")
    if missing and n_res:
        warnings.append(f"{missing} labelled accounts are missing from the results: counted as not flagged, risk 0")
    if extra:
        warnings.append(f"{extra} accounts in the results are not in the labels: ignored")
    con.execute(
        """CREATE TEMP TABLE j AS SELECT lab.*, coalesce(res.risk, 0.0) AS risk,
        coalesce(res.flagged, false) AS flagged, res.campaign_id,
        CASE WHEN coalesce(res.flagged, false) THEN res.first_flagged_at END AS first_flagged_at
        FROM lab LEFT JOIN res USING (account_id)"""
    )
    no_time = _one(con, "SELECT count(*) FROM j WHERE flagged AND first_flagged_at IS NULL")
    if no_time and "first_flagged_at" in rcols:
        warnings.append(f"{no_time} flagged accounts have no first_flagged_at: all their exchanges count as leaked")
    accounts = _account_metrics(con)
    con.execute(
        """CREATE TEMP TABLE ax AS SELECT x.account_id, count(*) AS n, min(x.ts) AS first_ts,
        count(*) FILTER (WHERE j.first_flagged_at IS NULL OR x.ts < j.first_flagged_at) AS leaked
        FROM read_parquet(?) x JOIN j USING (account_id) WHERE j.label = 'attack' GROUP BY 1""",
        [str(lx)],
    )
    attack_x = _one(con, "SELECT coalesce(sum(n), 0) FROM ax")
    covered = _one(con, "SELECT coalesce(sum(n), 0) FROM ax JOIN j USING (account_id) WHERE j.flagged")
    return EvaluationReport(
        accounts=accounts,
        attack_exchanges=attack_x,
        exchange_weighted_recall=ratio(covered, attack_x),
        campaigns=tuple(_campaigns(con)),
        archetypes=tuple(_archetypes(con)),
        missing_accounts=missing,
        extra_accounts=extra,
        warnings=tuple(warnings),
    )


def _check_columns(con: duckdb.DuckDBPyConnection, path: Path, need: set[str]) -> set[str]:
    try:
        cols = {r[0] for r in con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall()}
    except duckdb.Error as exc:
        raise InputError(f"{path}: not a readable Parquet file: {exc}") from exc
    lacking = need - cols
    if lacking:
        raise InputError(f"{path}: missing column(s) {', '.join(sorted(lacking))}")
    return cols


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _account_metrics(con: duckdb.DuckDBPyConnection) -> AccountMetrics:
    data = con.execute("SELECT label = 'attack' AS pos, flagged, risk FROM j").fetchnumpy()
    pos = np.asarray(data["pos"], dtype=bool)
    flag = np.asarray(data["flagged"], dtype=bool)
    tp, fp = int((pos & flag).sum()), int((~pos & flag).sum())
    fn, tn = int((pos & ~flag).sum()), int((~pos & ~flag).sum())
    p, r, f1 = prf(tp, fp, fn)
    return AccountMetrics(
        accounts=len(pos),
        attack_accounts=int(pos.sum()),
        flagged=int(flag.sum()),
        tp=tp,
        fp=fp,
        fn=fn,
        tn=tn,
        precision=p,
        recall=r,
        f1=f1,
        pr_auc=average_precision(np.asarray(data["risk"], dtype=np.float64), pos),
    )


def _campaigns(con: duckdb.DuckDBPyConnection) -> list[CampaignMetrics]:
    base = con.execute(
        """SELECT j.campaign, count(*), count(*) FILTER (WHERE flagged), sum(ax.n),
        coalesce(sum(ax.n) FILTER (WHERE flagged), 0), min(ax.first_ts), min(first_flagged_at), sum(ax.leaked)
        FROM j LEFT JOIN ax USING (account_id) WHERE j.label = 'attack' GROUP BY 1 ORDER BY 1"""
    ).fetchall()
    pred = con.execute(
        """SELECT campaign, campaign_id, count(*) AS c FROM j
        WHERE label = 'attack' AND campaign_id IS NOT NULL GROUP BY 1, 2 ORDER BY 1, c DESC, 2"""
    ).fetchall()
    sizes = dict(con.execute("SELECT campaign_id, count(*) FROM j WHERE campaign_id IS NOT NULL GROUP BY 1").fetchall())
    best: dict[str, tuple[str, int]] = {}
    for c, pid, cnt in pred:
        best.setdefault(c, (pid, int(cnt)))
    out = []
    for c, n, found, nx, cov, first_ts, first_flag, leaked in base:
        nx = int(nx or 0)
        pid, cnt = best.get(c, (None, 0))
        out.append(
            CampaignMetrics(
                campaign=str(c),
                accounts=int(n),
                found=int(found),
                exchanges=nx,
                exchange_coverage=float(ratio(int(cov), nx) or 0.0),
                predicted_campaign=pid,
                predicted_share=ratio(cnt, int(n)) if pid else None,
                purity=ratio(cnt, int(sizes[pid])) if pid else None,
                first_exchange_at=_utc(first_ts),
                first_flag_at=_utc(first_flag),
                time_to_first_flag_s=(first_flag - first_ts).total_seconds() if first_flag and first_ts else None,
                leak_before_detection=float(ratio(int(leaked or 0), nx) or 0.0),
            )
        )
    return out


def _archetypes(con: duckdb.DuckDBPyConnection) -> list[ArchetypeMetrics]:
    rows = con.execute(
        """SELECT archetype, count(*), count(*) FILTER (WHERE flagged),
        list(account_id ORDER BY risk DESC, account_id) FILTER (WHERE flagged)
        FROM j WHERE label = 'legit' GROUP BY 1 ORDER BY 1"""
    ).fetchall()
    return [
        ArchetypeMetrics(
            archetype=str(a),
            accounts=int(n),
            flagged=int(f),
            false_positive_rate=ratio(int(f), int(n)),
            flagged_accounts=tuple(ids or ()),
        )
        for a, n, f, ids in rows
    ]


def _utc(x: Any) -> datetime | None:
    if x is None:
        return None
    if isinstance(x, datetime):
        return x.astimezone(UTC) if x.tzinfo else x.replace(tzinfo=UTC)
    return None
