"""Per-skeleton state kept on disk instead of in memory: what the stream produces once and reads back rarely.

Of what the registry keeps per unique skeleton, clustering reads only the low 16 bits of each signature slot
and the template-view shingles. The high 16 bits (read back only for the few signatures the family table
carries) and the capped text (read back for the cue bits of some skeletons, a family's representatives and its
example) go to two files of a spill directory as each chunk is sketched, in the order the skeletons arrived
(a skeleton set maps its ids to that order): at 4M exchanges 651,003 user skeletons, 80 MB of high halves and
119 MB of texts that no longer stay resident through the fingerprint stage.

Reading back is by rows, in bounded pieces: the rows asked for are sorted and each block (high halves) or
record batch (texts) that holds some of them is read once and dropped, so what a read holds is its answer plus
one block. The files are the operating system's to cache; the process's memory is only what it reads.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa

I64 = npt.NDArray[np.int64]
U16 = npt.NDArray[np.uint16]

BLOCK_ROWS = 1 << 16
"""Rows of high halves read at once (64 slots: 8 MiB)."""


class Spill:
    """Two append-only files of one role: ``append`` while streaming, ``close``, then ``high`` and ``texts``."""

    def __init__(self, directory: Path, role: str, num_perm: int) -> None:
        self.num_perm = num_perm
        self._high_path = directory / f"{role}-high.u16"
        self._texts_path = directory / f"{role}-texts.arrow"
        self._high = open(self._high_path, "wb")  # noqa: SIM115 - closed by ``close``
        self._texts: pa.ipc.RecordBatchFileWriter | None = None
        self._batch_ends: list[int] = []
        self.rows = 0

    def append(self, high: U16, texts: pa.Array) -> None:
        """The next rows' high halves (rows x ``num_perm``) and texts, in arrival order."""
        if high.shape != (len(texts), self.num_perm):
            raise ValueError(f"spill: {high.shape} high halves for {len(texts)} texts of {self.num_perm} slots")
        np.ascontiguousarray(high, dtype=np.uint16).tofile(self._high)
        if self._texts is None:
            self._texts = pa.ipc.new_file(str(self._texts_path), pa.schema([pa.field("text", pa.string())]))
        self._texts.write_batch(pa.record_batch([texts.cast(pa.string())], names=["text"]))
        self.rows += len(texts)
        self._batch_ends.append(self.rows)

    def close(self) -> None:
        """Finish writing (the files are read only after this)."""
        self._high.close()
        if self._texts is not None:
            self._texts.close()

    def high(self, rows: I64) -> U16:
        """The high halves of ``rows`` (arrival positions), one row each, in the order asked."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.empty((len(rows), self.num_perm), dtype=np.uint16)
        order = np.argsort(rows, kind="stable")
        wanted = rows[order]
        cuts = np.searchsorted(wanted, np.arange(0, self.rows + BLOCK_ROWS, BLOCK_ROWS))
        width = self.num_perm * np.dtype(np.uint16).itemsize
        with open(self._high_path, "rb") as f:
            for b in range(len(cuts) - 1):
                lo, hi = int(cuts[b]), int(cuts[b + 1])
                if lo == hi:
                    continue
                start = b * BLOCK_ROWS
                count = min(BLOCK_ROWS, self.rows - start)
                f.seek(start * width)
                block = np.fromfile(f, dtype=np.uint16, count=count * self.num_perm).reshape(count, self.num_perm)
                out[order[lo:hi]] = block[wanted[lo:hi] - start]
        return out

    def texts(self, rows: I64) -> pa.Array:
        """The texts of ``rows`` (arrival positions), in the order asked."""
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) == 0:
            return pa.array([], type=pa.string())
        order = np.argsort(rows, kind="stable")
        wanted = rows[order]
        ends = np.asarray(self._batch_ends, dtype=np.int64)
        starts = np.concatenate(([0], ends[:-1])).astype(np.int64)
        cuts = np.searchsorted(wanted, np.concatenate((starts, ends[-1:])))
        pieces: list[pa.Array] = []
        with pa.OSFile(str(self._texts_path)) as source:
            reader = pa.ipc.open_file(source)
            for b in range(len(ends)):
                lo, hi = int(cuts[b]), int(cuts[b + 1])
                if lo == hi:
                    continue
                column = reader.get_batch(b).column(0)
                pieces.append(column.take(pa.array(wanted[lo:hi] - starts[b])))
        in_order = pa.concat_arrays(pieces)  # sorted by row: put back in the order asked
        back = np.empty(len(rows), dtype=np.int64)
        back[order] = np.arange(len(rows), dtype=np.int64)
        return in_order.take(pa.array(back))
