"""Every rule's own match / no-match examples, and clear errors for invalid rule files."""

from __future__ import annotations

from pathlib import Path

import pytest

from distillguard.errors import ConfigError
from distillguard.scoring import default_rules, load_rules
from distillguard.scoring.rules import rule_matches

RULES = default_rules()
ALL = [*RULES.account, *RULES.campaign]


@pytest.mark.parametrize("rule", ALL, ids=[f"{r.level}:{r.name}" for r in ALL])
def test_rule_examples(rule) -> None:  # type: ignore[no-untyped-def]
    assert rule.examples_match, f"rule {rule.name} has no match example"
    assert rule.examples_no_match, f"rule {rule.name} has no no-match example"
    for ex in rule.examples_match:
        assert rule_matches(rule, ex), f"{rule.name} should match {ex}"
    for ex in rule.examples_no_match:
        assert not rule_matches(rule, ex), f"{rule.name} should not match {ex}"


def test_every_rule_explains_itself_with_values() -> None:
    for rule in ALL:
        text = rule.explain(dict(rule.examples_match[0]))
        assert text.startswith(rule.name)
        assert "?" not in text, f"{rule.name}: evidence names a column its example lacks: {text}"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[[account]]\nwhen = { n_exchanges = '>= 1' }\npoints = 1\n", "has no name"),
        ("[[account]]\nname = 'x'\nwhen = { n_exchanges = 'about 3' }\npoints = 1\n", "must look like"),
        ("[[account]]\nname = 'x'\nwhen = { no_such = '>= 3' }\npoints = 1\n", "unknown column"),
        ("[[account]]\nname = 'x'\nwhen = { n_exchanges = '>= 3' }\npoints = 'many'\n", "'points' must be"),
        ("[[account]\n", "invalid TOML"),
    ],
)
def test_invalid_rule_files_name_file_rule_and_reason(tmp_path: Path, body: str, message: str) -> None:
    p = tmp_path / "rules.toml"
    p.write_text(body)
    with pytest.raises(ConfigError, match=message) as err:
        load_rules(p, account_columns=["n_exchanges"], campaign_columns=[])
    assert str(p) in str(err.value)
