"""The capacity curve as an interactive plotly.js figure: replicas needed per load multiplier.

Simulated counts are filled markers on a solid line, the analytic estimates open markers on a
dotted line drawn beneath them (so they never hide a simulated one), today's count a dashed
horizontal line and the headroom (the load today's count holds up to) a dotted vertical one.
Undecided loads (``replicas`` null) are left out of the simulated line. Hover text reads
``1x load: 3 replicas (simulated)`` (the axis' ``x`` suffix ends the load). Built from a
``qsim capacity --json`` result alone.
"""

from __future__ import annotations

from typing import Any

__all__ = ["capacity_figure"]


def _series(levels: list[dict[str, Any]], key: str) -> tuple[list[float], list[float]]:
    known = [lv for lv in levels if lv.get(key) is not None]
    return [lv["load"] for lv in known], [lv[key] for lv in known]


def capacity_figure(capacity: dict[str, Any], today: int | None) -> dict[str, Any] | None:
    """The figure, or None when no load has a simulated count."""
    levels = capacity.get("levels", [])
    loads, simulated = _series(levels, "replicas")
    if not loads:
        return None
    analytic = _series(levels, "analytic_replicas")
    data = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": "analytic (queueing theory)",
            "x": analytic[0],
            "y": analytic[1],
            "line": {"color": "#7f7f7f", "dash": "dot", "width": 1.4},
            "marker": {"symbol": "circle-open", "size": 11, "color": "#7f7f7f"},
            "hovertemplate": "%{x} load: %{y} replicas (analytic)<extra></extra>",
        },
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": "simulated",
            "x": loads,
            "y": simulated,
            "line": {"color": "#1f77b4", "width": 2},
            "marker": {"size": 8, "color": "#1f77b4"},
            "hovertemplate": "%{x} load: %{y} replicas (simulated)<extra></extra>",
        },
    ]
    shapes, headroom = [], capacity.get("headroom")
    if today is not None:
        shapes.append(_rule("y", today, "#2ca02c", "dash"))
    if headroom is not None:
        shapes.append(_rule("x", headroom, "#d62728", "dot"))
    layout = {
        "height": 360,
        "margin": {"l": 56, "r": 16, "t": 24, "b": 48},
        "xaxis": {"title": {"text": "load (every producer's rate multiplied)"}, "ticksuffix": "x"},
        "yaxis": {"title": {"text": "replicas needed"}, "rangemode": "tozero"},
        "legend": {"orientation": "h", "y": -0.2},
        "hovermode": "closest",
        "shapes": shapes,
        "annotations": _labels(today, headroom),
        "plot_bgcolor": "#fff",
        "font": {"family": "system-ui, sans-serif", "size": 12},
    }
    return {"data": data, "layout": layout}


def _rule(axis: str, value: float, color: str, dash: str) -> dict[str, Any]:
    across = {"x0": 0, "x1": 1, "xref": "paper", "y0": value, "y1": value, "yref": "y"}
    if axis == "x":
        across = {"y0": 0, "y1": 1, "yref": "paper", "x0": value, "x1": value, "xref": "x"}
    return {"type": "line", **across, "line": {"color": color, "dash": dash, "width": 1.4}}


def _labels(today: int | None, headroom: float | None) -> list[dict[str, Any]]:
    labels = []
    if today is not None:
        labels.append(
            {"text": f"today: {today}", "xref": "paper", "x": 0.01, "y": today, "yref": "y",
             "xanchor": "left", "yanchor": "bottom", "showarrow": False}
        )  # fmt: skip
    if headroom is not None:
        labels.append(
            {"text": f"holds to {round(headroom, 2):g}x", "x": headroom, "xref": "x", "y": 1,
             "yref": "paper", "xanchor": "left", "yanchor": "top", "showarrow": False}
        )  # fmt: skip
    return labels
