"""The one interface every SQL stage talks to: register Arrow tables, run SQL, read Arrow back.

DuckDB's connection satisfies it as is (the embedded engine); ``distillguard.spark.sql.SparkSql``
satisfies it on Spark by translating the same SQL text. A stage must use nothing else of a connection,
so that each aggregation has one definition that both engines run.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
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


@contextmanager
def registered(con: SqlConnection, views: Mapping[str, object]) -> Iterator[None]:
    """``views`` (name -> Arrow table, or anything the engine registers) registered on ``con`` for the block.

    Every view registered so far is unregistered on the way out, also when registering a later one fails.
    """
    done: list[str] = []
    try:
        for name, table in views.items():
            con.register(name, table)
            done.append(name)
        yield
    finally:
        for name in reversed(done):
            con.unregister(name)
