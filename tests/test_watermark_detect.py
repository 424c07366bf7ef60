"""The detector: exact null distribution, false-positive rate equal to the stated p-value on unmarked
text (generated always, real corpora when present), attribution of marked text, 90% dilution."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from distillguard.watermark import UnitCounts, account_key, detect, detect_counts, mark_text
from distillguard.watermark.detect import _null
from distillguard.watermark.lexicon import SLOTS
from watermark_corpus import prose, simulator_answers

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
ALPHAS = (0.01, 0.05, 0.1, 0.2)


def _keys(tag: str, n: int) -> dict[str, bytes]:
    return {f"{tag}{i}": account_key(b"provider-secret", f"{tag}{i}") for i in range(n)}


def _rate_ok(pvals: np.ndarray, alpha: float, lower: bool) -> bool:
    """Empirical P(p <= alpha) within 3.5 binomial standard deviations of alpha (above; below too)."""
    rate = float((pvals <= alpha).mean())
    slack = 3.5 * (alpha * (1 - alpha) / len(pvals)) ** 0.5
    return rate <= alpha + slack and (not lower or rate >= alpha - slack)


def test_null_distribution_equals_brute_force_enumeration() -> None:
    rng = np.random.default_rng(5)
    k3 = next(s.sid for s in SLOTS if s.k == 3)
    sids = np.array([0, 0, 1, 2, 3, k3, k3, 4, 5], dtype=np.int64)
    counts = np.zeros((len(sids), 4), dtype=np.int64)
    for u, sid in enumerate(sids):
        counts[u, : SLOTS[sid].k] = rng.integers(0, 6, SLOTS[sid].k)
    counts[0] = [3, 0, 0, 0]
    uc = UnitCounts(sids, tuple(f"w{u}" for u in range(len(sids))), counts, texts=1)
    null = _null(uc)
    idx = np.flatnonzero(null.keep)
    totals = [
        int(sum(null.offsets[u, g] for u, g in zip(idx, combo, strict=True)))
        for combo in itertools.product(*[range(int(null.ks[u])) for u in idx])
    ]
    for t in range(len(null.tail)):
        assert null.tail[t] == pytest.approx(np.mean(np.array(totals) >= t), rel=1e-9, abs=1e-15)


def test_false_positive_rate_matches_p_value_on_generated_text() -> None:
    texts = prose(2000, seed=11)
    pvals = np.array([detect([t], {"k": account_key(b"fpr", str(i))})[0].p_value for i, t in enumerate(texts)])
    for alpha in ALPHAS:
        assert _rate_ok(pvals, alpha, lower=True), (alpha, float((pvals <= alpha).mean()))


def test_p_values_are_uniform_across_keys_for_one_set() -> None:
    # conditional on the texts the test is exact, so many keys against one set give uniform p-values
    uc = UnitCounts.collect(prose(60, seed=12) + simulator_answers(60, seed=13))
    pvals = np.array([d.p_value for d in detect_counts(uc, _keys("u", 2000))])
    for alpha in ALPHAS:
        assert _rate_ok(pvals, alpha, lower=True), (alpha, float((pvals <= alpha).mean()))


def test_simulator_text_is_never_over_flagged() -> None:
    texts = simulator_answers(1500, seed=14)
    pvals = np.array([detect([t], {"k": account_key(b"fpr", f"s{i}")})[0].p_value for i, t in enumerate(texts)])
    for alpha in ALPHAS:
        assert _rate_ok(pvals, alpha, lower=False), (alpha, float((pvals <= alpha).mean()))


def _real_texts(per_source: int) -> list[str]:
    """Real answers and prompts: GSM8K worked answers, ShareGPT turns (both sides), GPTeacher pairs."""
    with (SHARED_DATA / "gsm8k" / "train.jsonl").open(encoding="utf-8") as fh:
        gsm = [json.loads(line)["answer"] for line in itertools.islice(fh, per_source)]
    share: list[str] = []
    with (SHARED_DATA / "sharegpt" / "sharegpt92k_sample_1000.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            share += [str(t.get("value", "")) for t in json.loads(line).get("conversations", [])]
    rows = json.loads((SHARED_DATA / "gpteacher" / "codegen-instruct.json").read_text(encoding="utf-8"))
    teacher = [r["instruction"] + "\n" + r["response"] for r in rows]
    return gsm + share[:per_source] + teacher[:per_source]


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="public corpora folder not present")
def test_false_positive_rate_on_real_prompts_and_answers() -> None:
    texts = _real_texts(1000)
    assert len(texts) == 3000
    pvals = np.array([detect([t], {"k": account_key(b"fpr", f"r{i}")})[0].p_value for i, t in enumerate(texts)])
    for alpha in ALPHAS:
        assert _rate_ok(pvals, alpha, lower=False), (alpha, float((pvals <= alpha).mean()))
    uc = UnitCounts.collect(texts)
    pvals = np.array([d.p_value for d in detect_counts(uc, _keys("real", 1000))])
    for alpha in ALPHAS:
        assert _rate_ok(pvals, alpha, lower=True), (alpha, float((pvals <= alpha).mean()))


def test_marked_text_is_attributed_to_its_account() -> None:
    keys = _keys("acct_", 50)
    marked = [mark_text(t, keys["acct_7"]) for t in prose(30, seed=21)]
    found = detect(marked, keys)
    assert found[0].key_id == "acct_7"
    assert found[0].p_adjusted < 1e-6 and found[0].detected
    assert found[0].agree == found[0].units  # every slot context carries the key's choice
    assert not any(d.detected for d in found[1:])
    assert max(d.p_value for d in found) > 0.1


def test_ten_percent_marked_among_unmarked_text_is_detected() -> None:
    keys = _keys("acct_", 50)
    marked = [mark_text(t, keys["acct_3"]) for t in prose(100, seed=31)]
    found = detect(marked + prose(900, seed=32), keys)
    assert found[0].key_id == "acct_3" and found[0].p_adjusted < 1e-6
    assert not any(d.detected for d in found[1:])


def test_unmarked_text_detects_nothing() -> None:
    found = detect(prose(300, seed=41), _keys("acct_", 50))
    assert not any(d.detected for d in found)
    assert min(d.p_adjusted for d in found) > 1e-3
