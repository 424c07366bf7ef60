"""bench/run_all.py's pure helpers: sizes, growth exponents, tables, the generated RESULTS.md block.

No benchmark runs here: the suite itself is exercised by running it (bench/run_all.py --sizes 2000 5000 10000).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


run_all = _load("run_all")

RESULTS = """# Benchmark results

Intro paragraph.

## Ingest

ingest table

## Simulate

simulate table
"""


def test_sizes_presets_and_explicit_numbers() -> None:
    assert run_all.parse_sizes(["default"]) == ("default", (100_000, 1_000_000, 4_000_000))
    assert run_all.parse_sizes(["small"])[1] == (10_000, 30_000, 100_000)
    assert run_all.parse_sizes(["1M", "2000", "5k", "5_000"]) == ("explicit", (2000, 5000, 1_000_000))
    with pytest.raises(ValueError, match="preset"):
        run_all.parse_sizes(["huge"])


def test_exponent_linear_quadratic_flat_and_undefined() -> None:
    assert run_all.exponent(1e5, 1e6, 2.0, 20.0) == pytest.approx(1.0)
    assert run_all.exponent(1e5, 1e6, 2.0, 200.0) == pytest.approx(2.0)
    assert run_all.exponent(1e5, 4e5, 700.0, 700.0) == pytest.approx(0.0)
    assert run_all.exponent(1e5, 1e5, 1.0, 2.0) is None
    assert run_all.exponent(1e5, 1e6, 0.0, 2.0) is None


def test_growth_uses_units_processed_ratio_and_previous_row() -> None:
    rows = [
        {"size": 1_000_000, "n": 1_000_000, "seconds": 20.0, "throughput": 50_000.0, "peak_rss_mib": 700.0,
         "baseline_throughput": 10_000.0},
        {"size": 100_000, "n": 100_000, "seconds": 4.0, "throughput": 25_000.0, "peak_rss_mib": 700.0,
         "baseline_throughput": None},
    ]  # fmt: skip
    small, big = run_all.with_growth(rows)
    assert small["size"] == 100_000 and small["time_exp"] is None and small["ratio"] is None
    assert big["ratio"] == pytest.approx(5.0)
    assert big["time_exp"] == pytest.approx(0.69897, abs=1e-4)  # log10(20/4)
    assert big["rss_exp"] == pytest.approx(0.0)
    # the simulator lands near, not on, the requested size: exponents use the units actually processed
    off = run_all.with_growth([{**rows[1], "n": 50_000}, rows[0]])
    assert off[1]["time_exp"] == pytest.approx(0.5372, abs=1e-4)  # log(5) / log(20)


def test_gateway_growth_is_throughput_against_connections() -> None:
    rows = [
        {"size": 8, "seconds": 10.0, "throughput": 4000.0, "peak_rss_mib": 250.0, "baseline_throughput": 40_000.0},
        {"size": 32, "seconds": 10.0, "throughput": 4000.0, "peak_rss_mib": 250.0, "baseline_throughput": 80_000.0},
    ]
    _, second = run_all.with_growth(rows, by_throughput=True)
    assert second["time_exp"] == pytest.approx(0.0)  # saturated
    assert second["ratio"] == pytest.approx(0.05)


def test_render_part_table_skipped_and_partial_failure() -> None:
    res = run_all.PartResult("ingest", unit="lines", baseline="textbook loader")
    res.rows = [
        {"size": 100_000, "n": 100_000, "seconds": 4.0, "throughput": 25_000.0, "peak_rss_mib": 500.0,
         "baseline_seconds": 10.0, "baseline_throughput": 10_000.0, "baseline_peak_rss_mib": 300.0},
        {"size": 1_000_000, "n": 1_000_000, "seconds": 20.0, "throughput": 50_000.0, "peak_rss_mib": 700.0,
         "baseline_seconds": None, "baseline_throughput": None, "baseline_peak_rss_mib": None},
    ]  # fmt: skip
    res.failures = ["4,000,000: timed out after 7200 s"]
    text = run_all.render_part(res)
    table = [line for line in text.splitlines() if line.startswith("| ")]
    assert len(table) == 3  # header and two rows
    assert "| 100,000 | 100,000 | 4.0 | 25,000 | 500 | 10,000 | 300 | 2.50× | – | – |" in text
    assert "| 1,000,000 | 1,000,000 | 20.0 | 50,000 | 700 | – | – | – | 0.70 | 0.15 |" in text
    assert "Failed sizes: 4,000,000: timed out" in text
    skipped = run_all.PartResult("analyze_spark", status="skipped", reason="bench/analyze_spark.py does not exist")
    assert run_all.render_part(skipped) == "### analyze_spark\n\nskipped (bench/analyze_spark.py does not exist)\n"


def test_suite_block_inserted_first_then_replaced_in_place() -> None:
    once = run_all.replace_suite(RESULTS, "table one\n")
    assert once.index("## Suite") < once.index("## Ingest") and once.index("Intro paragraph") < once.index("## Suite")
    assert "ingest table" in once and "simulate table" in once
    twice = run_all.replace_suite(once, "table two\n")
    assert "table one" not in twice and "table two" in twice
    assert twice.count(run_all.BEGIN) == twice.count(run_all.END) == twice.count("## Suite") == 1
    assert twice == run_all.replace_suite(RESULTS, "table two\n")


def test_suite_heading_without_markers_and_empty_file() -> None:
    hand = RESULTS.replace("## Ingest", "## Suite\n\nold hand-written text\n\n## Ingest")
    new = run_all.replace_suite(hand, "generated\n")
    assert "old hand-written text" not in new and "generated" in new and "ingest table" in new
    assert new.count("## Suite") == 1
    empty = run_all.replace_suite("", "generated\n")
    assert empty.startswith("# Benchmark results\n") and "generated" in empty


def test_other_section_writers_leave_the_suite_block_alone(tmp_path: Path) -> None:
    analyze = _load("analyze")
    path = tmp_path / "RESULTS.md"
    path.write_text(run_all.replace_suite(RESULTS + "\n## Analyze\n\nold\n", "suite table\n"), encoding="utf-8")
    analyze.write_section(path, "Analyze", "new analyze table\n")
    analyze.write_section(path, "Ingest", "new ingest table\n")
    text = path.read_text(encoding="utf-8")
    assert "suite table" in text and run_all.BEGIN in text and run_all.END in text
    assert "new analyze table" in text and "new ingest table" in text and "\n\ningest table" not in text


def test_part_commands_ask_for_suite_json_and_spark_skip_reason(tmp_path: Path) -> None:
    args = argparse.Namespace(work=tmp_path, analyze_baseline_max=1_000_000, gateway_seconds=3.0, gateway_requests=500)
    for part in ("ingest", "simulate", "analyze", "gateway"):
        cmd = run_all.part_command(part, 2000, tmp_path / "x.json", args)
        assert cmd[-2:] == ["--json", str(tmp_path / "x.json")] and Path(cmd[1]).exists()
    assert "--baseline" in run_all.part_command("ingest", 2000, tmp_path / "x.json", args)
    assert run_all.spark_unavailable(tmp_path) == "bench/analyze_spark.py does not exist"
