"""Combine account rules, cluster rules and affinity into risk, flags and evidence."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from distillguard.features.account import FEATURE_DOC, HIGH_VALUE
from distillguard.scoring.cluster import (
    CLUSTER_DOC,
    LINK_DOC,
    affinity,
    cluster_features,
    core_families,
    link_summary,
    synchrony,
)
from distillguard.scoring.rules import RuleSet, apply_rules, load_rules, risk_from_points
from distillguard.sqlconn import SqlConnection, registered

CLUSTER_CONTEXT: dict[str, str] = {
    "cluster_sender_identity_linked_share": "its cluster's sender_identity_linked_share (see LINK_DOC)",
    "cluster_payment_shared_share": "its cluster's payment_shared_share (see CLUSTER_DOC)",
    "cluster_creation_burst_share": "its cluster's creation_burst_share (see CLUSTER_DOC)",
}
"""What an account rule may read of the account's cluster: the identity web around it (slow-moving facts that the
replay also reads as final values). Wording an account shares with customers whom nothing else ties together is
a public template, and the account is one customer among many, not one hand of an operator."""

ACCOUNT_COLUMNS = (
    *FEATURE_DOC, "affinity", "core_prompts", "cluster_size", "adopted", "identity_tied", *CLUSTER_CONTEXT,
)  # fmt: skip
CLUSTER_COLUMNS = (*CLUSTER_DOC, "synchrony", *LINK_DOC)


def default_rules_path() -> Path:
    return Path(str(resources.files("distillguard.scoring").joinpath("rules.toml")))


def default_rules() -> RuleSet:
    return load_rules(default_rules_path(), account_columns=ACCOUNT_COLUMNS, campaign_columns=CLUSTER_COLUMNS)


@dataclass(frozen=True)
class Scores:
    accounts: pa.Table
    """Features plus cluster_id, affinity, account_risk, campaign_risk, risk, flagged, evidence."""
    clusters: pa.Table
    """Cluster features plus synchrony, risk, evidence."""
    core: pa.Table
    """cluster_id, family_id: the template families each cluster shares (see ``core_families``)."""


def _join(left: pa.Table, right: pa.Table, key: str) -> pa.Table:
    out = left.join(right, key, join_type="left outer")
    return out.sort_by(key)


def _column(table: pa.Table, name: str, missing: float) -> np.ndarray:
    if name not in table.column_names:
        return np.full(table.num_rows, missing)
    return np.asarray(pc.fill_null(table[name].cast(pa.float64()), missing).to_numpy(zero_copy_only=False))


def identity_context(acc: pa.Table, cl: pa.Table, ci: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per account: whether it is in its cluster's identity core, and the share of the cluster in that core."""
    tied = _column(acc, "identity_tied", 1.0) > 0  # no linking evidence: nobody is discounted
    return tied, _column(cl, "identity_core_share", 0.0)[ci]


def rotation_context(acc: pa.Table, ci: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per account: the share of its exchanges that came from a network new to it (distinct networks /
    exchanges), the mean of that share over its cluster, and its exchanges."""
    n_ex = _column(acc, "n_exchanges", 0.0)
    rotation = _column(acc, "n_nets", 0.0) / np.maximum(n_ex, 1.0)
    n_cl = int(ci.max()) + 1 if len(ci) else 0
    cluster = np.bincount(ci, weights=rotation, minlength=n_cl) / np.maximum(np.bincount(ci, minlength=n_cl), 1)
    return rotation, cluster[ci], n_ex


def off_pool(rotation: np.ndarray, cluster_rotation: np.ndarray, n_exchanges: np.ndarray, rules: RuleSet) -> np.ndarray:
    """Accounts of a cluster that sends through a rotating pool of networks (``rotation_cluster_share`` of a
    member's requests, on average, from a network new to it) that stay on a few networks themselves
    (below ``rotation_outsider_share``, over at least ``rotation_min_exchanges``): not operated with it.
    A lone account is never off its own cluster's pool (its rotation is the cluster's)."""
    pool = cluster_rotation >= float(rules.setting("rotation_cluster_share", np.inf))
    still = rotation < float(rules.setting("rotation_outsider_share", 0.0))
    seen = n_exchanges >= float(rules.setting("rotation_min_exchanges", 0.0))
    return np.asarray(pool & still & seen, dtype=bool)


def membership(
    affinity: np.ndarray,
    cluster_size: np.ndarray,
    tied: np.ndarray,
    group_share: np.ndarray,
    rules: RuleSet,
    core_prompts: np.ndarray | None = None,
    own_points: np.ndarray | None = None,
    outside_pool: np.ndarray | None = None,
) -> np.ndarray:
    """How much of its cluster's risk each account carries, in [0, 1].

    In proportion to how much of the cluster's shared traffic it sends itself (affinity), so
    infrastructure alone never condemns a bystander; and nothing where the cluster is an identity-defined
    group (``identity_group_share`` of its members form one web of shared payments, networks or sign-up
    bursts) that the account is not part of: a public template shared with a campaign is not membership of it.
    Nothing either for an account whose own behaviour is evidence of legitimacy (``own_points`` below zero:
    real conversations, real tool loops, a verified enterprise) while fewer than ``min_core_prompts`` of its
    own prompts (``core_prompts``: opening turns or histories it never received) fall in the cluster's
    shared families: one conversation that happens to open like a campaign's prompt is not membership,
    however long the conversation. Nothing either for an account ``outside_pool`` (``off_pool``): a hydra
    sends through its operator's rotating proxy pool; an account of its cluster on one or two stable networks
    shares its prompts (a public benchmark, say) but not its operator.
    """
    floor, min_aff = float(rules.setting("affinity_floor")), float(rules.setting("min_affinity"))
    share = np.clip((affinity - floor) / max(min_aff - floor, 1e-9), 0.0, 1.0)
    share = np.where(cluster_size >= 2, share, 0.0)
    share = np.where(few_prompts(core_prompts, own_points, rules), 0.0, share)
    if outside_pool is not None:
        share = np.where(outside_pool, 0.0, share)
    return np.asarray(np.where(outsiders(tied, group_share, rules), 0.0, share), dtype=np.float64)


def few_prompts(core_prompts: np.ndarray | None, own_points: np.ndarray | None, rules: RuleSet) -> np.ndarray:
    """Accounts with evidence of legitimacy of their own and fewer than ``min_core_prompts`` of their own
    prompts in their cluster's shared families (see ``membership``)."""
    if core_prompts is None or own_points is None:  # not measured: nobody is discounted
        return np.asarray(False)
    few = np.nan_to_num(core_prompts) < float(rules.setting("min_core_prompts", 0))
    return np.asarray(few & (own_points < 0), dtype=bool)


def identity_defined(group_share: np.ndarray, rules: RuleSet) -> np.ndarray:
    """Accounts whose cluster is identity-defined: its identity core holds ``identity_group_share`` of it."""
    return np.asarray(group_share >= float(rules.setting("identity_group_share", np.inf)), dtype=bool)


def outsiders(tied: np.ndarray, group_share: np.ndarray, rules: RuleSet) -> np.ndarray:
    """Accounts in an identity-defined cluster (see ``membership``) that share none of its identities."""
    return np.asarray(~tied & identity_defined(group_share, rules), dtype=bool)


def organisation_members(con: SqlConnection, incidence: pa.Table, clusters: pa.Table, rules: RuleSet) -> np.ndarray:
    """Per row of ``clusters`` (account_id, cluster_id): the account is in its cluster's identity core and the
    cluster is identity-defined (``identity_defined``); the complement of ``outsiders`` within such clusters."""
    per_cluster, per_account = link_summary(incidence, clusters, con)
    core_share = per_cluster["identity_core_share"].to_pylist()
    share = dict(zip(per_cluster["cluster_id"].to_pylist(), core_share, strict=True))
    group = np.array([share.get(c, 0.0) or 0.0 for c in clusters["cluster_id"].to_pylist()], dtype=np.float64)
    tied = dict(zip(per_account["account_id"].to_pylist(), per_account["identity_tied"].to_pylist(), strict=True))
    member = np.array([bool(tied.get(a)) for a in clusters["account_id"].to_pylist()], dtype=bool)
    return np.asarray(member & identity_defined(group, rules), dtype=bool)


def sender_links(con: SqlConnection, incidence: pa.Table, acc: pa.Table, rules: RuleSet) -> pa.Table:
    """cluster_id, sender_identity_linked_share (``LINK_DOC``): the identity ties among the members whose traffic
    is mostly the cluster's shared templates (affinity at least ``min_affinity``); 0 where none or one sends."""
    aff = np.nan_to_num(_column(acc, "affinity", 0.0))
    senders = acc.select(["account_id", "cluster_id"]).filter(pa.array(aff >= float(rules.setting("min_affinity"))))
    per_cluster, _ = link_summary(incidence, senders, con)
    share = per_cluster.select(["cluster_id", "identity_linked_share"])
    share = share.rename_columns(["cluster_id", "sender_identity_linked_share"])
    ids = pa.table({"cluster_id": pa.array(sorted(set(acc["cluster_id"].to_pylist())), pa.int64())})
    out = _join(ids, share, "cluster_id")
    filled = pc.fill_null(out["sender_identity_linked_share"].cast(pa.float64()), 0.0)
    return out.set_column(1, "sender_identity_linked_share", filled)


def with_cluster_context(acc: pa.Table, cl: pa.Table) -> pa.Table:
    """``acc`` plus the ``CLUSTER_CONTEXT`` columns of each account's cluster (null where ``cl`` lacks one:
    without linking evidence no rule reading them holds)."""
    have = [c for c in CLUSTER_CONTEXT if c.removeprefix("cluster_") in cl.column_names]
    ctx = cl.select(["cluster_id", *(c.removeprefix("cluster_") for c in have)]).rename_columns(["cluster_id", *have])
    return _join(acc.drop_columns([c for c in have if c in acc.column_names]), ctx, "cluster_id").sort_by("account_id")


def _with_sizes(acc: pa.Table) -> pa.Table:
    """``acc`` (one row per account, with cluster_id) plus cluster_size, sorted by account_id."""
    sizes = (
        acc.group_by("cluster_id").aggregate([("account_id", "count")]).rename_columns(["cluster_id", "cluster_size"])
    )
    return _join(acc, sizes, "cluster_id").sort_by("account_id")


def adopt_stragglers(
    acc: pa.Table, rules: RuleSet, own_points: np.ndarray, organised: np.ndarray | None = None
) -> pa.Table:
    """Move each account that sends almost nothing in its own cluster's shared families but mostly another
    cluster's into that cluster (``adopted`` marks them; cluster_size is recounted).

    Linking is a partition of a graph where a small account's few keys (a carrier network, a common client)
    can outweigh its content; what it sends says more. Needs ``adopt_min_exchanges`` of its exchanges in the
    other cluster's families, so one borrowed prompt moves nobody, and mostly standalone prompts (or, instead of
    standalone prompts and no legitimacy of its own, ``adopt_bulk_exchanges`` exchanges there).
    ``own_points``: each account's points from the account rules alone, before any cluster.
    ``organised``: the members of identity-defined clusters (``organisation_members``) stay where they are.
    Adoption corrects links made of weak keys; a member of a group most of whose accounts share a private
    network, sign-up bursts or an e-mail domain belongs with it, whatever wording it shares with another
    cluster: a classroom on its campus network whose course prompt wraps the same public questions as a
    campaign's template.
    """
    floor, min_aff = float(rules.setting("affinity_floor")), float(rules.setting("min_affinity"))
    min_ex = float(rules.setting("adopt_min_exchanges", np.inf))
    own = np.nan_to_num(_column(acc, "affinity", 0.0))
    other = np.nan_to_num(_column(acc, "foreign_affinity", 0.0))
    hits = np.nan_to_num(_column(acc, "foreign_exchanges", 0.0))
    # A conversational user whose chats happen to open like a campaign's prompts is not moved: its traffic
    # there continues real conversations (positive evidence), where a campaign's is standalone.
    standalone = np.nan_to_num(_column(acc, "standalone_share", 0.0))
    # ... and only an account with no evidence of legitimacy of its own (no negative points from the account
    # rules alone): a customer whose own traffic speaks for it (real conversations, a verified enterprise's
    # workload) is not moved by wording. A small account of a campaign has no rule of its own either way.
    move = (own < floor) & (other >= min_aff) & (hits >= min_ex) & (standalone >= 0.5) & (own_points >= 0)
    # ... unless the account sends the other cluster's templates in bulk: hundreds of exchanges in a campaign's
    # shared families are not chats that happen to open alike, whatever conversations or tool loops carry them
    # (a harvester running a real agent harness has both).
    move |= (own < floor) & (other >= min_aff) & (hits >= float(rules.setting("adopt_bulk_exchanges", np.inf)))
    if organised is not None:
        move &= ~organised
    cluster = np.where(move, np.nan_to_num(_column(acc, "foreign_cluster", -1.0)), _column(acc, "cluster_id", -1.0))
    # An adopted account's prompts there: its exchanges in the new cluster's families, mostly standalone.
    prompts = np.where(move, hits, np.nan_to_num(_column(acc, "core_prompts", 0.0)))
    replaced = ("cluster_id", "cluster_size", "affinity", "core_prompts", "foreign_cluster", "foreign_affinity")
    acc = acc.drop_columns([c for c in (*replaced, "foreign_exchanges") if c in acc.column_names])
    acc = acc.append_column("cluster_id", pa.array(cluster.astype(np.int64)))
    acc = acc.append_column("affinity", pa.array(np.where(move, other, own)))
    acc = acc.append_column("core_prompts", pa.array(prompts.astype(np.int64)))
    return _with_sizes(acc.append_column("adopted", pa.array(move)))


def score(
    con: SqlConnection,
    features: pa.Table,
    clusters: pa.Table,
    releases: pa.Table,
    rules: RuleSet,
    incidence: pa.Table | None = None,
    *,
    exchanges: str = "exchanges",
    fp: str = "fp_exchanges",
    key: str = "request_id",
) -> Scores:
    large_budget = int(rules.setting("large_thinking_budget"))
    core_min_share = float(rules.setting("core_family_min_share"))
    core_exclusive = float(rules.setting("core_family_min_exclusive"))
    acc = _with_sizes(_join(features.sort_by("account_id"), clusters, "account_id"))
    core = core_families(
        con, acc, exchanges=exchanges, fp=fp, key=key, min_share=core_min_share, min_exclusive=core_exclusive
    )
    aff = affinity(con, acc, exchanges=exchanges, fp=fp, key=key, core=core)
    acc = _join(acc, aff, "account_id")
    own_points, _ = apply_rules(acc, rules.account, explain=False)
    organised = None
    if incidence is not None:
        organised = organisation_members(con, incidence, acc.select(["account_id", "cluster_id"]), rules)
    acc = adopt_stragglers(acc, rules, own_points, organised)
    clusters = acc.select(["account_id", "cluster_id"])

    with registered(con, {"releases": releases}):
        cl = cluster_features(
            con,
            acc,
            exchanges=exchanges,
            fp=fp,
            key=key,
            high_value=HIGH_VALUE,
            large_budget=large_budget,
            core=core,
        )
    cl = _join(cl, synchrony(con, acc, exchanges=exchanges), "cluster_id")
    own_ties: dict[str, list[dict[str, object]] | None] | None = None  # per account (``link_summary``)
    if incidence is not None:
        links, ties = link_summary(incidence, clusters, con)
        own_ties = dict(zip(ties["account_id"].to_pylist(), ties["own_ties"].to_pylist(), strict=True))
        acc = _join(acc, ties.drop_columns(["own_ties"]), "account_id")
        kinds = dict(zip(links["cluster_id"].to_pylist(), links["link_kinds"].to_pylist(), strict=True))
        cl = _join(cl, links.drop_columns(["link_kinds"]), "cluster_id")
        cl = _join(cl, sender_links(con, incidence, acc, rules), "cluster_id")
        cl = cl.append_column(
            "link_kinds",
            pa.array([kinds.get(c) for c in cl["cluster_id"].to_pylist()], links.schema.field("link_kinds").type),
        )

    acc = with_cluster_context(acc, cl)
    center, slope = float(rules.setting("risk_center")), float(rules.setting("risk_slope"))
    a_points, a_evidence = apply_rules(acc, rules.account)
    a_risk = risk_from_points(a_points, center, slope)
    c_points, c_evidence = apply_rules(cl, rules.campaign)
    c_risk = risk_from_points(c_points, center, slope)

    c_index = {cid: i for i, cid in enumerate(cl["cluster_id"].to_pylist())}
    acc_cluster = acc["cluster_id"].to_pylist()
    acc_ids = acc["account_id"].to_pylist()
    ci = np.array([c_index[c] for c in acc_cluster], dtype=np.int64)
    aff_v = np.nan_to_num(acc["affinity"].to_numpy(zero_copy_only=False).astype(np.float64))
    size_v = acc["cluster_size"].to_numpy().astype(np.float64)
    tied, group = identity_context(acc, cl, ci)
    prompts_v = _column(acc, "core_prompts", 0.0)
    rotation, cluster_rotation, n_ex = rotation_context(acc, ci)
    stays = off_pool(rotation, cluster_rotation, n_ex, rules)
    nets = _column(acc, "n_nets", 0.0)
    member = membership(aff_v, size_v, tied, group, rules, prompts_v, a_points, stays)
    inherited = c_risk[ci] * member
    risk = np.maximum(a_risk, inherited)
    flagged = risk > float(rules.setting("flag_threshold"))

    untied_member = (
        outsiders(tied, group, rules) & (size_v >= 2) & (c_risk[ci] > float(rules.setting("flag_threshold")))
    )
    passer_by = (
        few_prompts(prompts_v, a_points, rules)
        & ~outsiders(tied, group, rules)
        & (size_v >= 2)
        & (aff_v > float(rules.setting("affinity_floor")))
        & (c_risk[ci] > float(rules.setting("flag_threshold")))
    )
    adopted = _column(acc, "adopted", 0.0) > 0
    link_kinds = cl["link_kinds"].to_pylist() if "link_kinds" in cl.column_names else None
    evidence: list[list[str]] = []
    for i in range(acc.num_rows):
        ev = list(a_evidence[i])
        if adopted[i]:
            ev.append(
                f"placed with cluster {acc_cluster[i]} by what it sends: {aff_v[i]:.0%} of its traffic is in that "
                "cluster's shared template families, almost none in those of the accounts it was linked with"
            )
        if untied_member[i]:
            ev.append(
                f"linked to cluster {acc_cluster[i]} by wording alone, while {group[i]:.0%} of its members "
                "share identities (payments, networks, sign-up bursts) this account does not: judged on its own"
            )
        if stays[i] and c_risk[ci[i]] > float(rules.setting("flag_threshold")):
            ev.append(
                f"in cluster {acc_cluster[i]}, whose accounts send {cluster_rotation[i]:.0%} of their requests from "
                f"networks new to them (a rotating pool), while this account used {int(nets[i])} "
                f"network(s) for {int(n_ex[i])} exchanges: not operated with it: judged on its own"
            )
        if passer_by[i]:
            ev.append(
                f"{aff_v[i]:.0%} of its traffic is in cluster {acc_cluster[i]}'s shared template families, but only "
                f"{int(prompts_v[i])} of its own prompts, beside its own evidence of legitimacy: a conversation "
                "that opens like the campaign's is not membership: judged on its own"
            )
        if inherited[i] > a_risk[i] and inherited[i] > 0:
            j = ci[i]
            ev.append(
                f"member of linked cluster {acc_cluster[i]} ({int(size_v[i])} accounts, cluster risk "
                f"{c_risk[j]:.2f}), {aff_v[i]:.0%} of its traffic in the cluster's shared template families"
            )
            mine = own_ties.get(acc_ids[i]) if own_ties is not None else None
            if mine:
                ev.append(
                    "its own links to the cluster: "
                    + ", ".join(
                        f"{t['kind']} (shared with {t['others']} other members; {t['carriers']:,} accounts in all)"
                        for t in mine
                    )
                )
            elif own_ties is not None and not adopted[i]:
                ev.append(
                    "no link key of its own that is mostly this cluster's: it came in through crowd keys or "
                    "through the accounts it is linked with"
                )
            ties = link_kinds[j] if link_kinds is not None else None
            if ties:
                ev.append("cluster tied by " + ", ".join(f"{t['kind']} ({t['accounts']} accounts)" for t in ties))
            ev.extend(f"cluster: {e}" for e in c_evidence[j])
        evidence.append(ev)

    acc = (
        acc.append_column("account_risk", pa.array(a_risk))
        .append_column("campaign_risk", pa.array(c_risk[ci]))
        .append_column("risk", pa.array(risk))
        .append_column("flagged", pa.array(flagged))
        .append_column("evidence", pa.array(evidence, pa.list_(pa.string())))
    )
    cl = cl.append_column("risk", pa.array(c_risk)).append_column(
        "evidence", pa.array(c_evidence, pa.list_(pa.string()))
    )
    return Scores(accounts=acc, clusters=cl, core=core)
