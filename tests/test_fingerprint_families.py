"""Template families: slot-filled templates, paraphrases and wrappers group; unrelated prompts don't."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa
import pytest

from distillguard.errors import InputError
from distillguard.fingerprint import EXCHANGE_FP, FAMILIES, FingerprintConfig, fingerprint, kernels
from distillguard.fingerprint.registry import SkeletonSet, sketch_skeletons
from distillguard.fingerprint.sketch import EMPTY_SLOT
from fingerprint_data import CHAT, PARAPHRASES, QUESTIONS, rows_to_table, wrapped


def _families(texts: list[str], **extra: object) -> list[int]:
    table = rows_to_table([{"first_user_text": t, "account_id": f"a{i % 7}", **extra} for i, t in enumerate(texts)])
    return fingerprint(table.to_batches(max_chunksize=16)).exchanges.column("family_id").to_pylist()


def test_slot_filled_template_is_one_family_across_accounts() -> None:
    texts = [
        f'Translate the sentence "{w} number {i}" into French and explain the grammar.' for i, w in enumerate(CHAT)
    ]
    table = rows_to_table([{"first_user_text": t, "account_id": f"acct_{i % 9}"} for i, t in enumerate(texts)])
    fp = fingerprint([table])
    assert len(set(fp.exchanges.column("family_id").to_pylist())) == 1
    fam = fp.families.to_pylist()[0]
    assert fam["n_exchanges"] == len(texts) and fam["n_accounts"] == 9


def test_paraphrased_variants_mostly_land_in_one_family() -> None:
    fams = _families(PARAPHRASES)
    _, biggest = Counter(fams).most_common(1)[0]
    assert biggest >= 0.8 * len(PARAPHRASES)


def test_wrapper_around_varying_questions_is_one_family_and_bare_questions_stay_out() -> None:
    texts = [wrapped(q, i) for i, q in enumerate(QUESTIONS)] + QUESTIONS
    fams = _families(texts)
    wrapped_fams = Counter(fams[: len(QUESTIONS)])
    fam, size = wrapped_fams.most_common(1)[0]
    assert size >= 0.9 * len(QUESTIONS)
    assert fam not in set(fams[len(QUESTIONS) :])


def test_unrelated_chat_prompts_do_not_merge() -> None:
    fams = _families(CHAT + QUESTIONS)
    assert max(Counter(fams).values()) == 1


def test_family_ids_do_not_depend_on_batch_boundaries() -> None:
    texts = [wrapped(q, i) for i, q in enumerate(QUESTIONS)] + CHAT + PARAPHRASES
    table = rows_to_table(
        [{"first_user_text": t, "system_text": "Be brief." if i % 2 else None} for i, t in enumerate(texts)]
    )
    one = fingerprint([table]).exchanges
    many = fingerprint(table.to_batches(max_chunksize=7)).exchanges
    assert one.equals(many)


def test_system_prompt_family_and_exchanges_without_text() -> None:
    table = rows_to_table(
        [
            {
                "system_text": "You are an expert data analyst. Deliver insights grounded in data.",
                "first_user_text": CHAT[0],
            },
            {
                "system_text": "You are an expert data analyst. Deliver insights grounded in data.",
                "first_user_text": CHAT[1],
            },
            {"system_text": None, "first_user_text": CHAT[0]},
            {"system_text": None, "first_user_text": None},
            {"system_text": "", "first_user_text": "   "},
        ]
    )
    ex = fingerprint([table]).exchanges.to_pylist()
    assert ex[0]["system_family_id"] == ex[1]["system_family_id"] is not None
    assert ex[0]["family_id"] != ex[1]["family_id"]  # same system prompt, unrelated user turns
    assert ex[2]["system_family_id"] is None and ex[2]["user_family_id"] == ex[0]["user_family_id"]
    assert ex[2]["family_id"] != ex[0]["family_id"]
    assert ex[3]["family_id"] == ex[4]["family_id"]  # no text at all: one family of the empty skeleton


def test_output_shapes_order_and_streaming_with_a_small_mask_cache() -> None:
    texts = [f"Compute {i} times {i + 1} and say whether the result is even." for i in range(3000)]
    table = rows_to_table([{"first_user_text": t, "account_id": f"a{i % 50}"} for i, t in enumerate(texts)])
    fp = fingerprint(table.to_batches(max_chunksize=500), FingerprintConfig(mask_cache_size=1024))
    assert fp.exchanges.schema.equals(EXCHANGE_FP) and fp.families.schema.equals(FAMILIES)
    assert fp.exchanges.column("request_id").to_pylist() == [f"req_{i}" for i in range(3000)]
    assert fp.families.num_rows == 1
    fam = fp.families.to_pylist()[0]
    assert fam["n_accounts"] == 50 and fam["structure"] == "exact"
    assert len(fam["signature"]) == FingerprintConfig().num_perm
    assert fam["first_seen"] < fam["last_seen"]
    assert len(fam["example_skeleton"]) <= 300 and "<num>" in fam["example_skeleton"]


def test_empty_input_and_missing_columns() -> None:
    fp = fingerprint([])
    assert fp.exchanges.num_rows == 0 and fp.families.num_rows == 0
    assert fp.families.schema.equals(FAMILIES)
    with pytest.raises(InputError, match="first_user_text"):
        fingerprint([pa.table({"request_id": ["r"], "account_id": ["a"]})])


def test_lsh_edges_only_join_what_all_pairs_would_and_compress_big_buckets() -> None:
    import numpy as np

    from distillguard.fingerprint import sketch

    rng = np.random.default_rng(3)
    base = rng.integers(0, 2**32, size=(4, 64), dtype=np.uint64).astype(np.uint32)
    rows = []
    for g in range(4):  # 4 groups of 300 near-identical signatures (a few slots changed each)
        for _ in range(300):
            row = base[g].copy()
            flip = rng.choice(64, size=6, replace=False)
            row[flip] = rng.integers(0, 2**32, size=6, dtype=np.uint64).astype(np.uint32)
            rows.append(row)
    sig = np.stack(rows)
    active = np.ones(len(sig), dtype=bool)
    edges = sketch.verified_edges(sig, active, bands=21, rows=3, threshold=0.5)
    assert len(edges) <= 3 * len(sig)  # compressed, not 21 bands x 300 neighbours per group
    labels = sketch.components(len(sig), edges)
    assert len(set(labels.tolist())) == 4
    assert all(len(set(labels[g * 300 : (g + 1) * 300].tolist())) == 1 for g in range(4))


def test_text_column_of_nulls_only_typed_null() -> None:
    # A batch whose every system prompt is absent may come with the column typed null.
    table = pa.table(
        {
            "request_id": ["r1", "r2"],
            "account_id": ["a", "b"],
            "first_user_text": ["How do I bake bread at home?", "Name three moons of Jupiter."],
            "system_text": pa.nulls(2),
        }
    )
    fp = fingerprint([table])
    assert fp.exchanges.column("system_family_id").null_count == 2
    assert fp.families.num_rows == 2


def test_skeleton_set_keeps_signatures_as_two_halves_that_give_back_the_32_bit_rows() -> None:
    config = FingerprintConfig()
    texts = pa.array([*QUESTIONS[:20], "", None, "a b c d e f g"])
    sk = sketch_skeletons(texts, config)
    hashes = kernels.string_hashes(pa.array([f"k{i}" for i in range(len(texts))]), 7)
    skeletons, remap = SkeletonSet.build(hashes, [sk], config.num_perm)
    full = np.empty_like(sk.sig)
    full[remap] = sk.sig  # the sketches in the set's (hash) order
    every = np.arange(len(skeletons), dtype=np.int64)
    assert skeletons.signatures(every).dtype == np.uint32
    assert np.array_equal(skeletons.signatures(every), full)
    ids = np.array([3, 0, 3], dtype=np.int64)
    assert np.array_equal(skeletons.signatures(ids), full[ids])
    assert np.array_equal(skeletons.low16(), (full & 0xFFFF).astype(np.uint16))
    # The blank and null texts have no shingle: every slot empty, in both halves; the others are sketched.
    assert np.array_equal(skeletons.sketched(step=4), ~(full == EMPTY_SLOT).all(axis=1))
    assert int((~skeletons.sketched()).sum()) == 2
    # The family table's signatures are the 32-bit rows of its representatives.
    fams = fingerprint([rows_to_table([{"first_user_text": t, "account_id": "a"} for t in QUESTIONS[:5]])]).families
    assert all(len(s) == config.num_perm and max(s) > 0xFFFF for s in fams["signature"].to_pylist())
