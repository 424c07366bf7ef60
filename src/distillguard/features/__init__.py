"""Features: per-account behaviour vectors from exchanges and their fingerprints.

Contract
--------
in:  a DuckDB connection holding ``exchanges`` (schema.EXCHANGES) and ``fp_exchanges`` (the per-exchange
     fingerprint: request_id, family_id, capability and the elicitation flags), plus ``fp_families``.
out: ``account_features(con)`` -> one Arrow row per account (``FEATURE_DOC`` names every column).

All work is SQL inside DuckDB, so it streams and spills instead of holding the log in Python memory.
Nothing here decides anything: scoring turns these numbers into evidence.
"""

from __future__ import annotations

from distillguard.features.account import FEATURE_DOC, account_features, model_releases

__all__ = ["FEATURE_DOC", "account_features", "model_releases"]
