"""Plotly figures of the report, as JSON safe to place inside a ``<script>`` element.

Labels that come from the log (model names) are attacker-controlled: they are HTML-escaped before they
reach plotly (whose text renderer understands a few tags), and the JSON has ``<``, ``>`` and ``&``
written as ``\\u`` escapes so no string can close the script element.
"""

from __future__ import annotations

import html
from collections import defaultdict
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio

WIDTH = 680
"""Pixels: fits an A4 / Letter page with margins, so the printed report shows the whole chart."""

_PALETTE = ["#1f4e79", "#c0504d", "#4f9a94", "#e39d2b", "#7f6aa8", "#6b8e23", "#8c564b", "#5f6b7a"]


def _layout(title: str, height: int) -> dict[str, Any]:
    return {
        "title": {"text": html.escape(title), "font": {"size": 14}},
        "width": WIDTH,
        "height": height,
        "margin": {"l": 130, "r": 20, "t": 40, "b": 40},
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "font": {"family": "Helvetica, Arial, sans-serif", "size": 11},
        "colorway": _PALETTE,
    }


def script_json(fig: go.Figure) -> str:
    """The figure as JSON that cannot break out of a ``<script>`` element."""
    text = str(pio.to_json(fig, validate=False, pretty=False))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def capabilities_chart(capabilities: list[dict[str, Any]]) -> go.Figure:
    # Areas under half a percent are noise on a bar chart; the JSON report keeps them all.
    caps = sorted((c for c in capabilities if c.get("name") and c["share"] >= 0.005), key=lambda c: c["share"])
    fig = go.Figure(
        go.Bar(
            x=[round(100 * c["share"], 1) for c in caps],
            y=[html.escape(str(c["name"])) for c in caps],
            orientation="h",
            marker_color=_PALETTE[0],
            hovertemplate="%{y}: %{x}%<extra></extra>",
        )
    )
    fig.update_layout(**_layout("Capabilities targeted (% of the campaign's exchanges)", 60 + 26 * max(len(caps), 2)))
    fig.update_xaxes(ticksuffix="%", range=[0, 100], gridcolor="#e5e5e5")
    return fig


def timeline_chart(
    timeline: list[dict[str, Any]], releases: list[dict[str, Any]], pivots: list[dict[str, Any]], bucket: str
) -> go.Figure:
    series: dict[str, dict[Any, int]] = defaultdict(dict)
    for point in timeline:
        series[str(point["model"])][point["t"]] = int(point["n"])
    times = sorted({p["t"] for p in timeline})
    fig = go.Figure()
    for model in sorted(series, key=lambda m: -sum(series[m].values())):
        fig.add_trace(
            go.Bar(x=times, y=[series[model].get(t, 0) for t in times], name=html.escape(model), marker_line_width=0)
        )
    pivoted = {p["model"] for p in pivots if p.get("pivot")}
    for rel in releases:
        if times and not times[0] <= rel["released"] <= times[-1]:
            continue
        label = f"{rel['model']} released" + (" (campaign pivots)" if rel["model"] in pivoted else "")
        fig.add_vline(x=rel["released"], line_dash="dash", line_color="#c0504d", line_width=1.5)
        fig.add_annotation(
            x=rel["released"], y=1.0, yref="paper", text=html.escape(label), showarrow=False,
            xanchor="left", yanchor="bottom", font={"color": "#c0504d", "size": 10},
        )  # fmt: skip
    fig.update_layout(**_layout(f"Activity: exchanges per {bucket}, by model", 280), barmode="stack")
    fig.update_layout(margin={"l": 50, "r": 20, "t": 50, "b": 40}, legend={"orientation": "h", "y": -0.15})
    fig.update_yaxes(gridcolor="#e5e5e5")
    return fig


def ranking_chart(campaigns: list[dict[str, Any]]) -> go.Figure:
    shown = campaigns[:15][::-1]
    fig = go.Figure(
        go.Bar(
            x=[int(c.get("exchanges") or 0) for c in shown],
            y=[f"{c['campaign_id']} ({c.get('accounts', 0)} accts)" for c in shown],
            orientation="h",
            marker={"color": [float(c.get("risk") or 0.0) for c in shown], "colorscale": "Reds", "cmin": 0, "cmax": 1,
                    "colorbar": {"title": {"text": "risk"}, "thickness": 10}},
            hovertemplate="%{y}: %{x} exchanges<extra></extra>",
        )
    )  # fmt: skip
    fig.update_layout(**_layout("Campaigns by exchanges (colour: risk)", 60 + 24 * max(len(shown), 2)))
    fig.update_xaxes(gridcolor="#e5e5e5")
    return fig
