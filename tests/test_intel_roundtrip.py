"""STIX 2.1 export and import: validity, privacy of what is shared, and matching a partner's indicators."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import stix2
from stix2patterns.validator import run_validator
from typer.testing import CliRunner

from analyst_world import (
    HYDRA,
    HYDRA_PAYMENT,
    HYDRA_UA,
    LEGIT,
    PROMPT_WORD,
    SECRET_EMAIL,
    SHARED_NET_LEGIT_IP,
    build_results,
)
from distillguard.cli import app
from distillguard.errors import ConfigError, InputError
from distillguard.fingerprint.sketch import MINHASH
from distillguard.intel import (
    ExportOptions,
    ImportOptions,
    collection_objects,
    export_bundle,
    import_bundle,
    keyed_hash,
    read_salt,
)
from distillguard.intel.keys import FAMILY_TYPE
from distillguard.store import Store

SALT = b"group-salt-0123456789abcdef"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return build_results(tmp_path_factory.mktemp("intel"))


@pytest.fixture(scope="module")
def bundle(world: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "bundle.json"
    export_bundle(world[0], out, SALT, ExportOptions(provider="Provider A"))
    return out


def _objects(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["objects"]


def test_bundle_is_valid_stix_with_every_part(bundle: Path) -> None:
    parsed = stix2.parse(bundle.read_text(encoding="utf-8"), allow_custom=True)
    assert parsed.type == "bundle"
    objs = _objects(bundle)
    types = {o["type"] for o in objs}
    assert {"identity", "campaign", "indicator", "relationship", "marking-definition"} <= types
    assert "x-distillguard-template-family" in types
    (camp,) = [o for o in objs if o["type"] == "campaign"]
    assert camp["confidence"] == 90 and camp["first_seen"] < camp["last_seen"]
    indicators = [o for o in objs if o["type"] == "indicator"]
    for ind in indicators:
        assert run_validator(ind["pattern"], stix_version="2.1") == []
        assert ind["valid_from"] < ind["valid_until"] and 0 <= ind["confidence"] <= 100
    kinds = {i["x_distillguard_kind"] for i in indicators}
    assert kinds == {"net", "user_agent", "payment", "account"}
    rel_targets = {
        o["target_ref"] for o in objs if o["type"] == "relationship" and o["relationship_type"] == "indicates"
    }
    assert rel_targets == {camp["id"]}
    fam = next(o for o in objs if o["type"] == "x-distillguard-template-family")
    assert len(fam["signature"]) == fam["num_perm"] and all(isinstance(v, int) for v in fam["signature"])


def test_only_ranges_no_legitimate_account_used_are_shared(bundle: Path) -> None:
    nets = [o["pattern"] for o in _objects(bundle) if o.get("x_distillguard_kind") == "net"]
    assert nets == ["[ipv4-addr:value = '100.64.7.0/24']"]  # 203.0.113.0/24 is shared with a customer


def test_no_raw_prompt_ip_payment_or_account_id_leaves(bundle: Path, world: tuple[Path, Path]) -> None:
    text = bundle.read_text(encoding="utf-8")
    with Store.open(world[1], read_only=True) as store:
        rows = store.connection.execute(
            "SELECT DISTINCT client_ip, payment_fingerprint, account_id FROM exchanges"
        ).fetchall()
    legit_ips = {ip for ip, _, acct in rows if acct in LEGIT}
    assert SHARED_NET_LEGIT_IP in legit_ips
    for ip in legit_ips | {ip for ip, _, _ in rows}:
        assert ip not in text
    for _, payment, account in rows:
        assert payment not in text and account not in text
    for word in (PROMPT_WORD, "Show your reasoning", SECRET_EMAIL, "Step 1"):
        assert word not in text
    assert keyed_hash(SALT, "payment", HYDRA_PAYMENT) in text
    assert HYDRA_UA in text  # exclusive to the hydra, so it is an indicator


def test_hashes_depend_on_the_salt(world: tuple[Path, Path], tmp_path: Path) -> None:
    other = tmp_path / "b.json"
    export_bundle(world[0], other, b"another-group-salt-000000000", ExportOptions(provider="Provider A"))
    assert keyed_hash(SALT, "payment", HYDRA_PAYMENT) not in other.read_text(encoding="utf-8")
    (tmp_path / "short.txt").write_text("tooshort\n")
    with pytest.raises(ConfigError, match="fewer than 16"):
        read_salt(tmp_path / "short.txt")


def test_collection_objects_serve_the_same_export(world: tuple[Path, Path], bundle: Path) -> None:
    objs = collection_objects(world[0], SALT, ExportOptions(provider="Provider A"))
    assert sorted(o["id"] for o in objs) == sorted(o["id"] for o in _objects(bundle))


@pytest.fixture()
def my_store(world: tuple[Path, Path], tmp_path: Path) -> Path:
    copy = tmp_path / "mine.duckdb"
    shutil.copy(world[1], copy)
    return copy


def test_import_matches_my_accounts_with_evidence(bundle: Path, my_store: Path, tmp_path: Path) -> None:
    summary = import_bundle(bundle, my_store, SALT, out_dir=tmp_path / "intel")
    assert summary.partner == "Provider A" and summary.campaigns == 1 and not summary.too_broad
    acc = pq.read_table(tmp_path / "intel" / "intel_accounts.parquet").to_pylist()
    by_id = {a["account_id"]: a for a in acc}
    assert set(HYDRA) <= set(by_id)
    for a in HYDRA:
        assert by_id[a]["strength"] == "identity" and {"payment", "account"} <= set(by_id[a]["kinds"])
        assert any("Provider A" in e for e in by_id[a]["evidence"])
    for a in LEGIT:  # a legitimate customer may share a template family, never an identity indicator
        assert a not in by_id or by_id[a]["strength"] == "infrastructure"
    assert by_id["acct_hydra_09"]["kinds"].count("net") == 1  # on the exclusive range
    with Store.open(my_store, read_only=True) as store:
        n = store.count("intel_matches")
    import_bundle(bundle, my_store, SALT)  # the same bundle again replaces, never duplicates
    with Store.open(my_store, read_only=True) as store:
        assert store.count("intel_matches") == n
        assert store.count("intel_accounts") == len(acc)


def test_wrong_salt_matches_no_hash(bundle: Path, my_store: Path) -> None:
    summary = import_bundle(bundle, my_store, b"not-the-group-salt-000000000")
    assert "payment" not in summary.by_kind and "account" not in summary.by_kind
    assert summary.by_kind.get("net", 0) > 0


def test_a_crowd_indicator_is_not_applied(my_store: Path, tmp_path: Path) -> None:
    now = datetime(2026, 3, 1)
    ident = stix2.Identity(name="Partner B", identity_class="organization")
    camp = stix2.Campaign(name="B-1", created_by_ref=ident.id)
    wide = stix2.Indicator(pattern="[ipv4-addr:value = '0.0.0.0/0']", pattern_type="stix", valid_from=now)
    ua = stix2.Indicator(
        pattern=f"[network-traffic:extensions.'http-request-ext'.request_header.'User-Agent' = '{HYDRA_UA}']",
        pattern_type="stix", valid_from=now,
    )  # fmt: skip
    odd = stix2.Indicator(pattern="[file:name = 'x.exe']", pattern_type="stix", valid_from=now)
    rels = [stix2.Relationship(i, "indicates", camp) for i in (wide, ua, odd)]
    path = tmp_path / "b.json"
    path.write_text(stix2.Bundle(ident, camp, wide, ua, odd, *rels).serialize(), encoding="utf-8")
    s = import_bundle(path, my_store, SALT, options=ImportOptions(max_accounts=12, max_share=0.0))
    assert s.too_broad == (wide.id,) and s.unsupported == 1
    assert s.by_kind == {"user_agent": len(HYDRA)} and s.accounts == len(HYDRA)


def test_invalid_bundles_are_refused(my_store: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"type": "bundle", "id": "bundle--nope", "objects": [{"type": "indicator"}]}')
    with pytest.raises(InputError, match="not a valid STIX"):
        import_bundle(bad, my_store, SALT)
    with pytest.raises(InputError, match="cannot read"):
        import_bundle(tmp_path / "missing.json", my_store, SALT)


def test_cli_export_and_import(world: tuple[Path, Path], my_store: Path, tmp_path: Path) -> None:
    salt = tmp_path / "salt.txt"
    salt.write_text(SALT.decode() + "\n")
    runner = CliRunner()
    out = tmp_path / "b.json"
    r = runner.invoke(app, ["intel", "export", "--results", str(world[0]), "--out", str(out), "--salt-file", str(salt)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["intel", "import", str(out), "--store", str(my_store), "--salt-file", str(salt),
                            "--out", str(tmp_path / "m")])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "matches on 10 of my accounts" in " ".join(r.output.split())
    assert pq.read_table(tmp_path / "m" / "intel_matches.parquet").num_rows > 0


def test_a_family_signed_by_another_minhash_is_not_compared(bundle: Path, my_store: Path, tmp_path: Path) -> None:
    """A template family's signature is compared only when it names this MinHash function and seed: one
    from another function (or an older bundle, which names none) agrees with mine only by chance."""
    doc = json.loads(bundle.read_text(encoding="utf-8"))
    families = [o for o in doc["objects"] if o["type"] == FAMILY_TYPE]
    assert families and all(o["minhash"] == MINHASH for o in families)
    same = import_bundle(bundle, my_store, SALT)
    assert same.by_kind.get("family", 0) > 0
    for o in families:
        del o["minhash"]
    old = tmp_path / "old.json"
    old.write_text(json.dumps(doc), encoding="utf-8")
    s = import_bundle(old, my_store, SALT)
    assert "family" not in s.by_kind and s.unsupported == same.unsupported + len(families)
