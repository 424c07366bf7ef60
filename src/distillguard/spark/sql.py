"""The stages' DuckDB SQL on Spark: one definition, translated by sqlglot, plus the few rewrites it needs.

``to_spark_sql(text)`` is pure (no Spark needed). What sqlglot alone would get wrong, and how it is fixed:

* ``epoch(ts)`` is a double with microseconds in DuckDB but whole seconds as ``unix_timestamp`` on
  Spark: it becomes ``CAST(unix_micros(ts) AS DOUBLE) / 1e6``.
* ``ts + to_microseconds(n)`` (an interval) becomes ``timestamp_micros(unix_micros(ts) + n)``.
* Ordered aggregates (``list(x ORDER BY k DESC, j)``, ``first(x ORDER BY ...)``) have no Spark form:
  they become ``array_sort`` over ``collect_list`` of structs whose leading fields are the sort keys
  (a descending key is negated, so it must be numeric; every use in the stages is a count).
* ``a // b`` (integer division, also of doubles) becomes ``floor(CAST(a AS DOUBLE) / b)``.
* A decimal literal (``1.0``) is a DECIMAL on Spark, and ``avg`` of decimals keeps only a few digits:
  every non-integer literal is cast to DOUBLE, as DuckDB's ``avg`` would return.
* ``WITH x AS NOT MATERIALIZED (...)`` (a DuckDB planning hint) has no Spark form: the hint is dropped.
* ``hash(x)`` is 64 bits in DuckDB and 32 bits (Murmur3) on Spark, where distinct counts over millions of
  values would collide: it becomes ``xxhash64(x)``. The values differ between engines; every use keeps them
  inside the query (distinct counts, equality), never in a result.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from distillguard.errors import ConfigError

log = logging.getLogger(__name__)


def _sqlglot() -> Any:
    try:
        import sqlglot
    except ImportError as exc:  # pragma: no cover - the extra is installed in CI
        raise ConfigError("the Spark engine needs the 'spark' extra: pip install 'distillguard[spark]'") from exc
    return sqlglot


def to_spark_sql(text: str) -> str:
    """The DuckDB SQL ``text`` as Spark SQL (see the module docstring for the rewrites)."""
    sqlglot = _sqlglot()
    exp = sqlglot.exp
    tree = sqlglot.parse_one(text, read="duckdb")

    def spark(node: Any) -> str:
        return str(node.transform(rewrite).sql(dialect="spark"))

    def parse(sql: str) -> Any:
        return sqlglot.parse_one(sql, read="spark")

    def sorted_list(order: Any) -> str:
        """``transform(array_sort(collect_list(struct(keys..., value))), e -> e.v)`` for ``x ORDER BY ...``."""
        inner = order.this
        keys = []
        for i, o in enumerate(order.expressions):
            key = spark(o.this)
            keys.append(f"-({key}) AS k{i}" if o.args.get("desc") else f"{key} AS k{i}")
        if isinstance(inner, exp.Distinct):
            (value,) = inner.expressions
            (key, *more) = order.expressions
            if not more and not key.args.get("desc") and key.this == value:
                return f"array_sort(collect_set({spark(value)}))"
            raise ConfigError(f"to_spark_sql: unsupported DISTINCT ordered aggregate: {order.sql()}")
        return f"transform(array_sort(collect_list(struct({', '.join(keys)}, {spark(inner)} AS v))), e -> e.v)"

    def rewrite(node: Any) -> Any:
        if isinstance(node, exp.CTE) and node.args.get("materialized") is not None:
            node.set("materialized", None)  # in place: the CTE's body is still visited
            return node
        if isinstance(node, exp.TimeToUnix):
            return parse(f"CAST(unix_micros({spark(node.this)}) AS DOUBLE) / CAST(1000000 AS DOUBLE)")
        if isinstance(node, exp.Add) and _is_call(node.expression, "to_microseconds"):
            (micros,) = node.expression.expressions
            return parse(f"timestamp_micros(unix_micros({spark(node.this)}) + {spark(micros)})")
        if isinstance(node, exp.IntDiv):
            return parse(f"floor(CAST({spark(node.this)} AS DOUBLE) / {spark(node.expression)})")
        if isinstance(node, exp.ArrayAgg) and isinstance(node.this, exp.Order):
            return parse(sorted_list(node.this))
        if isinstance(node, exp.First) and isinstance(node.this, exp.Order):
            return parse(f"element_at({sorted_list(node.this)}, 1)")
        if _is_call(node, "hash"):  # DuckDB's hash is 64-bit; Spark's ``hash`` is 32-bit Murmur3
            return parse(f"xxhash64({', '.join(spark(a) for a in node.expressions)})")
        if isinstance(node, exp.Literal) and not node.is_string and not node.this.lstrip("-").isdigit():
            return exp.Cast(this=node.copy(), to=exp.DataType.build("DOUBLE"))
        return node

    return spark(tree)


def _is_call(node: Any, name: str) -> bool:
    return type(node).__name__ == "Anonymous" and str(node.this).lower() == name


class _Result:
    def __init__(self, fetch: Callable[[], pa.Table]) -> None:
        self._fetch = fetch

    def to_arrow_table(self) -> pa.Table:
        return self._fetch()


class SparkSql:
    """``distillguard.sqlconn.SqlConnection`` on a SparkSession: Arrow tables in as temp views, SQL
    translated from DuckDB's dialect, Arrow tables out (collected to the driver: the stages ask only
    for per-account, per-cluster or per-key results)."""

    def __init__(self, spark: Any) -> None:
        self.spark = spark
        self.views: set[str] = set()

    def register(self, view_name: str, python_object: object, /) -> object:
        if not isinstance(python_object, pa.Table):
            raise ConfigError(f"SparkSql.register({view_name!r}): expected a pyarrow Table")
        df = self.spark.createDataFrame(spark_safe(python_object))
        df.createOrReplaceTempView(view_name)
        self.views.add(view_name)
        return self

    def register_frame(self, view_name: str, frame: Any) -> None:
        """A Spark DataFrame (e.g. the exchanges read from Parquet) as a view, without collecting it."""
        frame.createOrReplaceTempView(view_name)
        self.views.add(view_name)

    def unregister(self, view_name: str, /) -> object:
        self.spark.catalog.dropTempView(view_name)
        self.views.discard(view_name)
        return self

    def frame(self, query: str) -> Any:
        """The Spark DataFrame of ``query`` (translated), not collected."""
        return self.spark.sql(to_spark_sql(query))

    def sql(self, query: str, /) -> _Result:
        text = to_spark_sql(query)
        log.debug("spark sql: %s", text)
        return _Result(lambda: self.spark.sql(text).toArrow())


def spark_safe(table: pa.Table) -> pa.Table:
    """Spark has no unsigned integers nor dictionaries: widen or decode them before a view is made."""
    fields, columns = [], []
    for field, col in zip(table.schema, table.columns, strict=True):
        t = field.type
        if pa.types.is_dictionary(t):
            t = t.value_type
        if pa.types.is_unsigned_integer(t):
            t = pa.int64() if t.bit_width < 64 else pa.decimal128(20, 0)
        if pa.types.is_large_string(t):
            t = pa.string()
        fields.append(pa.field(field.name, t))
        columns.append(col.cast(t) if t != field.type else col)
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))
