"""Exchanges for the Spark engine: a Spark DataFrame with the ``schema.EXCHANGES`` columns.

* Parquet files or folders (the EXCHANGES columns) are read by Spark directly.
* JSON Lines logs (plain, ``.gz``, ``.zst``) are read as whole files (``binaryFile``) and normalized in
  ``mapInArrow`` by the ingest stage's own ``normalize_block``, so file names and line numbers of bad
  records are exact; those land in the quarantine table with their reason.
* A ``.duckdb`` store is read through the driver (convenient for tests and small runs).
Duplicate request ids are dropped (one row kept per id), as the store does.
"""

from __future__ import annotations

import io
import logging
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from distillguard.errors import InputError
from distillguard.ingest import ReadOptions, expand_paths
from distillguard.ingest.lines import byte_chunks, compression_of, split_blocks
from distillguard.ingest.sources import BLOCK_LINES, format_of, normalize_block
from distillguard.schema import EXCHANGES, QUARANTINE
from distillguard.spark.sql import spark_safe

log = logging.getLogger(__name__)

_Q = [pa.field(f"q_{f.name}", f.type) for f in QUARANTINE]
NORMALIZED = pa.schema([pa.field("kind", pa.int8()), *EXCHANGES, *_Q])
"""What the JSON Lines ``mapInArrow`` emits: exchanges (kind 0) and quarantine rows (kind 1) in one frame."""


@dataclass(frozen=True)
class Inputs:
    """The exchanges (a Spark DataFrame), the quarantined records (an Arrow table, on the driver) and the
    frames cached on the way (to unpersist when done)."""

    exchanges: Any
    quarantine: pa.Table
    cached: tuple[Any, ...] = ()


def _is_uri(text: str) -> bool:
    """A path on a cluster file system (s3a://, abfss://, gs://, hdfs://, dbfs:/), left to Spark to list."""
    return bool(re.match(r"[a-zA-Z][a-zA-Z0-9+.-]+:/", text)) and not text.startswith("file:")


def read_inputs(spark: Any, inputs: Sequence[str | os.PathLike[str]], options: ReadOptions | None = None) -> Inputs:
    """Exchanges from a store, Parquet and/or JSON Lines inputs (local paths, folders, globs, or URIs)."""
    options = options or ReadOptions()
    texts = [os.fspath(p) for p in inputs]
    if len(texts) == 1 and texts[0].endswith(".duckdb") and Path(texts[0]).is_file():
        return Inputs(_from_store(spark, Path(texts[0])), QUARANTINE.empty_table())
    parquet: list[str] = []
    jsonl: list[str] = []
    for text in texts:
        if _is_uri(text):  # a cluster file system: told apart by name, listed by Spark
            (parquet if ".parquet" in text else jsonl).append(text)
            continue
        for path in expand_paths([text]):
            kind = format_of(path)
            if kind == "json":
                raise InputError(f"{path}: the Spark engine reads JSON Lines and Parquet (ingest .json first)")
            (parquet if kind == "parquet" else jsonl).append(str(path.resolve()))
    frames = []
    cached: tuple[Any, ...] = ()
    quarantine = QUARANTINE.empty_table()
    if parquet:
        frames.append(_conform(spark.read.parquet(*parquet)))
    if jsonl:
        parsed, quarantine = _from_jsonl(spark, jsonl, options)
        frames.append(parsed.where("kind = 0").select(*EXCHANGES.names))
        cached = (parsed,)
    if not frames:
        raise InputError("no exchange log among the inputs")
    frame = frames[0] if len(frames) == 1 else frames[0].unionByName(frames[1])
    return Inputs(frame.dropDuplicates(["request_id"]), quarantine, cached)


def _from_store(spark: Any, path: Path) -> Any:
    with duckdb.connect(str(path), read_only=True) as con:
        table = con.sql("SELECT * FROM exchanges").to_arrow_table()
    return spark.createDataFrame(spark_safe(table))


def _conform(frame: Any) -> Any:
    """The EXCHANGES columns in order; a column the files lack is null of its type."""
    from pyspark.sql import functions as F

    from distillguard.spark.fingerprint import spark_schema

    schema = spark_schema(EXCHANGES)
    have = set(frame.columns)
    return frame.select(
        *(
            F.col(f.name).cast(f.dataType) if f.name in have else F.lit(None).cast(f.dataType).alias(f.name)
            for f in schema
        )
    )


def _from_jsonl(spark: Any, paths: list[str], options: ReadOptions) -> tuple[Any, pa.Table]:
    """The normalized frame (persisted: exchanges and rejects, told apart by ``kind``) and the rejects."""
    from pyspark.sql import functions as F

    from distillguard.spark.fingerprint import spark_schema

    files = spark.read.format("binaryFile").load(paths).select("path", "content")
    parsed = files.mapInArrow(normalize_files(options), spark_schema(NORMALIZED)).persist()
    try:
        quarantine = parsed.where(F.col("kind") == 1).select(*(f.name for f in _Q)).toArrow()
        quarantine = pa.Table.from_arrays(
            [quarantine[f.name].cast(q.type) for f, q in zip(_Q, QUARANTINE, strict=True)], schema=QUARANTINE
        )
        count = parsed.where(F.col("kind") == 0).count()
    except Exception:
        parsed.unpersist()
        raise
    log.info("jsonl: %d exchanges, %d quarantined", count, quarantine.num_rows)
    return parsed, quarantine


def normalize_files(options: ReadOptions) -> Any:
    """The ``mapInArrow`` function: whole files in (path, content), normalized exchanges and rejects out."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            for path, content in zip(
                batch.column("path").to_pylist(), batch.column("content").to_pylist(), strict=True
            ):
                source = path[len("file:") :] if path.startswith("file:") else path
                chunks = byte_chunks(io.BytesIO(content), compression_of(source))
                for block in split_blocks(chunks, options.max_line_bytes, BLOCK_LINES):
                    exchanges, quarantine, _ = normalize_block(source, block, options.max_line_bytes, options.normalize)
                    yield from _rows(exchanges, quarantine)

    return run


def _rows(exchanges: pa.Table, quarantine: pa.Table) -> Iterator[pa.RecordBatch]:
    n, k = exchanges.num_rows, quarantine.num_rows
    if n:
        cols = [pa.array(np.zeros(n, dtype=np.int8)), *(exchanges[f.name] for f in EXCHANGES)]
        cols += [pa.nulls(n, f.type) for f in _Q]
        yield from pa.Table.from_arrays(cols, schema=NORMALIZED).to_batches()
    if k:
        cols = [pa.array(np.ones(k, dtype=np.int8)), *(pa.nulls(k, f.type) for f in EXCHANGES)]
        cols += [quarantine[f.name] for f in QUARANTINE]
        yield from pa.Table.from_arrays(cols, schema=NORMALIZED).to_batches()
