"""Streaming state of one text role (system prompts or first user turns): one entry per unique skeleton.

Raw text -> skeleton goes through a bounded cache keyed by the raw text's xxhash, so each distinct text
is masked once; skeletons are deduplicated by their own xxhash, and only a new skeleton is tokenised,
MinHashed. What is kept per unique skeleton is compact: its hash, its signature row, its text capped to
``cue_cap`` characters (head and tail: for classification of the family and its example) and, for the
template view, 32-bit hashes of its first and last shingles.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from distillguard.fingerprint import sketch
from distillguard.fingerprint.config import FingerprintConfig
from distillguard.text import mask

I32 = npt.NDArray[np.int32]


class Registry:
    """Unique skeletons of one role, in order of first sight (index = skeleton id)."""

    def __init__(self, role: str, config: FingerprintConfig) -> None:
        self.role = role
        self.config = config
        self._salt = xxhash.xxh64_intdigest(role.encode())
        self._raw_cache: dict[int, int] = {}
        self._index: dict[int, int] = {}
        self._hashes: list[int] = []
        self._sig: list[sketch.U32] = []
        self._win: list[sketch.U32] = []
        self._win_len: list[npt.NDArray[np.int64]] = []
        self._texts: list[pa.Array] = []
        self._pending: list[str] = []

    def __len__(self) -> int:
        return len(self._hashes)

    def ids(self, column: pa.Array | pa.ChunkedArray) -> I32:
        """Skeleton id per row of a text column; -1 where the text is null or blank."""
        encoded = pc.dictionary_encode(column)
        if isinstance(encoded, pa.ChunkedArray):
            encoded = encoded.combine_chunks()
        values = encoded.dictionary.to_pylist()
        per_value = np.fromiter((self._id_of_raw(v) for v in values), dtype=np.int32, count=len(values))
        self._flush()
        idx = encoded.indices.to_numpy(zero_copy_only=False)
        out = np.full(len(idx), -1, dtype=np.int32)
        valid = np.asarray(encoded.indices.is_valid())
        out[valid] = per_value[idx[valid].astype(np.int64)]
        return out

    def _id_of_raw(self, raw: str | None) -> int:
        if raw is None or not raw.strip():
            return -1
        key = xxhash.xxh64_intdigest(raw.encode("utf-8", "surrogatepass"))
        hit = self._raw_cache.get(key)
        if hit is not None:
            return hit
        sid = self._id_of_skeleton(mask(raw, self.config.text_cap))
        if len(self._raw_cache) >= self.config.mask_cache_size:
            # Bounded memory: drop the oldest quarter (dicts keep insertion order).
            for old in list(self._raw_cache)[: self.config.mask_cache_size // 4]:
                del self._raw_cache[old]
        self._raw_cache[key] = sid
        return sid

    def _id_of_skeleton(self, skeleton: str) -> int:
        key = xxhash.xxh64_intdigest(skeleton.encode("utf-8", "surrogatepass"), seed=self._salt)
        sid = self._index.get(key)
        if sid is None:
            sid = len(self._hashes)
            self._index[key] = sid
            self._hashes.append(key)
            self._pending.append(skeleton)
        return sid

    def _flush(self, chunk: int = 8192) -> None:
        """Sketch the skeletons first seen in this batch, ``chunk`` at a time (bounded temporaries)."""
        pending, self._pending = self._pending, []
        cfg = self.config
        for lo in range(0, len(pending), chunk):
            part = pending[lo : lo + chunk]
            tok, tok_off = sketch.token_hashes(part)
            flat, off = sketch.shingle_hashes(tok, tok_off, cfg.shingle_size)
            self._sig.append(sketch.signatures(flat, off, cfg.num_perm, cfg.seed))
            self._texts.append(pa.array([_capped(s, cfg.cue_cap) for s in part], type=pa.string()))
            if cfg.template_view:
                wflat, woff = sketch.shingle_hashes(tok, tok_off, cfg.template_shingle_size, cfg.template_window)
                self._win.append(wflat.astype(np.uint32))  # low 32 bits: half the memory, rare collisions
                self._win_len.append(np.diff(woff))

    # ---- read-out at the end of the stream -------------------------------------------------------

    def hashes(self) -> npt.NDArray[np.uint64]:
        return np.asarray(self._hashes, dtype=np.uint64)

    def signatures(self) -> sketch.U32:
        """All signatures as one matrix (concatenated once, then kept instead of the chunks)."""
        if not self._sig:
            return np.zeros((0, self.config.num_perm), dtype=np.uint32)
        if len(self._sig) > 1:
            self._sig = [np.concatenate(self._sig)]
        return self._sig[0]

    def window(self) -> tuple[sketch.U32, sketch.I64]:
        """Template-view shingle hashes of every skeleton, flattened, with offsets."""
        lengths = np.concatenate(self._win_len) if self._win_len else np.zeros(0, dtype=np.int64)
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        flat = np.concatenate(self._win) if self._win else np.zeros(0, dtype=np.uint32)
        return flat, offsets

    def texts(self, ids: Sequence[int] | npt.NDArray[np.int64]) -> list[str | None]:
        """Skeleton text (capped) of the given skeleton ids (-1 gives None)."""
        return self.text_array(ids).to_pylist()  # type: ignore[no-any-return]

    def text_array(self, ids: Sequence[int] | npt.NDArray[np.int64]) -> pa.Array:
        """The same as an Arrow string array (no Python strings), null for -1."""
        idx = np.asarray(ids, dtype=np.int64)
        if not self._texts:
            return pa.nulls(len(idx), type=pa.string())
        arr = pa.chunked_array(self._texts, type=pa.string())
        taken = arr.take(pa.array(np.where(idx < 0, 0, idx))).combine_chunks()
        return pc.if_else(pa.array(idx < 0), pa.scalar(None, type=pa.string()), taken)


def _capped(text: str, cap: int) -> str:
    """Head and tail of a long skeleton: instructions sit at the start or the end of a prompt."""
    if len(text) <= cap:
        return text
    head = cap * 2 // 3
    return f"{text[:head]} … {text[len(text) - (cap - head) :]}"
