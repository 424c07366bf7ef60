"""Linking: join accounts that share infrastructure, payment, tooling or templates into clusters.

Contract
--------
in:  a DuckDB connection with ``exchanges``, ``fp_exchanges`` and the account features table.
out: ``link_accounts(con, features, config)`` -> ``Linkage`` with
     - ``incidence``: account_id, kind, key, weight, share — which blocking keys tie each account in;
     - ``edges``: account pairs with the kinds of link between them (sampled within each key, for display);
     - ``clusters``: account_id -> cluster_id (community detection over the account-key graph).

Candidate links come from blocking keys (shared /24 or /48, ASN+pathway, payment fingerprint, rare user
agent or client fingerprint, template family, request-parameter signature, creation burst), never from
all pairs. A key shared by a huge crowd (carrier NAT, a reseller's egress, a campus) is down-weighted, not
trusted. A community that holds an operator's identity web (shared payments, rare user agents, private
networks, sign-up bursts) and accounts outside it is split in two (``graph.split_identity_cores``).
Clusters are not verdicts: scoring decides which clusters are campaigns.
"""

from __future__ import annotations

from distillguard.linking.graph import KEY_KINDS, Linkage, LinkConfig, link_accounts

__all__ = ["KEY_KINDS", "LinkConfig", "Linkage", "link_accounts"]
