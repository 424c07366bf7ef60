"""End to end: simulate a small scenario, `distillguard analyze` it through the CLI, check every output."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from distillguard.cli import app
from distillguard.features import account_features, model_releases
from distillguard.fingerprint import FingerprintConfig
from distillguard.fingerprint.stage import collect_in_duckdb
from distillguard.heap import size_bytes
from distillguard.pipeline import (
    ANALYZE_MEMORY_LIMIT,
    CLUSTERING_MEMORY,
    FEATURE_PASS_ROWS,
    SPILL_SUFFIX,
    _StoreEngine,
)
from distillguard.schema import ROW_KEY
from distillguard.simulate import simulate
from distillguard.sqlconn import SqlConnection
from distillguard.store import Store

DETECTOR = ("fingerprint", "features", "linking", "scoring")
SRC = Path(__file__).resolve().parent.parent / "src" / "distillguard"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("e2e")
    simulate("reported-2026", base / "sim", scale=0.1, seed=3)
    result = CliRunner().invoke(
        app,
        ["analyze", str(base / "sim" / "log"), "--out", str(base / "res"), "--store", str(base / "s.duckdb"),
         "--alerts", str(base / "alerts.jsonl")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return base


def test_outputs_follow_the_contract(run: Path) -> None:
    acc = pq.read_table(run / "res" / "accounts.parquet")
    for col in ("account_id", "risk", "flagged", "campaign_id", "first_flagged_at", "first_flag_rules", "evidence"):
        assert col in acc.column_names
    rows = acc.to_pylist()
    assert all(0.0 <= r["risk"] <= 1.0 for r in rows)
    flagged = [r for r in rows if r["flagged"]]
    assert flagged, "a scenario with three campaigns must flag someone"
    for r in flagged:
        assert r["evidence"], f"{r['account_id']} flagged without evidence"
        assert r["campaign_id"] is not None and r["first_flagged_at"] is not None
        assert r["first_flag_rules"], f"{r['account_id']}: what held when it was first flagged is missing"
        assert any(re.search(r"\d", e) for e in r["evidence"]), "evidence must carry the values"
    camp = pq.read_table(run / "res" / "campaigns.parquet").to_pylist()
    assert {c["campaign_id"] for c in camp} == {r["campaign_id"] for r in flagged}
    for c in camp:
        assert c["accounts"] == len(c["account_ids"]) and c["exchanges"] > 0
        assert abs(sum(x["share"] for x in c["capabilities"]) - 1.0) < 1e-6
        assert c["first_seen"] <= c["last_seen"]
    summary = json.loads((run / "res" / "summary.json").read_text())
    assert summary["flagged_accounts"] == len(flagged) and summary["campaigns"] == len(camp)
    # The run's own memory figure: this test process has held at least the interpreter and DuckDB.
    assert summary["memory_limit"] == ANALYZE_MEMORY_LIMIT and 50 < summary["peak_rss_mib"] < 64 * 1024
    alerts = [json.loads(line) for line in (run / "alerts.jsonl").read_text().splitlines()]
    assert alerts and all(a["event"]["kind"] == "alert" for a in alerts)


def test_analyze_reads_a_store_and_is_repeatable(run: Path) -> None:
    result = CliRunner().invoke(app, ["analyze", str(run / "s.duckdb"), "--out", str(run / "res2")])
    assert result.exit_code == 0, result.output
    a = pq.read_table(run / "res" / "accounts.parquet").select(["account_id", "risk", "flagged", "campaign_id"])
    b = pq.read_table(run / "res2" / "accounts.parquet").select(["account_id", "risk", "flagged", "campaign_id"])
    assert a.equals(b)


def test_the_detector_never_imports_the_simulator() -> None:
    for stage in DETECTOR:
        for path in (SRC / stage).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            assert not re.search(r"(from|import)\s+distillguard\.(simulate|evaluate)", text), path
            assert not re.search(r"from\s+\.\.?(simulate|evaluate)", text), path


def test_a_memory_limit_that_is_not_a_size_is_refused_before_any_work(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["analyze", str(tmp_path / "none.jsonl"), "--out", str(tmp_path / "o"), "--memory-limit", "lots"]
    )
    assert result.exit_code == 2 and "is not a size" in result.output
    assert not (tmp_path / "o").exists()


def test_features_in_passes_equal_features_in_one(run: Path) -> None:
    """Large logs compute the features a share of the accounts at a time (``account_features(passes=k)``),
    with what needs every account (each family's accounts, the releases) read from tables: the result is the
    one-pass result, row for row."""
    with Store.open(run / "s.duckdb") as store:
        con = store.connection
        keyed = {"exchanges": store.keyed_exchanges(), "key": ROW_KEY}
        whole = account_features(con, **keyed)
        assert whole.num_rows > 100
        for passes in (2, 3):
            _same(account_features(con, passes=passes, **keyed), whole)
        releases = model_releases(con, exchanges=keyed["exchanges"])  # as the pipeline hands it over
        _same(account_features(con, passes=2, releases=releases, **keyed), whole)
        _same(account_features(con), whole)  # joined on the request_id: the same


def _same(got: pa.Table, want: pa.Table) -> None:
    """Equal tables, floats to 1e-9 (DuckDB's parallel sums add in no fixed order)."""
    assert got.schema == want.schema and got.num_rows == want.num_rows
    for name in want.column_names:
        a, b = got[name].to_pylist(), want[name].to_pylist()
        if pa.types.is_floating(want.schema.field(name).type):
            assert [x is None for x in a] == [y is None for y in b], name
            pairs = [(x, y) for x, y in zip(a, b, strict=True) if y is not None]
            assert [x for x, _ in pairs] == pytest.approx([y for _, y in pairs], rel=1e-9, nan_ok=True), name
        else:
            assert a == b, name


def test_the_fingerprint_spill_leaves_nothing_beside_the_store(run: Path) -> None:
    """The spill directory is gone after a run, and one a killed run left behind is removed by the next."""
    assert not list(run.glob(f"s.duckdb{SPILL_SUFFIX}*"))  # the fixture's run cleaned up after itself
    left = run / f"s.duckdb{SPILL_SUFFIX}killed"
    left.mkdir()
    (left / "user-texts.arrow").write_bytes(b"half written")
    result = CliRunner().invoke(app, ["analyze", str(run / "s.duckdb"), "--out", str(run / "again")])
    assert result.exit_code == 0, result.output
    assert not list(run.glob(f"s.duckdb{SPILL_SUFFIX}*"))
    assert pq.read_table(run / "again" / "families.parquet").equals(pq.read_table(run / "res" / "families.parquet"))


def test_the_store_engine_splits_the_features_by_size_and_memory_limit(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.duckdb") as store:
        default = _StoreEngine(store, "s", ANALYZE_MEMORY_LIMIT)
        sizes = (10, FEATURE_PASS_ROWS, FEATURE_PASS_ROWS + 1, 4 * FEATURE_PASS_ROWS)
        assert [default.feature_passes(n) for n in sizes] == [1, 1, 2, 4]
        half = size_bytes(ANALYZE_MEMORY_LIMIT) // 2  # type: ignore[operator]
        assert _StoreEngine(store, "s", f"{half}B").feature_passes(4 * FEATURE_PASS_ROWS) == 8
        assert _StoreEngine(store, "s", None).feature_passes(4_000_000) == 1


def test_stage_memory_limits_nest_and_set_back_what_was_there(tmp_path: Path) -> None:
    def limit(store: Store) -> int:
        text = store.connection.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
        return size_bytes(text.replace(" ", "")) or 0  # "64.0 MiB": DuckDB rounds what it shows

    with Store.open(tmp_path / "s.duckdb", memory_limit="768MB") as store:
        eng = _StoreEngine(store, "s", "768MB")
        opened = limit(store)
        with eng._limit(1 / 3):
            stage = limit(store)
            with eng._limit(0.0, CLUSTERING_MEMORY):
                assert limit(store) < stage < opened
            assert limit(store) == stage  # the outer block's limit, not the one the store was opened with
        assert limit(store) == opened
        unlimited = _StoreEngine(store, "s", None)
        with unlimited._limit(0.0, CLUSTERING_MEMORY):
            assert limit(store) == opened  # opened without a limit: nothing to lower


def test_the_fingerprint_stage_clusters_inside_the_engines_context(tmp_path: Path) -> None:
    entered: list[str] = []

    @contextmanager
    def squeeze() -> Iterator[None]:
        entered.append("in")
        yield
        entered.append("out")

    con = duckdb.connect()
    rows = pa.table({"request_id": ["r1", "r2"], "account_id": ["a", "b"], "first_user_text": ["hi there", "hi"]})
    stage = collect_in_duckdb(con, rows.to_batches(), FingerprintConfig(), while_clustering=squeeze)
    assert entered == ["in", "out"] and stage.families.num_rows >= 1


def test_work_beside_runs_on_a_connection_of_its_own_and_waits_for_the_store(run: Path) -> None:
    """``Engine.beside`` runs SQL on the store's exchanges (its keyed view made on a cursor of its own) in a
    thread while the caller goes on with the main connection, hands back the result or the error, and closing
    the engine waits for it."""

    def limit(con: SqlConnection) -> int:
        text = con.sql("SELECT current_setting('memory_limit') AS m").to_arrow_table()["m"][0].as_py()
        return size_bytes(text.replace(" ", "")) or 0

    with Store.open(run / "s.duckdb", memory_limit=ANALYZE_MEMORY_LIMIT) as store:
        eng = _StoreEngine(store, "s", ANALYZE_MEMORY_LIMIT)
        n = store.count("exchanges")
        threads: list[str] = []
        opened = limit(store.connection)
        # DuckDB's limit is lowered while the work runs (the caller's Python is resident beside it), then set back.
        assert eng.beside(limit).result(timeout=60) < opened
        assert limit(store.connection) == opened

        def count(con: SqlConnection) -> int:
            import threading

            threads.append(threading.current_thread().name)
            got = con.sql(f"SELECT count(DISTINCT {ROW_KEY}) AS n FROM {eng.exchanges}").to_arrow_table()
            return int(got["n"][0].as_py())

        pending = eng.beside(count)
        # The main connection is free meanwhile, its registrations its own.
        store.connection.register("mine", pa.table({"x": [1, 2]}))
        assert store.connection.sql("SELECT sum(x) FROM mine").fetchall()[0][0] == 3
        failing = eng.beside(lambda con: con.sql("SELECT * FROM mine").to_arrow_table())  # not visible there
        assert pending.result(timeout=60) == n and threads[0].startswith("store-beside")
        with pytest.raises(duckdb.CatalogException):
            failing.result(timeout=60)
        late = eng.beside(count)
        eng.close()
        assert late.done() and late.result() == n
