"""The Spark engine behind ``analyze --engine spark``: the pipeline's ``Engine`` on a SparkSession.

Exchanges are read into a Spark DataFrame (``inputs``) and kept as the ``exchanges`` view; the fingerprint
stage runs as in ``distillguard.spark.fingerprint``; every SQL stage runs its own DuckDB SQL translated
(``SparkSql``); linking's community detection and the scoring rules run on the driver over the reduced
per-account and per-cluster tables, with the same code as the embedded engine. Quarantined records go
to ``OUT/quarantine.parquet``; the result tables are also written to ``OUT/results.duckdb``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from distillguard.fingerprint import FingerprintConfig
from distillguard.spark.fingerprint import fingerprint_frame
from distillguard.spark.inputs import read_inputs
from distillguard.spark.session import get_session
from distillguard.spark.sql import SparkSql
from distillguard.sqlconn import SqlConnection

log = logging.getLogger(__name__)
T = TypeVar("T")

RESULT_TABLES = (
    "fp_families",
    "link_incidence",
    "accounts",
    "campaigns",
    "account_features",
    "clusters",
    "model_releases",
)
"""Tables kept in ``OUT/results.duckdb`` (small: per family, account or cluster)."""


class SparkEngine:
    """``pipeline.Engine`` on Spark (see the module docstring)."""

    def __init__(self, spark: Any, exchanges: Any, out: Path, source: str) -> None:
        self.spark, self.frame, self.out, self.source = spark, exchanges, out, source
        self.con: SparkSql = SparkSql(spark)
        self.con.register_frame("exchanges", exchanges)
        self.exchanges, self.key = "exchanges", "request_id"  # Spark has no stable row id: join on the request
        self.cached: list[Any] = [exchanges]
        self.results = out / "results.duckdb"
        self.results.unlink(missing_ok=True)

    def count(self) -> int:
        return int(self.frame.count())

    def feature_passes(self, n_exchanges: int) -> int:
        return 1  # Spark partitions the query itself

    def fingerprint(self, config: FingerprintConfig) -> pa.Table:
        families, frame = fingerprint_frame(self.frame, self.con, config)
        # Persisted once: every SQL stage joins it.
        self.cached.append(frame)
        self.con.register_frame("fp_exchanges", frame)
        return families

    def keep(self, name: str, table: pa.Table) -> None:
        if name in RESULT_TABLES:
            with duckdb.connect(str(self.results)) as con:
                con.register("t", table)
                con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM t")

    def beside(self, work: Callable[[SqlConnection], T]) -> Future[T]:
        """``work`` run here and now on this engine's connection (Spark spreads each query over its cluster
        already): the future is done when this returns."""
        done: Future[T] = Future()
        try:
            done.set_result(work(self.con))
        except Exception as exc:  # handed to whoever reads the future, as a thread would
            done.set_exception(exc)
        return done

    def close(self) -> None:
        for view in list(self.con.views):
            self.con.unregister(view)
        for frame in self.cached:
            frame.unpersist()


@contextmanager
def spark_engine(inputs: Sequence[str | os.PathLike[str]], out: Path, master: str | None) -> Iterator[SparkEngine]:
    """A ``SparkEngine`` over ``inputs`` (a store, Parquet and/or JSON Lines), quarantine written to ``out``."""
    spark = get_session(master)
    read = read_inputs(spark, inputs)
    if read.quarantine.num_rows:
        log.warning("%d records quarantined (see %s)", read.quarantine.num_rows, out / "quarantine.parquet")
    pq.write_table(read.quarantine, out / "quarantine.parquet")
    exchanges = read.exchanges.persist()
    engine = SparkEngine(spark, exchanges, out, ", ".join(os.fspath(p) for p in inputs))
    engine.cached.extend(read.cached)
    try:
        yield engine
    finally:
        engine.close()
