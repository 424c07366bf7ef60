"""Policy files: the packaged policy's examples, evaluation over analyze-shaped tables, invalid files."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from distillguard.errors import ConfigError
from distillguard.policy import (
    Action,
    Scope,
    Status,
    check_examples,
    default_policy,
    evaluate,
    load_policy,
    parse_policy,
)


def test_default_policy_examples_all_pass() -> None:
    policy = default_policy()
    assert len(policy.rules) >= 5
    assert check_examples(policy) == []


def test_each_example_is_discriminating() -> None:
    # Every rule's match and no-match examples must disagree, so the examples can actually catch a broken rule.
    for rule in default_policy().rules:
        assert any(rule.matches(ex) for ex in rule.examples_match)
        assert not any(rule.matches(ex) for ex in rule.examples_no_match)


def test_broken_rule_is_caught_by_its_examples() -> None:
    text = """
[[rule]]
name = "wrong-threshold"
scope = "account"
action = "monitor"
when = { risk_min = 0.99 }
examples.match = [{ risk = 0.5 }]
examples.no_match = [{ risk = 0.1 }]
"""
    failures = check_examples(parse_policy(text, "p.toml"))
    assert len(failures) == 1 and "should match" in failures[0]


def _accounts() -> pa.Table:
    return pa.table(
        {
            "account_id": ["a1", "a2", "a3"],
            "risk": [0.95, 0.35, 0.01],
            "flagged": [True, False, False],
            "campaign_id": ["C001", None, None],
            "evidence": [["lots of reasoning harvest"], ["some"], []],
            "pathway": ["trial", "standard", "enterprise"],
        }
    )


def _campaigns() -> pa.Table:
    return pa.table(
        {
            "campaign_id": ["C001", "C002"],
            "accounts": [40, 2],
            "exchanges": [5000, 30],
            "risk": [0.9, 0.4],
            "account_ids": [["a1", "x1", "x2"], ["y1", "y2"]],
            "evidence": [["synchronized"], []],
        }
    )


def test_evaluate_produces_decisions_with_evidence() -> None:
    props = evaluate(default_policy(), _accounts(), _campaigns())
    by = {(p.subject_id, p.rule): p for p in props}
    suspend = by[("C001", "campaign-suspend")]
    assert suspend.action is Action.suspend and suspend.status is Status.proposed  # approval = analyst
    assert suspend.subject_kind is Scope.campaign and suspend.members == ("a1", "x1", "x2")
    assert by[("C001", "campaign-withhold-reasoning")].status is Status.active
    assert "campaign_risk=0.9" in by[("C001", "campaign-withhold-reasoning")].reason
    assert ("C002", "campaign-withhold-reasoning") not in by
    assert by[("a1", "flagged-low-assurance-verify")].evidence == ("lots of reasoning harvest",)
    assert by[("a1", "flagged-throttle")].params == {"rate_per_minute": 20}
    assert ("a2", "elevated-monitor") in by and ("a3", "elevated-monitor") not in by
    # Stable ids: a second evaluation names the same decisions.
    again = evaluate(default_policy(), _accounts(), _campaigns())
    assert [p.decision_id for p in again] == [p.decision_id for p in props]


def test_evidence_any_and_in_conditions() -> None:
    policy = parse_policy(
        """
[[rule]]
name = "harvest-words"
action = "withhold_reasoning"
params = { mode = "summarize" }
when = { evidence_any = ["HARVEST"], pathway_in = ["trial", "education"] }
examples.match = [{ evidence = ["reasoning harvest seen"], pathway = "trial" }]
examples.no_match = [{ evidence = ["harvest seen"], pathway = "enterprise" }, { evidence = [], pathway = "trial" }]
""",
        "p.toml",
    )
    assert check_examples(policy) == []
    assert policy.rules[0].params == {"mode": "summarize"}


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        ("[[rule]]\nname = 'a'\naction = 'explode'\n", 3, "unknown action 'explode'"),
        ("[[rule]]\nname = 'a'\naction = 'monitor'\nwhen = { risk_mni = 0.3 }\n", 4, "unknown field 'risk_mni'"),
        ("[[rule]]\nname = 'a'\naction = 'monitor'\nwhen = { risk_min = 'high' }\n", 4, "does not fit a num field"),
        (
            "[[rule]]\nname = 'a'\naction = 'throttle'\nparams = { rate_per_minute = 0 }\n"
            "examples.match = [{}]\nexamples.no_match = [{}]\n",
            4,
            "rate_per_minute must be >= 1",
        ),
        ("[[rule]]\nname = 'a'\naction = 'monitor'\nwhen = { risk_min = 0.3 }\n", 2, "needs at least one examples"),
        ("version = 1\n\n[[rule]]\nname = 'a'\nscope = 'galaxy'\n", 5, "scope must be"),
        ("[online]\nweights = { telepathy = 1.0 }\n", 2, "unknown indicator kind"),
        ("[defaults]\nthrottle_rate_per_minute = 'fast'\n", 2, "must be int"),
        ("[[rule]]\nname = 'a'\naction = \n", 3, "invalid TOML"),
        ("colour = 'red'\n", 1, "unknown top-level key"),
    ],
)
def test_invalid_policy_names_file_line_reason(tmp_path: Path, text: str, line: int, needle: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_policy(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}:{line}: "), msg
    assert needle in msg


def test_duplicate_rule_names_rejected() -> None:
    rule = "[[rule]]\nname = 'a'\naction = 'monitor'\nexamples.match = [{}]\nexamples.no_match = [{ risk = 1 }]\n"
    with pytest.raises(ConfigError, match=r"p.toml:7: duplicate rule name 'a'"):
        parse_policy(rule + rule, "p.toml")
