"""Each evaluation metric pinned on a small hand-built case (numbers worked out in the comments)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from distillguard.cli import app
from distillguard.errors import InputError
from distillguard.evaluate import average_precision, evaluate, prf

T0 = datetime(2026, 2, 1, tzinfo=UTC)


def _h(x: float) -> datetime:
    return T0 + timedelta(hours=x)


def _labels(d: Path) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    accts = [
        ("a1", "attack", "C1", "campaign"),
        ("a2", "attack", "C1", "campaign"),
        ("a3", "attack", "C2", "campaign"),
        ("l1", "legit", None, "chat_user"),
        ("l2", "legit", None, "chat_user"),
        ("l3", "legit", None, "enterprise_batch"),
    ]
    pq.write_table(
        pa.table({k: [r[i] for r in accts] for i, k in enumerate(("account_id", "label", "campaign", "archetype"))}),
        d / "accounts.parquet",
    )
    ex = [("a1", h, "C1") for h in (0, 10, 20, 30)] + [("a2", h, "C1") for h in (5, 15)]
    ex += [("a3", h, "C2") for h in (1, 2, 3, 4)] + [("l1", 1, None), ("l2", 1, None), ("l3", 1, None)]
    pq.write_table(
        pa.table(
            {
                "request_id": [f"r{i}" for i in range(len(ex))],
                "account_id": [e[0] for e in ex],
                "ts": pa.array([_h(e[1]) for e in ex], pa.timestamp("us", tz="UTC")),
                "campaign": [e[2] for e in ex],
                "phase": [None for _ in ex],
            }
        ),
        d / "exchanges.parquet",
    )
    return d


def _results(d: Path, rows: list[tuple[str, float, bool, str | None, datetime | None]]) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    pq.write_table(
        pa.table(
            {
                "account_id": pa.array([r[0] for r in rows], pa.string()),
                "risk": pa.array([r[1] for r in rows], pa.float64()),
                "flagged": pa.array([r[2] for r in rows], pa.bool_()),
                "campaign_id": pa.array([r[3] for r in rows], pa.string()),
                "first_flagged_at": pa.array([r[4] for r in rows], pa.timestamp("us", tz="UTC")),
                "evidence": pa.array([[] for _ in rows], pa.list_(pa.string())),
            }
        ),
        d / "accounts.parquet",
    )
    return d


RESULTS = [
    ("a1", 0.9, True, "P1", _h(15)),
    ("a2", 0.8, True, "P1", _h(5)),
    ("a3", 0.3, False, None, None),
    ("l1", 0.7, True, "P1", _h(2)),
    # l2 missing: counted as not flagged with risk 0
    ("l3", 0.3, False, None, None),
    ("x9", 0.99, True, "P1", _h(1)),  # not in the labels: ignored
]


def test_prf_and_undefined_values() -> None:
    assert prf(2, 1, 1) == pytest.approx((2 / 3, 2 / 3, 2 / 3))
    assert prf(0, 0, 3) == (None, 0.0, None)
    assert prf(0, 2, 0) == (0.0, None, None)
    assert prf(0, 1, 1) == (0.0, 0.0, 0.0)


def test_average_precision_ties_enter_together() -> None:
    # thresholds .9 (P=1, R=1/3), .8 (P=1, R=2/3), .7 (no new recall), .3 tie (P=3/5, R=1)
    scores = np.array([0.9, 0.8, 0.7, 0.3, 0.3, 0.0])
    pos = np.array([1, 1, 0, 1, 0, 0], dtype=bool)
    assert average_precision(scores, pos) == pytest.approx(1 / 3 + 1 / 3 + (1 / 3) * (3 / 5))
    # the order of tied accounts does not matter
    assert average_precision(scores[[0, 1, 2, 4, 3, 5]], pos[[0, 1, 2, 4, 3, 5]]) == pytest.approx(0.8666666667)
    assert average_precision(np.array([0.5, 0.5]), np.array([False, False])) is None
    assert average_precision(np.array([0.2, 0.9]), np.array([True, False])) == pytest.approx(0.5)


def test_hand_built_case(tmp_path: Path) -> None:
    rep = evaluate(_labels(tmp_path / "labels"), _results(tmp_path / "res", RESULTS))
    a = rep.accounts
    assert (a.accounts, a.attack_accounts, a.flagged) == (6, 3, 3)
    assert (a.tp, a.fp, a.fn, a.tn) == (2, 1, 1, 2)
    assert a.precision == pytest.approx(2 / 3) and a.recall == pytest.approx(2 / 3) and a.f1 == pytest.approx(2 / 3)
    assert a.pr_auc == pytest.approx(0.8666666667)
    # attack exchanges: a1 4 + a2 2 + a3 4 = 10; flagged accounts sent 6
    assert rep.attack_exchanges == 10
    assert rep.exchange_weighted_recall == pytest.approx(0.6)
    assert (rep.missing_accounts, rep.extra_accounts) == (1, 1)
    c1, c2 = rep.campaigns
    assert (c1.campaign, c1.accounts, c1.found, c1.exchanges) == ("C1", 2, 2, 6)
    assert c1.exchange_coverage == pytest.approx(1.0)
    assert (c1.predicted_campaign, c1.predicted_share) == ("P1", 1.0)
    assert c1.purity == pytest.approx(2 / 3)  # P1 also holds the legit l1 (x9 is not labelled: ignored)
    assert c1.first_exchange_at == _h(0) and c1.first_flag_at == _h(5)
    assert c1.time_to_first_flag_s == pytest.approx(5 * 3600)
    # a1 flagged at 15h: exchanges at 0h and 10h leaked; a2 flagged at 5h: its 5h exchange is not "before"
    assert c1.leak_before_detection == pytest.approx(2 / 6)
    assert (c2.campaign, c2.found, c2.exchange_coverage, c2.leak_before_detection) == ("C2", 0, 0.0, 1.0)
    assert c2.predicted_campaign is None and c2.purity is None and c2.time_to_first_flag_s is None
    chat, batch = rep.archetypes
    assert (chat.archetype, chat.accounts, chat.flagged, chat.false_positive_rate) == ("chat_user", 2, 1, 0.5)
    assert chat.flagged_accounts == ("l1",)
    assert (batch.archetype, batch.flagged, batch.false_positive_rate) == ("enterprise_batch", 0, 0.0)
    assert any("missing from the results" in w for w in rep.warnings)
    assert any("not in the labels" in w for w in rep.warnings)
    d = rep.to_dict()
    assert json.loads(json.dumps(d))["campaigns"][0]["first_flag_at"] == "2026-02-01T05:00:00Z"


def test_empty_results_count_everything_as_missed(tmp_path: Path) -> None:
    rep = evaluate(_labels(tmp_path / "labels"), _results(tmp_path / "res", []))
    assert rep.accounts.flagged == 0 and rep.accounts.recall == 0.0 and rep.accounts.precision is None
    assert rep.exchange_weighted_recall == 0.0 and rep.missing_accounts == 6
    assert all(c.leak_before_detection == 1.0 for c in rep.campaigns)
    assert any("holds no accounts" in w for w in rep.warnings)


def test_bad_results_are_clear_errors(tmp_path: Path) -> None:
    labels = _labels(tmp_path / "labels")
    with pytest.raises(InputError, match="file not found"):
        evaluate(labels, tmp_path / "nowhere")
    (tmp_path / "r1").mkdir()
    pq.write_table(pa.table({"account_id": ["a1"], "flagged": [True]}), tmp_path / "r1" / "accounts.parquet")
    with pytest.raises(InputError, match=r"missing column.*risk"):
        evaluate(labels, tmp_path / "r1")
    dup = _results(tmp_path / "r2", [RESULTS[0], RESULTS[0]])
    with pytest.raises(InputError, match="more than once"):
        evaluate(labels, dup)
    bad = _results(tmp_path / "r3", [("a1", 1.5, True, None, None)])
    with pytest.raises(InputError, match="outside"):
        evaluate(labels, bad)


def test_results_without_optional_columns(tmp_path: Path) -> None:
    (tmp_path / "r").mkdir()
    pq.write_table(
        pa.table({"account_id": ["a1", "a3"], "risk": [0.9, 0.2], "flagged": [True, False]}),
        tmp_path / "r" / "accounts.parquet",
    )
    rep = evaluate(_labels(tmp_path / "labels"), tmp_path / "r")
    assert rep.accounts.tp == 1 and rep.campaigns[0].predicted_campaign is None
    assert rep.campaigns[0].leak_before_detection == pytest.approx(1.0)  # no time: counted as leaked
    assert any("no first_flagged_at column" in w for w in rep.warnings)


def test_cli_prints_tables_and_writes_json(tmp_path: Path) -> None:
    labels = _labels(tmp_path / "labels")
    res = _results(tmp_path / "res", RESULTS)
    out = tmp_path / "report.json"
    run = CliRunner().invoke(app, ["evaluate", "--labels", str(labels), "--results", str(res), "--json", str(out)])
    assert run.exit_code == 0, run.output
    assert "campaigns" in run.output and "chat_user" in run.output and "warning" in run.output
    data = json.loads(out.read_text())
    assert data["accounts"]["tp"] == 2 and data["exchange_weighted_recall"] == pytest.approx(0.6)


def test_simulate_output_folder_is_accepted_as_labels(tmp_path: Path) -> None:
    _labels(tmp_path / "sim" / "labels")
    rep = evaluate(tmp_path / "sim", _results(tmp_path / "res", RESULTS))
    assert rep.accounts.tp == 2
