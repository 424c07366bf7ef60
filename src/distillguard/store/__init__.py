"""The store: one DuckDB file holding exchanges, quarantine, the ingest ledger and later stages' results.

Contract:

* ``Store.open(path, read_only=False)`` creates or opens a store; a file written under another
  ``schema.SCHEMA_VERSION`` is migrated (when a migration is registered in ``MIGRATIONS``) or refused with
  ``StoreError``, never misread. A DuckDB file that is not a distillguard store is refused.
* ``exchanges`` is a view with exactly the columns of ``schema.EXCHANGES``; the rows live in
  ``exchange_rows``, which adds ``rid_hash`` (xxh3-64 of ``request_id``) used to find duplicates without a
  primary-key index (docs/design/ingest-store.md says why).
* ``store.commit_batch(batch, fingerprint)`` writes one ingest batch atomically: new exchanges, its
  quarantine rows and its ledger entry, or nothing.
* Later stages read with ``exchanges_relation()`` / ``iter_exchange_batches()`` and write result tables
  with ``write_table()``. ``keyed_exchanges()`` names a temporary view of the exchanges with
  ``schema.ROW_KEY`` (the row's id in the store), the integer key analysis joins its per-exchange tables on.
"""

from distillguard.store.core import MIGRATIONS, BatchResult, Store

__all__ = ["MIGRATIONS", "BatchResult", "Store"]
