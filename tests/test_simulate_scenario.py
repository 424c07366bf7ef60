"""Scenario files: the built-ins load, and every defect is a ConfigError naming file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from distillguard.errors import ConfigError
from distillguard.simulate import BUILTIN, load_scenario, parse_scenario

MINIMAL = """
name = "tiny"
start = 2026-02-01T00:00:00Z
days = 2

[[models]]
name = "m1"
released = 2025-01-01T00:00:00Z

[[legit]]
archetype = "chat_user"
accounts = 3
exchanges = 30
capabilities = { chat = 1 }
"""


@pytest.mark.parametrize("name", BUILTIN)
def test_builtins_load(name: str) -> None:
    sc = load_scenario(name)
    assert sc.name == name and sc.groups and sc.models
    assert all(g.exchanges >= g.accounts for g in sc.groups)


def test_reported_2026_has_the_three_reported_campaigns_at_scale() -> None:
    sc = load_scenario("reported-2026")
    camps = {g.name: g for g in sc.scaled(sc.reported_scale).groups if g.attack}
    assert set(camps) == {"A", "B", "C"}
    assert 22_000 <= sum(g.accounts for g in camps.values()) <= 26_000
    assert 15_000_000 <= sum(g.exchanges for g in camps.values()) <= 17_500_000
    assert camps["A"].exchanges == 150_000 and camps["A"].payment == "shared"
    assert camps["C"].pivot_share == 0.5 and camps["C"].pivot_within_hours <= 24
    assert [p.name for p in camps["B"].phases] == ["agentic", "reasoning_extraction"]
    assert not [g for g in load_scenario("hard-negatives").groups if g.attack]


def test_minimal_file(tmp_path: Path) -> None:
    p = tmp_path / "s.toml"
    p.write_text(MINIMAL)
    sc = load_scenario(p)
    assert sc.groups[0].name == "chat_user"
    assert sc.groups[0].phases[0].content.capabilities == (("chat", 1.0),)
    assert sc.scaled(2.0).groups[0].accounts == 6 and sc.scaled(2.0).groups[0].exchanges == 60


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("days = 2", "days = -1"), r"days: must be within"),
        (("accounts = 3", "accounts = 'x'"), r"legit\[0\]\.accounts: must be an integer"),
        (("capabilities = { chat = 1 }", "capabilities = { poetry = 1 }"), r"capabilities\.poetry: unknown name"),
        (("capabilities = { chat = 1 }", "capabilities = { chat = 0 }"), r"capabilities: weights sum to zero"),
        (("accounts = 3", "accounts = 3\ntimming = 'flat'"), r"legit\[0\]\.timming: unknown key"),
        (("accounts = 3", "accounts = 3\ntiming = 'sometimes'"), r"timing: must be one of"),
        (("start = 2026-02-01T00:00:00Z", "start = 2026-02-01T00:00:00"), r"start: a time without UTC offset"),
        (("exchanges = 30\n", ""), r"legit\[0\]\.exchanges: required key is missing"),
        (("accounts = 3", "accounts = 3\nwindow = [1, 5]"), r"window: must satisfy"),
        (("accounts = 3", "accounts = 3\nnetwork = 'reseller'"), r"reseller: network = 'reseller' needs"),
        (('name = "tiny"', 'name = "tiny'), r"not valid TOML"),
    ],
)
def test_defects_name_file_and_key(edit: tuple[str, str], message: str) -> None:
    text = MINIMAL.replace(*edit)
    assert text != MINIMAL
    with pytest.raises(ConfigError, match=message) as err:
        parse_scenario(text, "my.toml")
    assert str(err.value).startswith("my.toml")


def test_unknown_scenario_and_bad_scale() -> None:
    with pytest.raises(ConfigError, match="no such scenario file"):
        load_scenario("no-such-scenario")
    with pytest.raises(ConfigError, match="scale must be > 0"):
        load_scenario("adaptive").scaled(0)
