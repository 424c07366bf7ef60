"""The online linker's family matching reads only signatures made by this MinHash function."""

from __future__ import annotations

from typing import Any

from distillguard.fingerprint import FingerprintConfig, sketch
from distillguard.gateway.online import Linker
from distillguard.policy.model import OnlineSettings
from distillguard.text import mask

PROMPT = "Solve the following problem step by step and show every intermediate result: {q}"


def _snapshot(minhash: str | None) -> dict[str, Any]:
    cfg = FingerprintConfig()
    tok, off = sketch.token_hashes([mask(PROMPT.format(q="what is 17 times 23?"), cfg.text_cap)])
    flat, soff = sketch.shingle_hashes(tok, off, cfg.shingle_size)
    sig = sketch.signatures(flat, soff, cfg.num_perm, cfg.seed)[0]
    fp: dict[str, Any] = {"num_perm": cfg.num_perm, "seed": cfg.seed, "shingle_size": cfg.shingle_size,
                          "text_cap": cfg.text_cap}  # fmt: skip
    if minhash is not None:
        fp["minhash"] = minhash
    family = {"family_id": "42", "campaign_id": "C001", "signature": [int(v) for v in sig]}
    return {"campaign_members": {"C001": ["acct_a"]}, "indicators": [], "families": [family], "fingerprint": fp}


def test_a_prompt_of_a_campaign_template_is_matched() -> None:
    linker = Linker(OnlineSettings())
    linker.load(_snapshot(sketch.MINHASH))
    assert linker.observe("acct_new", None, None, None, PROMPT.format(q="what is 31 times 12?")) is None
    progress = linker._progress["acct_new"]
    assert progress.kinds == {"C001": {"family"}}


def test_families_signed_by_another_minhash_are_ignored() -> None:
    for other in (None, "rensa-rminhash"):
        linker = Linker(OnlineSettings())
        linker.load(_snapshot(other))
        linker.observe("acct_new", None, None, None, PROMPT.format(q="what is 31 times 12?"))
        assert "acct_new" not in linker._progress or not linker._progress["acct_new"].kinds
