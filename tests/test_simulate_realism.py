"""Prompt structure looks like real traffic: individuals write their own prompts, each campaign repeats its
own private templates, and templates are shared across groups only through a named public pool.

The measure is deliberately simple and written here (not the detector's masking): digits -> 0, words
lower-cased, the first 12 words of the first user message of a conversation as the key.
"""

from __future__ import annotations

import collections
import re
from functools import cache

import pytest

from distillguard.errors import ConfigError
from distillguard.simulate import load_scenario, make_plan, parse_scenario
from distillguard.simulate.plan import Plan
from distillguard.simulate.render import opening_prompts
from distillguard.simulate.textgen import TextGen
from test_simulate_scenario import MINIMAL

_WORD = re.compile(r"\S+")


def key(text: str) -> str:
    return " ".join(_WORD.findall(re.sub(r"[0-9]", "0", text.lower()))[:12])


@cache
def world() -> tuple[Plan, dict[int, set[str]], dict[int, set[str]]]:
    """The default-scale reported-2026 plan: per account, its prompt keys and its system prompts."""
    plan = make_plan(load_scenario("reported-2026"), 1.0, 0)
    keys: dict[int, set[str]] = collections.defaultdict(set)
    systems: dict[int, set[str]] = collections.defaultdict(set)
    for a, system, user in opening_prompts(plan, TextGen()):
        keys[a.index].add(key(user))
        systems[a.index].add(system)
    return plan, keys, systems


def _accounts(plan: Plan, name: str) -> list[int]:
    return [a.index for a in plan.accounts if plan.scenario.groups[a.group].name == name]


def test_individuals_rarely_send_a_campaign_skeleton() -> None:
    plan, keys, _ = world()
    campaign_keys = {k for a in plan.accounts if plan.scenario.groups[a.group].attack for k in keys[a.index]}
    for archetype in ("chat_user", "coding_agent", "reseller", "researcher", "enterprise_batch", "eval_harness"):
        mine = [k for i in _accounts(plan, archetype) for k in keys[i]]
        shared = sum(k in campaign_keys for k in mine) / len(mine)
        assert shared < 0.02, (archetype, shared)


def test_individuals_write_their_own_prompts() -> None:
    plan, keys, _ = world()
    chat = _accounts(plan, "chat_user")
    users = collections.Counter(k for i in chat for k in keys[i])
    mine = [k for i in chat for k in keys[i]]
    assert len(mine) > 5000
    assert sum(users[k] > 1 for k in mine) / len(mine) < 0.25  # mostly short common requests
    assert users.most_common(1)[0][1] < 0.02 * len(chat)


@pytest.mark.parametrize("campaign", ["A", "B", "C"])
def test_a_campaign_repeats_its_own_templates(campaign: str) -> None:
    plan, keys, _ = world()
    accts = _accounts(plan, campaign)
    counts = collections.Counter(k for i in accts for k in keys[i])
    top = {k for k, _ in counts.most_common(10)}
    assert sum(bool(keys[i] & top) for i in accts) >= 0.5 * len(accts)
    others = {k for a in plan.accounts if plan.scenario.groups[a.group].name != campaign for k in keys[a.index]}
    assert not top & others  # private: no other group sends these skeletons


def test_public_pools_are_shared_by_independent_accounts_only_where_named() -> None:
    plan, keys, systems = world()
    harness = _accounts(plan, "eval_harness")
    assert len({plan.accounts[i].org_id for i in harness}) == len(harness)  # different organisations
    counts = collections.Counter(k for i in harness for k in keys[i])
    top = counts.most_common(1)[0][0]
    assert sum(top in keys[i] for i in harness) >= len(harness) - 1  # the benchmark template
    agents = _accounts(plan, "coding_agent")
    product = collections.Counter(s for i in agents for s in systems[i]).most_common(1)[0][0]
    assert product and all(product in systems[i] for i in agents)  # the IDE's fixed system prompt
    elsewhere = [i for i in range(len(plan.accounts)) if i not in set(agents)]
    assert not any(product in systems[i] for i in elsewhere)


def test_groups_get_different_wrappers_from_their_own_seed() -> None:
    tg = TextGen()
    a = tg.templates("0/7/A/g", "reasoning", 5, True)
    assert a == TextGen().templates("0/7/A/g", "reasoning", 5, True)
    b = tg.templates("0/8/B/g", "reasoning", 5, True)
    assert not {u for _, u in a} & {u for _, u in b}
    assert all("{task}" in u for _, u in a + b)


def test_template_pool_must_name_a_public_pool() -> None:
    text = MINIMAL.replace("accounts = 3", "accounts = 3\ntemplate_pool = 'shared'")
    with pytest.raises(ConfigError, match=r"legit\[0\]\.template_pool: must be 'public:<name>'"):
        parse_scenario(text, "my.toml")
    ok = parse_scenario(MINIMAL.replace("accounts = 3", "accounts = 3\ntemplate_pool = 'public:x-1'"), "my.toml")
    assert ok.groups[0].template_pool == "public:x-1"
