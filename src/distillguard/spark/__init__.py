"""The Spark engine (``distillguard analyze --engine spark``): the same stages on PySpark.

An I/O edge like the store: imported only when that engine is asked for (``pyspark`` and ``sqlglot`` come
with the ``spark`` extra); the detector's stages never import it. Modules:

* ``session``: the SparkSession and the settings the translated SQL relies on (UTC, DuckDB null semantics).
* ``sql``: ``SparkSql``, the ``sqlconn.SqlConnection`` on Spark (the stages' DuckDB SQL, translated).
* ``inputs``: exchanges from Parquet, JSON Lines (normalized in ``mapInArrow``) or a ``.duckdb`` store.
* ``fingerprint``: masking, hashing and MinHash in ``mapInArrow``; families on the driver with the
  embedded engine's code.
* ``engine``: ``SparkEngine``, the ``pipeline.Engine`` that ``pipeline.analyze`` runs its stages on.

How to run it on a cluster: docs/spark.md.
"""
