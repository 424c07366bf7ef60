"""A small word n-gram language model: the stand-in "student" for proving that marks transfer.

Trained in-process on CPU in seconds, nothing downloaded. It learns from whitespace-separated tokens
(punctuation stays attached, as a word-level tokenizer would keep it), so what it reproduces is exactly
the phrasing statistics of its training text: the property a distilled model inherits and the
detector looks for. Sampling backs off from the longest seen context to shorter ones.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable

import numpy as np

from distillguard.errors import InputError

_BOS, _EOS = "\x02", "\x03"


class NgramStudent:
    """Word n-gram model with back-off sampling; ``order`` words of context plus one."""

    def __init__(self, order: int = 3) -> None:
        if order < 1:
            raise InputError("n-gram order must be at least 1")
        self.order = order
        self._counts: list[defaultdict[tuple[str, ...], Counter[str]]] = [
            defaultdict(Counter) for _ in range(order + 1)
        ]
        self._tables: dict[tuple[int, tuple[str, ...]], tuple[list[str], np.ndarray]] = {}
        self.tokens = 0

    def fit(self, texts: Iterable[str]) -> NgramStudent:
        for text in texts:
            words = [_BOS] * self.order + text.split() + [_EOS]
            self.tokens += len(words) - self.order
            for i in range(self.order, len(words)):
                for n in range(self.order + 1):
                    self._counts[n][tuple(words[i - n : i])][words[i]] += 1
        self._tables.clear()
        return self

    def _table(self, n: int, ctx: tuple[str, ...]) -> tuple[list[str], np.ndarray] | None:
        got = self._tables.get((n, ctx))
        if got is None:
            counter = self._counts[n].get(ctx)
            if not counter:
                return None
            words = list(counter)
            cum = np.cumsum(np.fromiter(counter.values(), dtype=np.float64, count=len(words)))
            got = self._tables[(n, ctx)] = (words, cum / cum[-1])
        return got

    def generate(self, n_texts: int, seed: int, max_words: int = 400) -> list[str]:
        """``n_texts`` samples, each up to ``max_words`` words, reproducible from ``seed``."""
        if not self._counts[0]:
            raise InputError("the student has not been trained")
        rng = np.random.default_rng(seed)
        out: list[str] = []
        for _ in range(n_texts):
            hist = [_BOS] * self.order
            words: list[str] = []
            while len(words) < max_words:
                for n in range(self.order, -1, -1):
                    table = self._table(n, tuple(hist[len(hist) - n :]) if n else ())
                    if table is not None:
                        break
                assert table is not None  # the empty context always has a table once trained
                vocab, cum = table
                word = vocab[min(int(np.searchsorted(cum, rng.random(), side="right")), len(vocab) - 1)]
                if word == _EOS:
                    break
                words.append(word)
                hist.append(word)
            out.append(" ".join(words))
        return out
