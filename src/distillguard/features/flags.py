"""Per-exchange flags that every aggregation counts, defined once.

The account features average them per account, the cluster features per cluster, and the replay sums them
per (account, time bucket); all three read these predicates, so a share means the same thing everywhere.
Each predicate is SQL over one exchange row joined to its fingerprint (``n_tools`` is the number of tools
the request offered).
"""

from __future__ import annotations

from collections.abc import Iterable

EXCHANGE_FLAGS: dict[str, str] = {
    "cot": "cot_elicitation OR reasoning_reconstruction OR trace_coercion",
    "reconstruction": "reasoning_reconstruction",
    "coercion": "trace_coercion",
    "rubric": "rubric_grading",
    "rewrite": "sensitive_rewrite",
    "refusal_probe": "refusal_probe",
    "thinking": "thinking_requested",
    "large_budget": "coalesce(thinking_budget, 0) >= {large_budget}",
    "single_turn": "coalesce(n_assistant_turns, 0) = 0",
    "tools_offered": "n_tools > 0",
    "tool_result": "coalesce(n_tool_results, 0) > 0",
    "image": "coalesce(n_images, 0) > 0",
}
"""flag name -> SQL predicate; ``{large_budget}`` is the large-thinking-budget setting."""

FABRICATED = "context_digest IS NOT NULL AND rp.d IS NULL"
"""A history the account never received: ``rp`` is the account's received reply digests, left-joined on
``rp.d`` = ``reply_key`` of (the account, context_digest) in the features query, the replay and scoring's
affinity (the features query counts the same join, as ``r``)."""

OWN_PROMPT = f"{EXCHANGE_FLAGS['single_turn']} OR ({FABRICATED})"
"""A prompt of the account's own: an opening turn, or a history it never received (needs ``rp`` as for
``FABRICATED``). A turn continuing a conversation the account really had is not."""

N_TOOLS = "coalesce(array_length(tools_offered), 0) AS n_tools"
"""The select item every query that counts ``tools_offered`` needs."""


def hashed(expr: str) -> str:
    """``expr``'s 64-bit hash, NULL kept NULL: what a query carries of an id it only counts distinct or
    compares for equality (an integer groups and deduplicates cheaper than a string; two values colliding,
    2**-64 a pair, would count once). ``features.account.HASHED``, the cluster queries of scoring and the
    replay's reply digests use it."""
    return f"CASE WHEN {expr} IS NULL THEN NULL ELSE hash({expr}) END"


def reply_key(account: str, digest: str) -> str:
    """One 64-bit key for an (account, reply digest) pair, NULL where the digest is NULL: what the features
    query, the replay and scoring's affinity join an exchange's ``context_digest`` to the account's received
    replies on (``rp.d`` of ``FABRICATED``). One integer to build and probe instead of two columns (an account
    hash beside a digest string, or two hashes): on the 4M bench store, alternated runs, the replay's counts
    4.0-4.4 -> 3.3-4.1 s (five each) and the features query's four passes 12.9-14.2 -> 11.4-14.1 s (three each;
    medians 13.3 -> 12.2 s), the same results.
    Two pairs colliding, 2**-64 each, would read one made-up history as received."""
    return f"CASE WHEN {digest} IS NULL THEN NULL ELSE hash({account}, {digest}) END"


def predicate(name: str, *, large_budget: int) -> str:
    return EXCHANGE_FLAGS[name].format(large_budget=int(large_budget))


def flag_shares(names: Iterable[str], *, large_budget: int) -> str:
    """``avg(CASE WHEN <flag> THEN 1.0 ELSE 0.0 END) AS <flag>_share, ...`` for a SELECT list."""
    return ", ".join(
        f"avg(CASE WHEN {predicate(n, large_budget=large_budget)} THEN 1.0 ELSE 0.0 END) AS {n}_share" for n in names
    )


def flag_counts(names: Iterable[str], *, large_budget: int) -> str:
    """``sum(CASE WHEN <flag> THEN 1 ELSE 0 END) AS <flag>, ...`` for a SELECT list."""
    return ", ".join(
        f"sum(CASE WHEN {predicate(n, large_budget=large_budget)} THEN 1 ELSE 0 END) AS {n}" for n in names
    )
