"""The graph of a campaign's linked accounts, from the store's ``link_incidence`` table.

Two accounts are linked when they share a blocking key of some kind (a /24, a payment fingerprint, a
user agent, a template family...). A key shared by n accounts would draw n² edges; for a readable
picture the campaign is sampled to ``max_nodes`` accounts (highest risk first, ties by id) and each key
draws a chain through its accounts in an order of its own (a hash of key and account, so keys
shared by the same accounts still draw different edges), at most ``per_key`` edges. An edge lists every kind of
link between its two accounts.
"""

from __future__ import annotations

import html
import itertools
import math
from collections import defaultdict
from typing import Any

import duckdb
import numpy as np
import plotly.graph_objects as go

from distillguard.report.charts import WIDTH

MAX_NODES = 40
PER_KEY = 12
KIND_COLOURS = {
    "net": "#1f4e79",
    "asn": "#5f6b7a",
    "payment": "#c0504d",
    "user_agent": "#e39d2b",
    "client": "#7f6aa8",
    "email_domain": "#8c564b",
    "family": "#4f9a94",
    "prompt": "#17becf",
    "system": "#6b8e23",
    "params": "#9e9e9e",
    "created": "#d16ba5",
}


def link_graph(
    con: duckdb.DuckDBPyConnection, members: list[tuple[str, float]], max_nodes: int = MAX_NODES, per_key: int = PER_KEY
) -> dict[str, Any]:
    """``{nodes: [ids], edges: [{a, b, kinds}], sampled: bool, total: n}`` for ``members`` (id, risk)."""
    ranked = sorted(members, key=lambda m: (-m[1], m[0]))
    shown = sorted(a for a, _ in ranked[:max_nodes])
    edges: dict[tuple[str, str], set[str]] = defaultdict(set)
    has = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main' AND table_name = 'link_incidence'"
    ).fetchall()[0][0]
    if has and shown:
        rows = con.execute(
            """SELECT kind, key, list(account_id ORDER BY hash(key || account_id), account_id) FROM link_incidence
               WHERE list_contains(?, account_id) GROUP BY kind, key HAVING count(*) > 1 ORDER BY kind, key""",
            [shown],
        ).fetchall()
        for kind, _key, accounts in rows:
            for a, b in list(itertools.pairwise(accounts))[:per_key]:
                edges[(a, b)].add(str(kind))
    return {
        "nodes": shown,
        "edges": [{"a": a, "b": b, "kinds": sorted(k)} for (a, b), k in sorted(edges.items())],
        "sampled": len(members) > len(shown),
        "total": len(members),
    }


def _layout(nodes: list[str], edges: list[dict[str, Any]], seed: int = 7) -> np.ndarray:
    """Fruchterman-Reingold spring layout (a few dozen nodes: plain numpy is plenty)."""
    n = len(nodes)
    rng = np.random.default_rng(seed)
    pos = rng.uniform(-1, 1, size=(n, 2))
    if n < 2:
        return pos
    index = {a: i for i, a in enumerate(nodes)}
    pairs = np.array([(index[e["a"]], index[e["b"]]) for e in edges], dtype=np.int64).reshape(-1, 2)
    k = math.sqrt(4.0 / n)
    temp = 0.2
    for _ in range(120):
        delta = pos[:, None, :] - pos[None, :, :]
        dist = np.maximum(np.linalg.norm(delta, axis=2), 1e-3)
        force = (delta / dist[..., None] * (k * k / dist)[..., None]).sum(axis=1)
        if len(pairs):
            d = pos[pairs[:, 0]] - pos[pairs[:, 1]]
            dl = np.maximum(np.linalg.norm(d, axis=1), 1e-3)
            pull = d * (dl / k)[:, None]
            np.add.at(force, pairs[:, 0], -pull)
            np.add.at(force, pairs[:, 1], pull)
        length = np.maximum(np.linalg.norm(force, axis=1), 1e-9)
        pos += force / length[:, None] * np.minimum(length, temp)[:, None]
        temp *= 0.97
    return pos


def graph_figure(graph: dict[str, Any], risk: dict[str, float]) -> go.Figure:
    nodes, edges = graph["nodes"], graph["edges"]
    pos = _layout(nodes, edges)
    index = {a: i for i, a in enumerate(nodes)}
    fig = go.Figure()
    by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in edges:
        by_kind[e["kinds"][0] if len(e["kinds"]) == 1 else "several"].append(e)
    for kind in sorted(by_kind):
        xs: list[float | None] = []
        ys: list[float | None] = []
        for e in by_kind[kind]:
            (x0, y0), (x1, y1) = pos[index[e["a"]]], pos[index[e["b"]]]
            xs += [float(x0), float(x1), None]
            ys += [float(y0), float(y1), None]
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines",
                name=html.escape(kind),
                hoverinfo="skip",
                line={"width": 1.4, "color": KIND_COLOURS.get(kind, "#333333")},
            )
        )
    # Edge labels: an invisible marker at each edge's middle carries the kinds of link on hover.
    mids = [((pos[index[e["a"]]] + pos[index[e["b"]]]) / 2, e) for e in edges]
    fig.add_trace(
        go.Scatter(
            x=[float(m[0]) for m, _ in mids],
            y=[float(m[1]) for m, _ in mids],
            mode="markers",
            marker={"size": 7, "color": "rgba(0,0,0,0)"},
            showlegend=False,
            text=[html.escape(f"{e['a']} ↔ {e['b']}: {', '.join(e['kinds'])}") for _, e in mids],
            hovertemplate="%{text}<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=pos[:, 0].tolist() if nodes else [],
            y=pos[:, 1].tolist() if nodes else [],
            mode="markers",
            name="account",
            customdata=nodes,
            text=[html.escape(a) for a in nodes],
            hovertemplate="%{text}<extra></extra>",
            marker={
                "size": 12,
                "color": [risk.get(a, 0.0) for a in nodes],
                "colorscale": "Reds",
                "cmin": 0,
                "cmax": 1,
                "line": {"width": 1, "color": "#1d2733"},
            },
        )
    )
    fig.update_layout(
        title={
            "text": "Linked accounts (edge colour: kind of link; click an account to open it)",
            "font": {"size": 14},
        },
        width=WIDTH,
        height=460,
        paper_bgcolor="white",
        plot_bgcolor="white",
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        legend={"orientation": "h", "y": -0.02},
        font={"family": "Helvetica, Arial, sans-serif", "size": 11},
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, scaleanchor="x")
    return fig
