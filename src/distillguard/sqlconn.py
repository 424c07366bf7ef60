"""The one interface every SQL stage talks to: register Arrow tables, run SQL, read Arrow back.

DuckDB's connection satisfies it as is (the embedded engine); ``distillguard.spark.sql.SparkSql``
satisfies it on Spark by translating the same SQL text. A stage must use nothing else of a connection,
so that each aggregation has one definition that both engines run.
"""

from __future__ import annotations

from typing import Protocol

import pyarrow as pa


class Relation(Protocol):
    """The result of ``SqlConnection.sql``."""

    def to_arrow_table(self) -> pa.Table: ...


class SqlConnection(Protocol):
    """``register(name, arrow_table)`` / ``unregister(name)`` views, ``sql(text).to_arrow_table()``."""

    def register(self, view_name: str, python_object: object, /) -> object: ...

    def unregister(self, view_name: str, /) -> object: ...

    def sql(self, query: str, /) -> Relation: ...
