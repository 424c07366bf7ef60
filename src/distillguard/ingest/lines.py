"""Byte streams and line splitting for JSON Lines, plain or compressed.

Decompression is driven by hand (zlib / zstandard decompression objects fed in chunks) so that a
truncated stream is *noticed*: ``zstandard``'s stream reader returns a clean EOF on a cut-off frame, and
a log cut mid-write must be reported, not silently shortened. Lines longer than the size limit are never
held in memory whole: the splitter skips to the next newline and reports the line as oversized.
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


@dataclass(frozen=True, slots=True)
class Line:
    """One physical line. ``data`` is None when the line exceeded the size limit (``size`` says how long).

    ``error`` is set on the last item of a damaged compressed stream: ``data`` then holds whatever partial
    line was pending when the damage was found (possibly empty).
    """

    number: int
    end_offset: int
    data: bytes | None
    size: int
    error: str | None = None


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


def split_lines(chunks: Iterator[bytes], limit: int, start_offset: int = 0, start_number: int = 0) -> Iterator[Line]:
    """Split a chunk stream into lines (without the newline), numbered from 1, with end offsets.

    Offsets count bytes of the (decompressed) stream from ``start_offset``. A line longer than ``limit``
    bytes is yielded with ``data=None``; its bytes are dropped as they arrive, so memory stays bounded.
    """
    number = start_number
    offset = start_offset
    pending: list[bytes] = []
    pending_size = 0
    oversize = False
    iterator = iter(chunks)
    while True:
        try:
            chunk = next(iterator)
        except StopIteration:
            break
        except TruncatedStream as exc:
            data = None if oversize else b"".join(pending)
            yield Line(number + 1, offset + pending_size, data, pending_size, str(exc))
            return
        pieces = chunk.split(b"\n")
        last = pieces.pop()
        for piece in pieces:
            number += 1
            size = pending_size + len(piece)
            offset += size + 1
            if oversize or size > limit:
                yield Line(number, offset, None, size)
            elif pending:
                pending.append(piece)
                yield Line(number, offset, b"".join(pending), size)
            else:
                yield Line(number, offset, piece, size)
            pending, pending_size, oversize = [], 0, False
        if last:
            pending_size += len(last)
            if oversize or pending_size > limit:
                oversize = True
                pending = []
            else:
                pending.append(last)
    if pending_size:
        number += 1
        offset += pending_size
        yield Line(number, offset, None if oversize else b"".join(pending), pending_size)
