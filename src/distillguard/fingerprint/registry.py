"""Streaming state of one text role (system prompts or first user turns): one entry per unique skeleton.

Raw text -> skeleton goes through a bounded cache keyed by the raw text's xxhash, so each distinct text
is masked once; skeletons are deduplicated by their own xxhash, and only a new skeleton is tokenised,
MinHashed. What is kept per unique skeleton is compact: its hash, its signature row, its text capped to
``cue_cap`` characters (head and tail: for classification of the family and its example) and, for the
template view, 32-bit hashes of its first and last shingles.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from distillguard.fingerprint import sketch
from distillguard.fingerprint.config import FingerprintConfig
from distillguard.text import mask_array

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

    def __len__(self) -> int:
        return len(self._hashes)

    def ids(self, column: pa.Array | pa.ChunkedArray) -> I32:
        """Skeleton id per row of a text column; -1 where the text is null or blank."""
        if not pa.types.is_string(column.type):
            column = column.cast(pa.string())  # an all-null column comes typed null
        encoded = pc.dictionary_encode(column)
        if isinstance(encoded, pa.ChunkedArray):
            encoded = encoded.combine_chunks()
        per_value = self._value_ids(encoded.dictionary)
        idx = encoded.indices.to_numpy(zero_copy_only=False)
        out = np.full(len(idx), -1, dtype=np.int32)
        valid = np.asarray(encoded.indices.is_valid())
        out[valid] = per_value[idx[valid].astype(np.int64)]
        return out

    def _value_ids(self, values: pa.Array) -> I32:
        """Skeleton id of each distinct raw text: cached ones looked up, the others masked in Arrow."""
        cache = self._raw_cache
        keys = [xxhash.xxh64_intdigest(v or b"") for v in values.cast(pa.binary()).to_pylist()]
        out = np.fromiter((cache.get(k, -2) for k in keys), dtype=np.int32, count=len(keys))
        miss = np.flatnonzero(out == -2)
        if len(miss):
            skeletons = _mask_parallel(values.take(pa.array(miss)), self.config.text_cap)
            sids = self._skeleton_ids(skeletons)
            out[miss] = sids
            if len(cache) + len(miss) > self.config.mask_cache_size:
                # Bounded memory: drop the oldest entries (dicts keep insertion order).
                for old in list(cache)[: len(cache) + len(miss) - self.config.mask_cache_size * 3 // 4]:
                    del cache[old]
            cache.update(zip((keys[i] for i in miss), sids.tolist(), strict=True))
        return out

    def _skeleton_ids(self, skeletons: pa.Array) -> I32:
        """Id of each skeleton (-1 for an empty one); new skeletons are queued for sketching."""
        salt, index, hashes = self._salt, self._index, self._hashes
        sids = np.empty(len(skeletons), dtype=np.int32)
        new = np.zeros(len(skeletons), dtype=bool)
        for i, sk in enumerate(skeletons.cast(pa.binary()).to_pylist()):
            if not sk:
                sids[i] = -1
                continue
            key = xxhash.xxh64_intdigest(sk, seed=salt)
            sid = index.get(key)
            if sid is None:
                sid = index[key] = len(hashes)
                hashes.append(key)
                new[i] = True
            sids[i] = sid
        if new.any():
            self._sketch(skeletons.filter(pa.array(new)))
        return sids

    def _sketch(self, skeletons: pa.Array, chunk: int = 8192) -> None:
        """MinHash the new skeletons, ``chunk`` at a time (bounded temporaries)."""
        cfg = self.config
        for lo in range(0, len(skeletons), chunk):
            part = skeletons.slice(lo, chunk)
            tok, tok_off = sketch.token_hashes(part)
            flat, off = sketch.shingle_hashes(tok, tok_off, cfg.shingle_size)
            self._sig.append(sketch.signatures(flat, off, cfg.num_perm, cfg.seed))
            self._texts.append(capped(part, cfg.cue_cap))
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


def capped(texts: pa.Array, cap: int) -> pa.Array:
    """Head and tail of long skeletons (instructions sit at the start or the end of a prompt)."""
    long = pc.fill_null(pc.greater(pc.utf8_length(texts), cap), False)
    if not pc.any(long).as_py():
        return texts
    sub = texts.filter(long)
    head = cap * 2 // 3
    joined = pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(sub, 0, head), " … ", pc.utf8_slice_codeunits(sub, head - cap), ""
    )
    return pc.replace_with_mask(texts, long, joined)


def _mask_parallel(texts: pa.Array, cap: int, threads: int = 2, min_rows: int = 4096) -> pa.Array:
    """``mask_array`` on two halves at once: Arrow's kernels release the GIL (the machine has 2 cores)."""
    if len(texts) < min_rows:
        return mask_array(texts, cap)
    step = -(-len(texts) // threads)
    with ThreadPoolExecutor(threads) as pool:
        parts = list(pool.map(lambda lo: mask_array(texts.slice(lo, step), cap), range(0, len(texts), step)))
    return pa.concat_arrays(parts)
