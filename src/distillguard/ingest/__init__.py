"""Ingest: exchange logs and adapters -> batches of normalized exchanges (``schema.EXCHANGES``) + quarantine.

Contract:

* ``expand_paths(paths)`` names the files to read (files, folders, globs); ``read_source(path, opts,
  resume)`` yields ``Batch`` objects (Arrow tables of exchanges and quarantine rows, with the line range
  they cover) for one file, resuming after a committed line.
* Input forms: exchange-log JSON Lines (plain, ``.gz``, ``.zst``), the same records as Parquet (nested
  objects as structs or JSON text), JSON documents (``.json``), and OpenTelemetry GenAI spans in OTLP/JSON
  (``otel``). Bodies of ``anthropic.messages`` and ``openai.chat.completions`` are reduced to the schema's
  body columns by ``bodies``. JSON Lines records go through a typed msgspec fast path (``fast``); any
  record it does not take is normalized by the general path (``normalize``), which defines the result.
* No record is dropped silently: each bad one becomes a quarantine row (source, line, reason, detail,
  raw); ``normalize.REASONS`` lists the reasons. Per batch, ``read == exchanges rows + quarantine rows``.
* No I/O besides reading the named files; the store (``distillguard.store``) does the writing.
"""

from distillguard.ingest.batches import Batch
from distillguard.ingest.normalize import REASONS, NormalizeOptions
from distillguard.ingest.sources import ReadOptions, Resume, expand_paths, fingerprint, parser_pool, read_source

__all__ = [
    "REASONS",
    "Batch",
    "NormalizeOptions",
    "ReadOptions",
    "Resume",
    "expand_paths",
    "fingerprint",
    "parser_pool",
    "read_source",
]
