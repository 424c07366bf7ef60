"""Sources: which files a path names, what format each is, and how to read one as commit batches.

Formats: JSON Lines (``.jsonl``/``.ndjson``/``.log``, optionally ``.gz``/``.zst``), Parquet (``.parquet``),
and whole JSON documents (``.json``: an OTLP/JSON export or a list of records). A JSONL line holding an
OTLP/JSON export (``resourceSpans``: what the OpenTelemetry collector's file exporter writes) is expanded
into one record per GenAI span. Reading resumes after the last committed line/row (``Resume``).
"""

from __future__ import annotations

import gc
import glob
import multiprocessing
import os
import select
import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import xxhash

from distillguard.errors import InputError, RecordError
from distillguard.ingest.batches import Batch, BatchBuilder, rows_to_table
from distillguard.ingest.fast import FAST_ERRORS, fast_row
from distillguard.ingest.lines import Block, byte_chunks, compression_of, skip_bytes, split_blocks
from distillguard.ingest.normalize import NormalizeOptions, exchange_row
from distillguard.ingest.otel import is_otlp, otel_rows
from distillguard.schema import QUARANTINE

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".log")
COMPRESSED_SUFFIXES = (".gz", ".zst", ".zstd")
PARALLEL_MIN_BYTES = 16 * 1024 * 1024
"""Smaller JSON Lines files are parsed in-process: starting workers would cost more than it saves."""
BLOCK_LINES = 20_000
"""Lines parsed as one unit (in a worker, or in-process); a commit batch is made of whole blocks."""


@dataclass(frozen=True)
class ReadOptions:
    """How to read: record size limit, batch size, and what to keep (``NormalizeOptions``)."""

    max_line_bytes: int = 8 * 1024 * 1024
    batch_rows: int = 122_880
    """Lines (or Parquet rows) per committed batch. The default is DuckDB's row group size: a commit of whole
    row groups is written straight to the file, where smaller ones go through the write-ahead log and are
    compressed again at every checkpoint (about half of the ingest time at 20,000). Parquet batches are
    capped at ``BLOCK_LINES`` rows (they are built from Python rows)."""
    workers: int = 2
    """Parser processes for JSON Lines files larger than ``PARALLEL_MIN_BYTES`` (0: parse in-process)."""
    normalize: NormalizeOptions = field(default_factory=NormalizeOptions)


@dataclass(frozen=True)
class Resume:
    """Where the ledger says a source's committed batches end: lines (or rows) and byte offset."""

    lines: int = 0
    offset: int = 0


def format_of(path: Path) -> str:
    """'jsonl', 'parquet' or 'json'; InputError for anything else."""
    name = path.name.lower()
    for suffix in COMPRESSED_SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith(".json"):
        return "json"
    if name.endswith(JSONL_SUFFIXES):
        return "jsonl"
    raise InputError(f"{path}: unknown file type (expected .jsonl[.gz|.zst], .parquet or .json)")


def _readable(name: str) -> bool:
    try:
        format_of(Path(name))
    except InputError:
        return False
    return True


def expand_paths(paths: list[str | os.PathLike[str]]) -> list[Path]:
    """Files named by ``paths`` (files, folders searched recursively, or globs), sorted, no repeats."""
    found: list[Path] = []
    for raw in paths:
        text = os.fspath(raw)
        if any(ch in text for ch in "*?[") and not os.path.exists(text):
            matches = sorted(glob.glob(text, recursive=True))
            if not matches:
                raise InputError(f"{text}: no file matches this pattern")
            found.extend(Path(m) for m in matches if os.path.isfile(m))
            continue
        path = Path(text)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and _readable(p.name)))
        elif path.is_file():
            format_of(path)
            found.append(path)
        elif path.exists():
            raise InputError(f"{path}: not a regular file or folder")
        else:
            raise InputError(f"{path}: no such file or folder")
    unique = dict.fromkeys(found)
    for path in unique:
        if not os.access(path, os.R_OK):
            raise InputError(f"{path}: permission denied")
    return list(unique)


@contextmanager
def parser_pool(files: list[Path], opts: ReadOptions) -> Iterator[Executor | None]:
    """A process pool for parsing when the JSON Lines input is big enough to pay for it; else None.

    Workers come from a fork server, not a fork of this process: the parent holds an open DuckDB connection
    and its threads. The server is a fresh interpreter that imports only this module, once; each worker is
    a fork of it, so it neither re-imports the package nor re-runs the main module (``python -m
    distillguard`` would import the whole CLI, about 1.5 s of CPU per worker).
    """
    # A folder of many small shards (the simulator writes 20k-line .jsonl.zst parts) is as big as one file.
    big = sum(f.stat().st_size for f in files if format_of(f) == "jsonl") >= PARALLEL_MIN_BYTES
    if opts.workers <= 0 or not big:
        yield None
        return
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    with ProcessPoolExecutor(
        opts.workers, mp_context=context, initializer=_watch_parent, initargs=(os.getpid(),)
    ) as pool:
        yield pool


def _watch_parent(parent: int) -> None:
    """Worker initializer: exit when the ingest process ``parent`` dies (SIGKILL would leave workers orphaned).

    The fork server cannot notice by itself: each worker holds the write end of its "parent alive" pipe, so
    the server and its workers would wait for each other forever. A pidfd (Linux) becomes readable when the
    process ends, zombie or not; elsewhere the worker polls.
    """

    def watch() -> None:
        try:
            fd = os.pidfd_open(parent)
        except (AttributeError, OSError):
            while _alive(parent):
                time.sleep(0.5)
        else:
            select.select([fd], [], [])
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def fingerprint(path: Path) -> str:
    """Size plus a hash of the first and last 64 KiB: tells a re-run whether it sees the same file."""
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(65536)
            fh.seek(max(0, size - 65536))
            tail = fh.read(65536)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return f"{size}:{xxhash.xxh3_64_hexdigest(head + tail)}"


def read_source(
    path: Path, opts: ReadOptions, resume: Resume = Resume(), pool: Executor | None = None
) -> Iterator[Batch]:
    """Batches of one file, starting after ``resume``; the last one has ``complete=True``.

    ``pool`` (a process pool) parses JSON Lines blocks in parallel; batches still come out in file order.
    """
    kind = format_of(path)
    try:
        if kind == "parquet":
            yield from _read_parquet(path, opts, resume)
        elif kind == "json":
            yield from _read_document(path, opts)
        else:
            yield from _read_jsonl(path, opts, resume, pool)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None


def _parse(data: bytes) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as uexc:
            raise RecordError("invalid_utf8", f"byte {uexc.start}: {uexc.reason}") from None
        raise RecordError("invalid_json", str(exc)[:200]) from None


def _handle_record(data: bytes, number: int, builder: BatchBuilder, opts: NormalizeOptions) -> int:
    """Normalize one non-blank line into ``builder``; returns the number of records it held.

    The typed fast path takes the usual records; any other goes through orjson and the general normalizer,
    which also names the reason of every rejection.
    """
    try:
        builder.add_row(fast_row(data, builder.source, number, opts))
        return 1
    except FAST_ERRORS:
        pass
    try:
        obj = _parse(data)
        if is_otlp(obj):
            return otel_rows(obj, builder, number, opts)
        builder.add_row(exchange_row(obj, builder.source, number, opts))
    except RecordError as exc:
        builder.reject(number, exc.reason, exc.detail, data)
    return 1


def normalize_block(source: str, block: Block, max_line_bytes: int, opts: NormalizeOptions) -> BlockResult:
    """Parse and normalize one block of lines. Runs in a worker process when ingest is parallel."""
    builder = BatchBuilder(source)
    too_long = dict(block.oversize)
    read = 0
    # Parsed records hold no reference cycles; without this the cyclic collector walks the growing batch of
    # rows again and again (a third of the parse time).
    collecting = gc.isenabled()
    gc.disable()
    try:
        for number, data in enumerate(block.lines(source), start=block.first):
            if too_long and number in too_long:
                builder.reject(number, "line_too_long", f"{too_long[number]} bytes > {max_line_bytes}", None)
                read += 1
            elif data.strip():
                read += _handle_record(data, number, builder, opts)
        if block.error is not None:
            number, reason, partial = block.error
            builder.reject(number, "truncated_stream", reason, partial)
            read += 1
        exchanges, quarantine = builder.take()
    finally:
        if collecting:
            gc.enable()
    return exchanges, quarantine, read


BlockResult = tuple[pa.Table, pa.Table, int]


def _read_jsonl(path: Path, opts: ReadOptions, resume: Resume, pool: Executor | None) -> Iterator[Batch]:
    source = str(path)
    compression = compression_of(path.name)
    with path.open("rb") as fh:
        if compression == "none":
            fh.seek(resume.offset)  # plain files resume by seeking; compressed ones decompress and skip
            chunks = byte_chunks(fh, compression)
        else:
            chunks = skip_bytes(byte_chunks(fh, compression), resume.offset)
        block_lines = min(opts.batch_rows, BLOCK_LINES)
        # parser processes read plain files themselves: the bytes need not travel through a pipe
        spans = pool is not None and compression == "none"
        blocks = split_blocks(chunks, opts.max_line_bytes, block_lines, resume.offset, resume.lines, spans)
        pending: list[Batch] = []
        for block, (exchanges, quarantine, read) in _map_ordered(pool, blocks, source, opts):
            last = block.first + block.count - 1 + (block.error is not None)
            pending.append(Batch(source, block.first, last, block.end_offset, read, exchanges, quarantine, False))
            if sum(b.last - b.first + 1 for b in pending) >= opts.batch_rows:
                yield _merged(pending)
                pending = []
        if pending:
            yield _merged(pending)
    # an explicit closing batch: marks the file complete even when the last block was already committed
    yield Batch(source, 0, 0, 0, 0, rows_to_table([]), QUARANTINE.empty_table(), True)


def _merged(parts: list[Batch]) -> Batch:
    """Consecutive parsed blocks as one commit unit (one transaction, one ledger row)."""
    if len(parts) == 1:
        return parts[0]
    first, last = parts[0], parts[-1]
    exchanges = pa.concat_tables([b.exchanges for b in parts])
    quarantine = pa.concat_tables([b.quarantine for b in parts])
    read = sum(b.read for b in parts)
    return Batch(first.source, first.first, last.last, last.end_offset, read, exchanges, quarantine, False)


def _map_ordered(
    pool: Executor | None, blocks: Iterator[Block], source: str, opts: ReadOptions
) -> Iterator[tuple[Block, BlockResult]]:
    """normalize_block over blocks, in order; with a pool, a few blocks are in flight at once (bounded)."""
    if pool is None:
        for block in blocks:
            yield block, normalize_block(source, block, opts.max_line_bytes, opts.normalize)
        return
    window: deque[tuple[Block, Future[BlockResult]]] = deque()
    depth = max(2, opts.workers + 1)
    for block in blocks:
        window.append((block, pool.submit(normalize_block, source, block, opts.max_line_bytes, opts.normalize)))
        if len(window) >= depth:
            done, future = window.popleft()
            yield done, future.result()
    while window:
        done, future = window.popleft()
        yield done, future.result()


def _emit(builder: BatchBuilder, first: int, last: int, offset: int, read: int, complete: bool) -> Batch:
    exchanges, quarantine = builder.take()
    return Batch(builder.source, first, last, offset, read, exchanges, quarantine, complete)


def _read_parquet(path: Path, opts: ReadOptions, resume: Resume) -> Iterator[Batch]:
    source = str(path)
    builder = BatchBuilder(source)
    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several unrelated types for a damaged footer
        raise InputError(f"{path}: not a readable Parquet file ({exc})") from None
    row = first = resume.lines + 1
    read = 0
    for group in range(pf.num_row_groups):
        group_rows = pf.metadata.row_group(group).num_rows
        if row + group_rows - 1 <= resume.lines:
            row += group_rows
            continue
        for record in pf.read_row_group(group).to_pylist():
            if row > resume.lines:
                try:
                    builder.add_row(exchange_row(record, source, row, opts.normalize))
                except RecordError as exc:
                    builder.reject(row, exc.reason, exc.detail, orjson.dumps(record, default=str))
                read += 1
                if len(builder) >= min(opts.batch_rows, BLOCK_LINES):
                    yield _emit(builder, first, row, 0, read, complete=False)
                    first, read = row + 1, 0
            row += 1
    yield _emit(builder, first, row - 1, 0, read, complete=True)


def _read_document(path: Path, opts: ReadOptions) -> Iterator[Batch]:
    """A whole-file JSON document: an OTLP/JSON export or a list of exchange records (one batch)."""
    source = str(path)
    builder = BatchBuilder(source)
    data = b"".join(byte_chunks(path.open("rb"), compression_of(path.name)))
    read = 0
    try:
        obj = _parse(data)
        if is_otlp(obj):
            read = otel_rows(obj, builder, 1, opts.normalize)
        elif isinstance(obj, list):
            for i, record in enumerate(obj, start=1):
                read += 1
                try:
                    builder.add_row(exchange_row(record, source, i, opts.normalize))
                except RecordError as exc:
                    builder.reject(i, exc.reason, exc.detail, orjson.dumps(record))
        else:
            raise RecordError("not_an_object", "a .json file must hold an OTLP export or a list of records")
    except RecordError as exc:
        builder.reject(1, exc.reason, exc.detail, data)
        read = 1
    yield _emit(builder, 1, 1, len(data), read, complete=True)
