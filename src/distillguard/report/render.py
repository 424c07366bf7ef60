"""Renderers: the report data (``model.build_report``) as self-contained HTML, Markdown or JSON."""

from __future__ import annotations

import html
import itertools
import json
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
from jinja2 import Environment
from markupsafe import Markup
from plotly.offline import get_plotlyjs

from distillguard.errors import InputError
from distillguard.report import charts
from distillguard.report.model import PROMPT_CAP
from distillguard.report.templates import HTML

PLOTLY_JS = "plotly.min.js"


def _num(v: Any) -> str:
    return "–" if v is None else f"{int(v):,}"


def _pct(v: Any) -> str:
    return "–" if v is None else f"{100 * float(v):.0f}%"


def _fmt2(v: Any) -> str:
    return "–" if v is None else f"{float(v):.2f}"


def _dt(v: Any) -> str:
    return v.strftime("%Y-%m-%d %H:%M UTC") if isinstance(v, datetime) else "–"


def _day(v: Any) -> str:
    return v.strftime("%Y-%m-%d") if isinstance(v, datetime) else "–"


def render_html(report: dict[str, Any], js_src: str | None = None) -> str:
    """The report as one HTML page; plotly.js inline unless ``js_src`` names a script file beside it."""
    env = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(num=_num, pct=_pct, fmt2=_fmt2, dt=_dt, day=_day)
    ids = itertools.count(1)

    def chart(fig: go.Figure | None) -> Markup:
        if fig is None:
            return Markup("")
        div = f"chart-{next(ids)}"
        # script_json leaves no '<' in the payload, so nothing in a label can end the script early.
        return Markup(
            f'<div class="chart" id="{div}"></div><script>Plotly.newPlot("{div}", ...(function(f){{return [f.data, '
            f"f.layout, {{displayModeBar: false, responsive: false}}]}})({charts.script_json(fig)}));</script>"
        )

    per_campaign = {
        c["campaign_id"]: {
            "capabilities": charts.capabilities_chart(c.get("capabilities") or []),
            "timeline": charts.timeline_chart(
                c["timeline"], report.get("releases") or [], c.get("pivots") or [], report.get("bucket") or ""
            )
            if c.get("timeline")
            else None,
        }
        for c in report["campaigns"]
    }
    template = env.from_string(HTML)
    return template.render(
        r=report,
        charts=per_campaign,
        ranking=charts.ranking_chart(report["campaigns"]) if report["campaigns"] else None,
        chart=chart,
        cap=PROMPT_CAP,
        js_src=js_src,
        plotly_js="" if js_src else Markup(get_plotlyjs().replace("</script", "<\\/script")),
    )


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~>-])")


def md(text: Any) -> str:
    """Escape text for Markdown: HTML special characters as entities, Markdown syntax backslashed."""
    s = html.escape(str(text), quote=False).replace("\n", " ")
    return _MD_SPECIAL.sub(r"\\\1", s)


def render_markdown(report: dict[str, Any]) -> str:
    s = report["summary"]
    out = [
        "# Distillation campaigns",
        "",
        f"Generated {_dt(report['generated_at'])}. {_num(s['campaigns'])} campaigns, "
        f"{_num(s['flagged_accounts'])} flagged accounts, {_num(s['campaign_exchanges'])} campaign exchanges "
        f"out of {_num(s['exchanges'])} analysed.",
        "",
        "| # | campaign | risk | accounts | exchanges | first seen | last seen | main capability |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in report["campaigns"]:
        cap = c["capabilities"][0] if c.get("capabilities") else None
        out.append(
            f"| {c['rank']} | {md(c['campaign_id'])} | {_fmt2(c.get('risk'))} | {_num(c.get('accounts'))} | "
            f"{_num(c.get('exchanges'))} | {_day(c.get('first_seen'))} | {_day(c.get('last_seen'))} | "
            f"{md(cap['name']) + ' ' + _pct(cap['share']) if cap else ''} |"
        )
    for c in report["campaigns"]:
        out += _md_campaign(c)
    return "\n".join(out) + "\n"


def _md_campaign(c: dict[str, Any]) -> list[str]:
    out = [
        "",
        f"## Campaign {md(c['campaign_id'])} (risk {_fmt2(c.get('risk'))})",
        "",
        f"{_num(c.get('accounts'))} accounts, {_num(c.get('exchanges'))} exchanges, {_num(c.get('n_nets'))} networks, "
        f"{_num(c.get('n_payment_fingerprints'))} payment methods; first seen {_dt(c.get('first_seen'))}, last seen "
        f"{_dt(c.get('last_seen'))}, first flagged {_dt(c.get('first_flagged_at'))}.",
        "",
        "**Capabilities:** " + ", ".join(f"{md(x['name'])} {_pct(x['share'])}" for x in c.get("capabilities") or []),
    ]
    for p in c.get("pivots") or []:
        out.append(
            f"\n{'**Pivot:** ' if p['pivot'] else ''}{_pct(p['share_24h'])} of its traffic went to {md(p['model'])} "
            f"in the 24 h after its release ({_dt(p['released'])}); other accounts {_pct(p['others_share_24h'])}."
        )
    infra = c.get("infrastructure") or {}
    out += ["", "### Infrastructure", ""]
    for title, key in (("Address ranges", "nets"), ("ASNs", "asns"), ("Pathways", "pathways"),
                       ("User agents", "user_agents"), ("Countries", "countries")):  # fmt: skip
        items = (infra.get(key) or [])[:6]
        if items:
            out.append(f"- {title}: " + ", ".join(f"{md(i['name'])} ({_num(i['accounts'])} accts)" for i in items))
    if c.get("payment_clusters"):
        out.append(
            "- Payment clusters: " + ", ".join(f"{p['name']} ({p['accounts']} accts)" for p in c["payment_clusters"])
        )
    if c.get("families"):
        out += ["", "### Representative prompts by template family", ""]
        for f in c["families"]:
            out.append(
                f"- **{md(f['capability'])}**, {_num(f['n_exchanges'])} exchanges, {_num(f['n_accounts'])} accounts:"
            )
            out += [f"    - {md(e['user'])}" for e in f["examples"]]
    out += ["", "### Evidence", ""] + [f"- {md(e)}" for e in c.get("evidence") or []]
    out += [
        f"- {md(e['rule'])} ({e['accounts']} accounts), e.g. {md(e['example'])}"
        for e in c.get("account_evidence") or []
    ]
    out += ["", "### Recommended actions", ""]
    out += [f"{i}. **{md(a['action'])}**: {md(a['why'])}" for i, a in enumerate(c.get("actions") or [], start=1)]
    return out


def _json_default(v: Any) -> Any:
    if isinstance(v, datetime | date):
        return v.isoformat()
    raise TypeError(f"not JSON serialisable: {type(v).__name__}")


def render_json(report: dict[str, Any]) -> str:
    return json.dumps(report, default=_json_default, indent=2, ensure_ascii=False) + "\n"


def write_report(report: dict[str, Any], out: str | Path, *, js_beside: bool = False) -> Path:
    """Write ``report`` to ``out``; the suffix (.html, .htm, .md, .json) picks the format."""
    path = Path(out)
    suffix = path.suffix.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix in (".html", ".htm"):
        if js_beside:
            (path.parent / PLOTLY_JS).write_text(get_plotlyjs(), encoding="utf-8")
        text = render_html(report, js_src=PLOTLY_JS if js_beside else None)
    elif suffix == ".md":
        text = render_markdown(report)
    elif suffix == ".json":
        text = render_json(report)
    else:
        raise InputError(f"{path}: unknown report format {suffix or '(none)'!r}; use .html, .md or .json")
    path.write_text(text, encoding="utf-8")
    return path
