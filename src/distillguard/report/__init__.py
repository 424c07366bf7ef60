"""Campaign reports: what an analyst needs to decide on a campaign, as HTML, Markdown or JSON.

Contract::

    from distillguard.report import load_results, build_report, write_report, make_report
    make_report("results/", "report.html")                 # one call: read, build, write
    results = load_results("results/", store=None)           # analyze's folder; finds its store
    data = build_report(results)                             # plain dict (JSON-able with render_json)
    write_report(data, "report.md")                          # suffix picks .html / .md / .json

Input: an ``analyze`` results folder (accounts.parquet, campaigns.parquet, families.parquet,
summary.json) and, when it can be found (``--store``, the path in summary.json, or DIR/store.duckdb), the
store: it adds activity over time by model with model releases and pivots, template families with
representative prompts, payment clusters and ASN classes. The store is opened read-only for the time
of one read. A summary page ranks campaigns by risk; one page per campaign follows.

Prompts are attacker-controlled: they are masked (``distillguard.text.mask``) and capped at
``PROMPT_CAP`` characters before rendering, and every value printed is escaped (Jinja2 autoescape in
HTML, entity + backslash escaping in Markdown, ``\\u`` escapes inside chart JSON). The HTML works offline
(plotly.js inline, or once beside it with ``js_beside``) and has a print stylesheet (A4, one campaign
per page). The report imports from store, text and the results; never from simulate.
"""

from __future__ import annotations

from pathlib import Path

from distillguard.report.model import PROMPT_CAP, build_report, redact
from distillguard.report.render import render_html, render_json, render_markdown, write_report
from distillguard.report.results import Results, load_results

__all__ = [
    "PROMPT_CAP",
    "Results",
    "build_report",
    "load_results",
    "make_report",
    "redact",
    "render_html",
    "render_json",
    "render_markdown",
    "write_report",
]


def make_report(
    results_dir: str | Path, out: str | Path, *, store: str | Path | None = None, js_beside: bool = False
) -> Path:
    """Read an analyze results folder and write the report to ``out`` (.html, .md or .json)."""
    return write_report(build_report(load_results(results_dir, store)), out, js_beside=js_beside)
