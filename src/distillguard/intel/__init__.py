"""Intelligence sharing: STIX 2.1 bundles out, partners' bundles matched against my own traffic.

Contract::

    from distillguard.intel import export_bundle, collection_objects, import_bundle, read_salt
    salt = read_salt("group-salt.txt")                    # shared within the sharing group, >= 16 bytes
    export_bundle("results/", "bundle.json", salt)        # analyze's folder (+ its store) -> STIX bundle
    objs = collection_objects("results/", salt)           # the same objects as JSON dicts, for TAXII
    summary = import_bundle("partner.json", "store.duckdb", salt, out_dir="intel/")

Export (``export``): Identity, TLP marking, a Campaign per campaign, Indicators (CIDR ranges, user
agents, keyed hashes of payment fingerprints and account ids), template-family MinHash signatures (custom
``x-distillguard-template-family``), Relationships, confidence and valid_from / valid_until; validated by
building every object with ``stix2``. Privacy: no prompt text, no raw payment value or account id (HMAC
under the group salt), and no address range, user agent or payment method that any unflagged account
used (``ExportOptions.min_share``).

Import (``match``): indicators matched against the store; evidence rows in the store tables
``intel_matches`` / ``intel_accounts`` (and parquet with ``out_dir``) for the policy stage. Imports flow
one way: intel uses store, fingerprint, report.results; never simulate.
"""

from distillguard.intel.export import ExportOptions, collection_objects, export_bundle, export_objects
from distillguard.intel.keys import keyed_hash, read_salt
from distillguard.intel.match import ImportOptions, ImportSummary, import_bundle

__all__ = [
    "ExportOptions",
    "ImportOptions",
    "ImportSummary",
    "collection_objects",
    "export_bundle",
    "export_objects",
    "import_bundle",
    "keyed_hash",
    "read_salt",
]
