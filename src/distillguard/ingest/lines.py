"""Byte streams and line splitting for JSON Lines, plain or compressed.

Decompression is driven by hand (zlib / zstandard decompression objects fed in chunks) so that a
truncated stream is *noticed*: ``zstandard``'s stream reader returns a clean EOF on a cut-off frame, and
a log cut mid-write must be reported, not silently shortened. Lines longer than the size limit are never
held in memory whole: the splitter drops their bytes as they arrive and reports the line as oversized.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import zstandard

from distillguard.errors import InputError

CHUNK = 1 << 20
"""Bytes read from disk at a time."""


class TruncatedStream(Exception):
    """The compressed stream ended before its end marker (or is corrupt); carries a reason."""


def compression_of(name: str) -> str:
    """'gzip', 'zstd' or 'none' from a file name."""
    lower = name.lower()
    if lower.endswith(".gz"):
        return "gzip"
    if lower.endswith(".zst") or lower.endswith(".zstd"):
        return "zstd"
    return "none"


def _plain_chunks(fh: BinaryIO) -> Iterator[bytes]:
    while chunk := fh.read(CHUNK):
        yield chunk


def _gzip_chunks(fh: BinaryIO) -> Iterator[bytes]:
    # wbits=47 auto-detects the gzip header; a multi-member file restarts on unused_data.
    dec = zlib.decompressobj(wbits=47)
    seen = False
    while chunk := fh.read(CHUNK):
        seen = True
        while chunk:
            try:
                out = dec.decompress(chunk)
            except zlib.error as exc:
                raise TruncatedStream(f"corrupt gzip stream: {exc}") from exc
            if out:
                yield out
            if dec.eof:
                chunk = dec.unused_data
                dec = zlib.decompressobj(wbits=47)
                seen = bool(chunk)
            else:
                chunk = b""
    if seen and not dec.eof:
        tail = dec.flush()
        if tail:
            yield tail
        raise TruncatedStream("truncated gzip stream (ended before the end-of-stream marker)")


def _zstd_chunks(fh: BinaryIO) -> Iterator[bytes]:
    dctx = zstandard.ZstdDecompressor()
    dec = dctx.decompressobj()
    seen = False
    while chunk := fh.read(CHUNK):
        seen = True
        while chunk:
            try:
                out = dec.decompress(chunk)
            except zstandard.ZstdError as exc:
                raise TruncatedStream(f"corrupt zstd stream: {exc}") from exc
            if out:
                yield out
            if dec.eof:
                chunk = dec.unused_data
                dec = dctx.decompressobj()
                seen = bool(chunk)
            else:
                chunk = b""
    if seen and not dec.eof:
        raise TruncatedStream("truncated zstd stream (frame ended early)")


def byte_chunks(fh: BinaryIO, compression: str) -> Iterator[bytes]:
    """Decompressed content of ``fh`` in chunks; raises TruncatedStream at the point of damage."""
    if compression == "gzip":
        return _gzip_chunks(fh)
    if compression == "zstd":
        return _zstd_chunks(fh)
    if compression == "none":
        return _plain_chunks(fh)
    raise InputError(f"unknown compression {compression!r}")


@dataclass(frozen=True, slots=True)
class Block:
    """Consecutive physical lines ``first .. first + count - 1``, joined by newlines in ``data``.

    Oversized lines are empty in ``data`` and listed in ``oversize`` as (line number, size). ``error`` is
    (line number, reason, partial bytes) when the stream was damaged after the last line of the block.
    ``end_offset`` is the stream offset just after the block's last newline (or end of data).

    A block of a plain file may instead carry only ``span`` (start and end offset in the file, ``data``
    empty): a parser process then reads the bytes itself (``lines(path)``) rather than receive them through
    a pipe. Only blocks without oversized lines are sent that way.
    """

    first: int
    count: int
    data: bytes
    oversize: tuple[tuple[int, int], ...]
    end_offset: int
    error: tuple[int, str, bytes | None] | None = None
    span: tuple[int, int] | None = None

    def lines(self, path: str | None = None) -> list[bytes]:
        """The block's lines (a spanned block reads them from ``path``, the plain file it was cut from)."""
        if not self.count:
            return []
        if self.span is None:
            return self.data.split(b"\n")
        start, end = self.span
        with open(path or "", "rb") as fh:
            fh.seek(start)
            data = fh.read(end - start)
        lines = data[:-1].split(b"\n") if data.endswith(b"\n") else data.split(b"\n")
        if len(lines) != self.count:
            raise InputError(f"{path}: the file changed while it was being read (bytes {start}-{end})")
        return lines


def skip_bytes(chunks: Iterator[bytes], n: int) -> Iterator[bytes]:
    """The chunk stream without its first ``n`` bytes (resuming a compressed file)."""
    for chunk in chunks:
        if n >= len(chunk):
            n -= len(chunk)
            continue
        yield chunk[n:] if n else chunk
        n = 0


class _Splitter:
    """State of ``split_blocks``: the partial line carried between chunks and the block being filled.

    The block is kept as ``parts``: runs of whole lines, each without its last newline (an oversized line is
    an empty run), so joining them with newlines gives the block's lines; ``count`` is their number.
    """

    def __init__(self, limit: int, offset: int, number: int, spans: bool = False) -> None:
        self.limit = limit
        self.spans = spans
        self.start = offset
        self.offset = offset
        self.number = number
        self.pending: list[bytes] = []
        self.pending_size = 0
        self.oversize = False
        self.parts: list[bytes] = []
        self.count = 0
        self.too_long: list[tuple[int, int]] = []

    def feed(self, chunk: bytes) -> None:
        first = chunk.find(b"\n")
        if first >= 0:
            last = chunk.rfind(b"\n")
            self.offset += self.pending_size + last + 1
            head_size = self.pending_size + first
            if self.oversize or head_size > self.limit:
                self.too_long.append((self.number + 1, head_size))
                head = b""
            else:
                head = b"".join([*self.pending, chunk[:first]]) if self.pending else chunk[:first]
            self.parts.append(head)
            self.number += 1
            self.count += 1
            if last > first:
                self._inner(chunk[first + 1 : last])
            self.pending, self.pending_size, self.oversize = [], 0, False
            chunk = chunk[last + 1 :]
        if chunk:
            self.pending_size += len(chunk)
            if self.oversize or self.pending_size > self.limit:
                self.oversize, self.pending = True, []
            else:
                self.pending.append(chunk)

    def _inner(self, run: bytes) -> None:
        """Whole lines between two newlines of one chunk. A run no longer than the limit cannot hold an
        oversized line, so it is kept as one part without being split (the common case: 1 MiB chunks)."""
        if len(run) <= self.limit:
            lines = run.count(b"\n") + 1
            self.parts.append(run)
            self.number += lines
            self.count += lines
            return
        pieces = run.split(b"\n")
        for j, piece in enumerate(pieces):
            if len(piece) > self.limit:
                self.too_long.append((self.number + 1 + j, len(piece)))
                pieces[j] = b""
        self.parts.extend(pieces)
        self.number += len(pieces)
        self.count += len(pieces)

    def finish(self) -> None:
        """The stream ended: a last line without newline is still a line."""
        if self.pending_size:
            self.number += 1
            self.offset += self.pending_size
            if self.oversize:
                self.too_long.append((self.number, self.pending_size))
                self.parts.append(b"")
            else:
                self.parts.append(b"".join(self.pending))
            self.count += 1
            self.pending, self.pending_size = [], 0

    def block(self, error: tuple[int, str, bytes | None] | None = None) -> Block:
        first, count, oversize = self.number - self.count + 1, self.count, tuple(self.too_long)
        if self.spans and not oversize and error is None:
            block = Block(first, count, b"", (), self.offset, None, (self.start, self.offset))
        else:
            block = Block(first, count, b"\n".join(self.parts), oversize, self.offset, error)
        self.parts, self.count, self.too_long, self.start = [], 0, [], self.offset
        return block


def split_blocks(
    chunks: Iterator[bytes],
    limit: int,
    block_lines: int,
    start_offset: int = 0,
    start_number: int = 0,
    spans: bool = False,
) -> Iterator[Block]:
    """Cut a chunk stream into blocks of about ``block_lines`` lines; the last block may be empty.

    Lines are numbered from ``start_number + 1``. Lines are only counted (C-level ``bytes.count``), not
    split, so the reading process does little per-line work; a line longer than ``limit`` bytes is never
    held whole. ``spans`` (a plain, uncompressed file): blocks carry file offsets instead of bytes.
    """
    state = _Splitter(limit, start_offset, start_number, spans)
    iterator = iter(chunks)
    while True:
        try:
            chunk = next(iterator)
        except StopIteration:
            break
        except TruncatedStream as exc:
            partial = None if state.oversize else b"".join(state.pending)
            error = (state.number + 1, str(exc), partial)
            state.offset += state.pending_size
            yield state.block(error)
            return
        state.feed(chunk)
        if state.count >= block_lines:
            yield state.block()
    state.finish()
    yield state.block()
