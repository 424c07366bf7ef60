"""Campaign reports: content, offline charts, escaping of attacker-controlled text, masking of prompts."""

from __future__ import annotations

import json
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from analyst_world import HYDRA, PROMPT_WORD, SECRET_CARD, SECRET_EMAIL, XSS, XSS_MODEL, build_results
from distillguard.cli import app
from distillguard.errors import InputError
from distillguard.report import PROMPT_CAP, build_report, load_results, make_report, write_report


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return build_results(tmp_path_factory.mktemp("report"))


@pytest.fixture(scope="module")
def report(world: tuple[Path, Path]) -> dict:
    return build_report(load_results(world[0]))


class _Scripts(HTMLParser):
    """Collects every script element and every event-handler attribute of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.srcs: list[str] = []
        self.handlers: list[str] = []
        self._in = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handlers += [k for k, _ in attrs if k.startswith("on")]
        if tag == "script":
            self._in = True
            self.scripts.append("")
            self.srcs += [v or "" for k, v in attrs if k == "src"]

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in = False

    def handle_data(self, data: str) -> None:
        if self._in:
            self.scripts[-1] += data


def test_report_holds_what_an_analyst_decides_on(report: dict) -> None:
    assert report["store_used"]
    (c,) = report["campaigns"]
    assert c["campaign_id"] == "C001" and c["rank"] == 1 and c["accounts"] == len(HYDRA)
    assert c["first_flagged_at"] is not None and c["timeline"]
    pivot = next(p for p in c["pivots"] if p["model"] == "frontier-3")
    assert pivot["pivot"] and pivot["share_24h"] >= 0.5 and pivot["others_share_24h"] < 0.3
    assert c["families"] and all(f["examples"] for f in c["families"])
    assert c["payment_clusters"] == [{"name": c["payment_clusters"][0]["name"], "accounts": len(HYDRA)}]
    assert {a["class"] for a in c["asn_classes"]} <= {"dedicated", "mostly campaign", "shared with other customers"}
    assert any("suspend" in a["action"] for a in c["actions"])
    assert any("reasoning" in a["action"] for a in c["actions"])
    assert c["account_evidence"][0]["rule"] == "cot-elicitation"


def test_prompts_are_masked_and_capped(report: dict) -> None:
    shown = [e["user"] for f in report["campaigns"][0]["families"] for e in f["examples"]]
    assert all(len(s) <= PROMPT_CAP for s in shown)
    assert any(s.endswith("…") for s in shown), "the long padded prompt is cut"
    text = json.dumps(shown)
    assert SECRET_EMAIL not in text and SECRET_CARD not in text and "1111" not in text
    assert any(PROMPT_WORD in s for s in shown)  # masked, not blanked: the template stays readable


def test_html_escapes_every_injected_text_and_runs_offline(world: tuple[Path, Path], tmp_path: Path) -> None:
    out = make_report(world[0], tmp_path / "r.html")
    page = out.read_text(encoding="utf-8")
    parser = _Scripts()
    parser.feed(page)
    assert not parser.srcs, "plotly.js is inline: no script is fetched"
    # plotly.js names its CDN for geo maps (unused here); the page's policy forbids any fetch anyway.
    assert "default-src 'none'" in page
    assert not parser.handlers, "no element carries an event handler"
    lib, *plots = parser.scripts
    assert len(lib) > 1_000_000 and len(plots) == page.count('<div class="chart"') >= 3
    for script in plots:  # injected text only ever sits inside JSON strings, escaped
        assert "<" not in script and 'alert("model")' not in script and "'pwned'" not in script
    assert "&lt;script&gt;alert(" in page  # the injected prompt is shown, as text
    assert XSS not in page and XSS_MODEL not in page
    assert "@media print" in page and "break-before: page" in page


def test_js_beside_writes_plotly_once(world: tuple[Path, Path], tmp_path: Path) -> None:
    out = make_report(world[0], tmp_path / "r.html", js_beside=True)
    assert (tmp_path / "plotly.min.js").stat().st_size > 1_000_000
    assert out.stat().st_size < 500_000
    parser = _Scripts()
    parser.feed(out.read_text(encoding="utf-8"))
    assert parser.srcs == ["plotly.min.js"]


def test_markdown_and_json_escape_and_parse(world: tuple[Path, Path], tmp_path: Path) -> None:
    md = make_report(world[0], tmp_path / "r.md").read_text(encoding="utf-8")
    assert "## Campaign C001" in md and "<script" not in md and "&lt;script&gt;" in md
    data = json.loads(make_report(world[0], tmp_path / "r.json").read_text(encoding="utf-8"))
    assert data["campaigns"][0]["campaign_id"] == "C001"
    assert SECRET_EMAIL not in json.dumps(data)


def test_without_store_the_report_still_renders(world: tuple[Path, Path], tmp_path: Path) -> None:
    folder = tmp_path / "copy"
    shutil.copytree(world[0], folder)
    (folder / "summary.json").write_text(json.dumps({"store": str(tmp_path / "gone.duckdb")}), encoding="utf-8")
    data = build_report(load_results(folder))
    assert not data["store_used"] and "timeline" not in data["campaigns"][0]
    page = write_report(data, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "store not found" in page


def test_bad_inputs_are_clear_errors(world: tuple[Path, Path], tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown report format"):
        make_report(world[0], tmp_path / "r.txt")
    with pytest.raises(InputError, match="not an analyze results folder"):
        load_results(tmp_path)
    with pytest.raises(InputError, match="no such store"):
        load_results(world[0], store=tmp_path / "none.duckdb")


def test_cli_writes_the_report(world: tuple[Path, Path], tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["report", "--results", str(world[0]), "--out", str(tmp_path / "r.md")])
    assert result.exit_code == 0, result.output
    assert "1 campaigns" in " ".join(result.output.split()) and (tmp_path / "r.md").is_file()
