"""The fingerprint stage on Spark: per-row work in ``mapInArrow``, the unique skeletons on the driver.

1. Every exchange batch (``mapInArrow``): mask each distinct raw text, hash its skeleton
   (``registry.skeleton_hashes``), structure bits and timestamps (``stage.structure_bits`` /
   ``stage.timestamps``): one compact key row per exchange, plus one row per skeleton new to the batch.
2. Skeletons deduplicated by (role, hash) in Spark; MinHash, capped text and template-view shingles of each
   distinct skeleton in ``mapInArrow`` (``registry.sketch_skeletons``).
3. On the driver: the skeletons become a ``SkeletonSet`` (ordered by hash) and ``stage.families`` - the
   embedded engine's own code - clusters them; its SQL (``fingerprint.keys``, translated) counts and
   describes the families over the key rows, which stay in Spark as the ``fp_keys`` view, and builds
   ``fp_exchanges`` there. Nothing per exchange is collected to the driver.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from distillguard.fingerprint import FingerprintConfig
from distillguard.fingerprint.cues import load_cues
from distillguard.fingerprint.keys import KEYS as KEY_ROWS
from distillguard.fingerprint.keys import key_batch
from distillguard.fingerprint.registry import SkeletonSet, Sketches, role_salt, skeleton_hashes, sketch_skeletons
from distillguard.fingerprint.stage import COLUMNS, TS_NULL, families, structure_bits, timestamps
from distillguard.spark.sql import SparkSql
from distillguard.sqlconn import registered
from distillguard.text import mask_array

log = logging.getLogger(__name__)

ROLES = ("system", "user")
_TEXT = {"system": "system_text", "user": "first_user_text"}

KEYS = pa.schema(
    [
        pa.field("kind", pa.int8()),  # 0: an exchange (``keys.KEYS`` columns), 1: a skeleton new to its batch
        *KEY_ROWS,
        pa.field("role", pa.int8()),  # skeleton rows: index into ROLES
        pa.field("hash", pa.int64()),
        pa.field("skeleton", pa.string()),
    ]
)
SKETCHES = pa.schema(
    [
        pa.field("role", pa.int8()),
        pa.field("hash", pa.int64()),
        pa.field("text", pa.string()),  # capped, as the embedded registry keeps it
        pa.field("sig", pa.binary()),  # num_perm little-endian uint32
        pa.field("win", pa.binary()),  # template-view shingle hashes, uint32 each
    ]
)


def _row_hashes(column: pa.Array, salt: int, config: FingerprintConfig) -> tuple[pa.Array, pa.Array, pa.Array]:
    """Skeleton hash per row (null: no text or an empty skeleton), and the batch's distinct skeletons."""
    if not pa.types.is_string(column.type):
        column = column.cast(pa.string())
    encoded = pc.dictionary_encode(column)
    skeletons = mask_array(encoded.dictionary, config.text_cap)
    hashes, empty = skeleton_hashes(skeletons, salt)
    per_value = pa.array(hashes.view(np.int64), mask=empty)
    per_row = per_value.take(encoded.indices)
    keep = np.flatnonzero(~empty)
    _, first = np.unique(hashes[keep], return_index=True)
    pick = pa.array(keep[first])
    return per_row, per_value.take(pick), skeletons.take(pick)


def row_keys(config: FingerprintConfig) -> Any:
    """The ``mapInArrow`` function of step 1 (a closure over the config; the cue file loads per task)."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        cues = load_cues()
        computer: dict[str, bool] = {}
        salts = [role_salt(r) for r in ROLES]
        for batch in batches:
            n = batch.num_rows
            if n == 0:
                continue
            hashed = [_row_hashes(batch.column(_TEXT[r]), salts[i], config) for i, r in enumerate(ROLES)]
            keys = key_batch(
                batch.column("request_id"),
                batch.column("account_id"),
                timestamps(batch),
                hashed[0][0],
                hashed[1][0],
                structure_bits(batch, cues, computer),
                0,  # ``ord`` orders only the in-memory path
                int(TS_NULL),
            )
            yield pa.RecordBatch.from_arrays(
                [
                    pa.array(np.zeros(n, dtype=np.int8)),
                    *keys.columns,
                    pa.nulls(n, pa.int8()),
                    pa.nulls(n, pa.int64()),
                    pa.nulls(n, pa.string()),
                ],
                schema=KEYS,
            )
            for i, (_, h, text) in enumerate(hashed):
                k = len(h)
                if k:
                    yield pa.RecordBatch.from_arrays(
                        [
                            pa.array(np.ones(k, dtype=np.int8)),
                            *(pa.nulls(k, f.type) for f in KEY_ROWS),
                            pa.array(np.full(k, i, dtype=np.int8)),
                            h,
                            text,
                        ],
                        schema=KEYS,
                    )

    return run


def _binary(rows: npt.NDArray[np.uint32], lengths: npt.NDArray[np.int64]) -> pa.Array:
    """uint32 rows (flattened) as one binary value per row, without a Python object per row."""
    offsets = np.zeros(len(lengths) + 1, dtype=np.int32)
    np.cumsum(lengths * 4, out=offsets[1:])
    data = np.ascontiguousarray(rows, dtype="<u4").view(np.uint8)
    return pa.Array.from_buffers(pa.binary(), len(lengths), [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def _uint32s(column: pa.Array) -> npt.NDArray[np.uint32]:
    """The concatenated bytes of a binary column as uint32 values."""
    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if len(column) == 0:
        return np.zeros(0, dtype=np.uint32)
    offsets = np.frombuffer(column.buffers()[1], dtype=np.int32)[column.offset : column.offset + len(column) + 1]
    data = np.frombuffer(column.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    return data.view("<u4").astype(np.uint32)


def sketch_rows(config: FingerprintConfig) -> Any:
    """The ``mapInArrow`` function of step 2: signatures of distinct skeletons."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            if batch.num_rows == 0:
                continue
            sk = sketch_skeletons(batch.column("skeleton"), config)
            n = batch.num_rows
            yield pa.RecordBatch.from_arrays(
                [
                    batch.column("role"),
                    batch.column("hash"),
                    sk.texts,
                    _binary(sk.sig, np.full(n, config.num_perm, dtype=np.int64)),
                    _binary(sk.win, sk.win_len),
                ],
                schema=SKETCHES,
            )

    return run


def _skeleton_set(table: pa.Table, role: int, config: FingerprintConfig) -> SkeletonSet:
    part = table.filter(pc.equal(table["role"], role))
    hashes = part["hash"].to_numpy().astype(np.int64).view(np.uint64)
    sig = _uint32s(part["sig"]).reshape(-1, config.num_perm)
    win_bytes = pc.binary_length(part["win"]).to_numpy(zero_copy_only=False).astype(np.int64)
    texts = part["text"].combine_chunks()
    sketches = Sketches(sig, texts, _uint32s(part["win"]), win_bytes // 4)
    skeletons, _ = SkeletonSet.build(hashes, [sketches], config.num_perm)
    return skeletons


def fingerprint_frame(exchanges: Any, con: SparkSql, config: FingerprintConfig) -> tuple[pa.Table, Any]:
    """The families table and the ``fp_exchanges`` DataFrame (persisted) of the exchanges in a Spark
    DataFrame (EXCHANGES columns): equal to the embedded engine's for the same rows."""
    from pyspark.sql import functions as F

    cols = [c for c in COLUMNS if c in exchanges.columns]
    keyed = exchanges.select(*cols).mapInArrow(row_keys(config), spark_schema(KEYS)).persist()
    try:
        skeletons = (
            keyed.where(F.col("kind") == 1)
            .select("role", "hash", "skeleton")
            .dropDuplicates(["role", "hash"])
            .mapInArrow(sketch_rows(config), spark_schema(SKETCHES))
            .toArrow()
        )
        system, user = _skeleton_set(skeletons, 0, config), _skeleton_set(skeletons, 1, config)
        log.info("spark fingerprint: %d system and %d user skeletons", len(system), len(user))
        con.register_frame("fp_keys", keyed.where(F.col("kind") == 0).select(*KEY_ROWS.names))
        try:
            stage = families(con, "fp_keys", system, user, config)
            with registered(con, stage.views):
                fp = con.frame(stage.exchanges_sql).persist()
                fp.count()  # materialized while the driver's views exist
        finally:
            con.unregister("fp_keys")
    finally:
        keyed.unpersist()
    return stage.families, fp


def spark_schema(schema: pa.Schema) -> Any:
    """The Spark StructType of an Arrow schema."""
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(schema)
