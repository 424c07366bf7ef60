"""Fingerprint stage: template families, capability areas and harvesting flags of every exchange.

Contract::

    from distillguard.fingerprint import FingerprintConfig, fingerprint, Fingerprints
    fp = fingerprint(batches, FingerprintConfig())

``batches`` is an iterable of ``pa.RecordBatch`` (or ``pa.Table``) with EXCHANGES columns; it needs at
least ``request_id``, ``account_id`` and ``first_user_text`` and uses, when present, ``ts``,
``system_text``, ``n_assistant_turns``, ``n_tool_results``, ``tools_offered``, ``n_images``,
``thinking_requested``, ``thinking_budget`` and ``reasoning_effort``. It is consumed once, streaming:
each exchange becomes one key row (``keys.KEYS``) in a SQL engine, per-skeleton state is one entry per
*unique* skeleton, and the families are counted and attributed by SQL (``keys``): the engines keep the key
table where their data is (``pipeline``, ``distillguard.spark``); ``fingerprint`` here keeps it in a
private in-memory DuckDB.

``Fingerprints.exchanges`` (schema ``EXCHANGE_FP``): one row per input exchange, in input order:
request_id, family_id, system_family_id (null without a system prompt), user_family_id, capability
and the booleans cot_elicitation, reasoning_reconstruction, trace_coercion, rubric_grading,
sensitive_rewrite, refusal_probe.

``Fingerprints.families`` (schema ``FAMILIES``): one row per family, largest first: family_id, the
system and user family ids, n_exchanges, n_accounts, capability, capability_scores (struct of one
score per area), the six flags as shares of the family's exchanges, structural shares (tools_share,
computer_tools_share, tool_results_share, images_share, thinking_share, multi_turn_share), structure
(exact / near / wrapper), example_skeleton (masked, <= ``example_cap`` characters), signature (MinHash
of the representative user skeleton, ``num_perm`` uint32 values for intel sharing) and first/last seen.

How: each distinct raw text is masked once (``distillguard.text.mask_array``, Arrow RE2 passes; a
bounded cache keyed by the raw text's xxhash), skeletons are deduplicated by xxhash, only new skeletons
are MinHashed (compiled, ``kernels``). At the end of the stream, LSH banding proposes candidate pairs among unique
skeletons, verified at the similarity threshold; connected components of those pairs are only
*proposals*: a skeleton joins a family when it is similar to the family's representative (its most
central member), so families cannot chain A ~ B ~ ... ~ Z (``fingerprint/clustering.py``). A second,
*template* view keeps only the shingles that recur across skeletons in long runs (a fixed instruction
around varying content) and clusters those the same way. System prompts and first user turns are
clustered separately; ``family_id`` is the combination of the two. A family id is the smallest
skeleton hash of its members, mixed: stable for a given input, independent of batch boundaries.
Capability areas and flags come from the cue file ``cues.toml`` (read on up to ``representatives``
skeleton texts per family) and structural shares over all its exchanges, decided once per family and
attributed to its exchanges: an exchange carries a flag when its family's share reaches ``flag_share`` and,
in a family the template view merged, its own system prompt or first user turn carries the cue
(``stage.own_cues``).
Results depend on the exchanges, not on their order or batching: unique skeletons are clustered in hash
order, a family's representatives are its skeletons with the smallest hashes, and its example, signature
and structure come from its earliest exchange (``keys.aggregates_sql``). The part after the stream,
``stage.families`` and the SQL of ``keys``, is shared with the Spark engine (``distillguard.spark.fingerprint``).
Design notes and measurements: docs/design/fingerprint.md.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from distillguard.fingerprint.config import FingerprintConfig

if TYPE_CHECKING:
    from distillguard.fingerprint.cues import AREAS, FLAGS
    from distillguard.fingerprint.stage import COLUMNS, Fingerprints, fingerprint
    from distillguard.fingerprint.tables import EXCHANGE_FP, FAMILIES

_LAZY = {
    "AREAS": "cues",
    "FLAGS": "cues",
    "COLUMNS": "stage",
    "Fingerprints": "stage",
    "fingerprint": "stage",
    "EXCHANGE_FP": "tables",
    "FAMILIES": "tables",
}
"""Imported on first use: the stage pulls in numba and the compiled kernels (about 0.6 s), which a module that
only needs ``FingerprintConfig`` (the policy snapshot, the command line) should not pay for."""


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AREAS",
    "COLUMNS",
    "EXCHANGE_FP",
    "FAMILIES",
    "FLAGS",
    "FingerprintConfig",
    "Fingerprints",
    "fingerprint",
]
