"""The SparkSession the Spark engine runs on: built once, with the settings the translated SQL relies on."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from distillguard.errors import ConfigError

log = logging.getLogger(__name__)

SQL_SETTINGS = {
    # Timestamps are UTC instants: hour(), date casts and date_trunc must read them in UTC, as DuckDB does.
    "spark.sql.session.timeZone": "UTC",
    # DuckDB semantics: x / 0 is NULL, a failed cast is NULL, array_length(NULL) is NULL.
    "spark.sql.ansi.enabled": "false",
    "spark.sql.legacy.sizeOfNull": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.execution.arrow.pyspark.fallback.enabled": "false",
}
"""Settings every session the engine uses must have (also applied to a session that already exists)."""

LOCAL_DEFAULTS = {
    "spark.sql.shuffle.partitions": "8",
    "spark.default.parallelism": "8",
    "spark.ui.enabled": "false",
    "spark.driver.memory": "4g",
    "spark.sql.execution.arrow.maxRecordsPerBatch": "10000",
}
"""Sizes for a local session (a cluster's own defaults are left alone)."""


def pyspark() -> Any:
    """The pyspark module, or a clear error naming the optional extra."""
    try:
        import pyspark
    except ImportError as exc:
        raise ConfigError("the Spark engine needs the 'spark' extra: pip install 'distillguard[spark]'") from exc
    return pyspark


def _submitted() -> bool:
    """Started by spark-submit (the JVM exists and passes its gateway) or on Databricks: the master and
    the cluster's settings come from there and must not be overridden."""
    return "PYSPARK_GATEWAY_PORT" in os.environ or "DATABRICKS_RUNTIME_VERSION" in os.environ


def get_session(master: str | None = None, app_name: str = "distillguard", conf: dict[str, str] | None = None) -> Any:
    """An active SparkSession, or a new one on ``master``.

    Without ``master``: the active session if there is one, else the cluster's (under spark-submit or on
    Databricks), else ``$SPARK_MASTER``, else ``local[*]``. A local session's workers run this interpreter
    (``PYSPARK_PYTHON``), so they see the same virtual environment and the installed distillguard.
    """
    pyspark()
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None and master is None:
        _apply(active)
        return active
    builder = SparkSession.builder.appName(app_name)
    chosen = master or os.environ.get("SPARK_MASTER") or (None if _submitted() else "local[*]")
    settings = dict(SQL_SETTINGS)
    if chosen is not None:
        builder = builder.master(chosen)
    if chosen is not None and chosen.startswith("local"):
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
        settings = LOCAL_DEFAULTS | settings
    for key, value in (settings | (conf or {})).items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    _apply(session)  # getOrCreate may return a session started elsewhere
    session.sparkContext.setLogLevel("ERROR")
    log.info("spark session on %s (spark %s)", session.sparkContext.master, session.version)
    return session


def _apply(session: Any) -> None:
    for key, value in SQL_SETTINGS.items():
        session.conf.set(key, value)
