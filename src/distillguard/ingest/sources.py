"""Sources: which files a path names, what format each is, and how to read one as commit batches.

Formats: JSON Lines (``.jsonl``/``.ndjson``/``.log``, optionally ``.gz``/``.zst``), Parquet (``.parquet``),
and whole JSON documents (``.json``: an OTLP/JSON export or a list of records). A JSONL line holding an
OTLP/JSON export (``resourceSpans``: what the OpenTelemetry collector's file exporter writes) is expanded
into one record per GenAI span. Reading resumes after the last committed line/row (``Resume``).
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pyarrow.parquet as pq
import xxhash

from distillguard.errors import InputError, RecordError
from distillguard.ingest.batches import Batch, BatchBuilder
from distillguard.ingest.lines import Line, byte_chunks, compression_of, split_lines
from distillguard.ingest.normalize import NormalizeOptions, exchange_row
from distillguard.ingest.otel import is_otlp, otel_rows

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".log")
COMPRESSED_SUFFIXES = (".gz", ".zst", ".zstd")


@dataclass(frozen=True)
class ReadOptions:
    """How to read: record size limit, batch size, and what to keep (``NormalizeOptions``)."""

    max_line_bytes: int = 8 * 1024 * 1024
    batch_rows: int = 50_000
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


def read_source(path: Path, opts: ReadOptions, resume: Resume = Resume()) -> Iterator[Batch]:
    """Batches of one file, starting after ``resume``; the last one has ``complete=True``."""
    kind = format_of(path)
    try:
        if kind == "parquet":
            yield from _read_parquet(path, opts, resume)
        elif kind == "json":
            yield from _read_document(path, opts)
        else:
            yield from _read_jsonl(path, opts, resume)
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


def _handle_line(line: Line, builder: BatchBuilder, opts: ReadOptions) -> int:
    """Normalize one line into ``builder``; returns the number of records it held."""
    if line.error is not None:
        builder.reject(line.number, "truncated_stream", line.error, line.data)
        return 1
    if line.data is None:
        builder.reject(line.number, "line_too_long", f"{line.size} bytes > {opts.max_line_bytes}", None)
        return 1
    if not line.data.strip():
        return 0
    try:
        obj = _parse(line.data)
        if is_otlp(obj):
            return otel_rows(obj, builder, line.number, opts.normalize)
        builder.add_row(exchange_row(obj, builder.source, line.number, opts.normalize))
    except RecordError as exc:
        builder.reject(line.number, exc.reason, exc.detail, line.data)
    return 1


def _read_jsonl(path: Path, opts: ReadOptions, resume: Resume) -> Iterator[Batch]:
    source = str(path)
    compression = compression_of(path.name)
    builder = BatchBuilder(source)
    with path.open("rb") as fh:
        skip = resume.lines
        if compression == "none" and resume.offset:
            fh.seek(resume.offset)  # plain files resume by seeking; compressed ones re-read and skip
            lines = split_lines(byte_chunks(fh, compression), opts.max_line_bytes, resume.offset, resume.lines)
            skip = 0
        else:
            lines = split_lines(byte_chunks(fh, compression), opts.max_line_bytes)
        first, read, last, offset = resume.lines + 1, 0, resume.lines, resume.offset
        for line in lines:
            if line.number <= skip:
                continue
            read += _handle_line(line, builder, opts)
            last, offset = line.number, line.end_offset
            if len(builder) >= opts.batch_rows:
                yield _emit(builder, first, last, offset, read, complete=False)
                first, read = last + 1, 0
    yield _emit(builder, first, max(last, first - 1), offset, read, complete=True)


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
                if len(builder) >= opts.batch_rows:
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
