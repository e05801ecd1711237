"""The topology of a scenario as a graph (producers -> exchanges -> queues -> pools) and its
drawing, from the resolved scenario of a summary.

Nodes sit in columns by kind; edges are publishes, bindings, dead-lettering and consumption.
Edges against the main flow (a pool publishing onward, dead-lettering between queues) are
drawn as dashed curves so the main flow reads left to right.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

__all__ = ["Edge", "edges", "nodes", "topology_plot"]

KINDS = ("producer", "exchange", "queue", "pool")
FILL = {"producer": "#e3eefb", "exchange": "#fdf0d9", "queue": "#e2f4e4", "pool": "#efe4f9"}
BOX_W, BOX_H, COLUMN_GAP, ROW_GAP = 2.0, 0.42, 0.9, 0.28  # inches
MAX_LABEL = 22


@dataclass(frozen=True)
class Edge:
    """A flow of messages from one node to another, with a short label."""

    source: tuple[str, str]  # (kind, name)
    target: tuple[str, str]
    label: str = ""
    back: bool = False  # against the main left-to-right flow (drawn dashed)


def nodes(resolved: dict[str, Any]) -> dict[str, list[str]]:
    """Node names by kind, in the scenario's order."""
    return {
        "producer": [p["name"] for p in resolved.get("producers", [])],
        "exchange": [e["name"] for e in resolved.get("exchanges", [])],
        "queue": [q["name"] for q in resolved.get("queues", [])],
        "pool": [c["name"] for c in resolved.get("consumers", [])],
    }


def _target(resolved: dict[str, Any], name: str) -> tuple[str, str]:
    exchanges = {e["name"] for e in resolved.get("exchanges", [])}
    return ("exchange" if name in exchanges else "queue", name)


def edges(resolved: dict[str, Any]) -> Iterator[Edge]:
    """Every flow of the topology: publishes, bindings, dead-lettering, consumption."""
    for producer in resolved.get("producers", []):
        yield Edge(("producer", producer["name"]), _target(resolved, producer["to"]), "publishes")
    for exchange in resolved.get("exchanges", []):
        for binding in exchange.get("bindings", []):
            key = binding.get("key") or ""
            yield Edge(("exchange", exchange["name"]), ("queue", binding["queue"]), key)
    for queue in resolved.get("queues", []):
        if queue.get("dead_letter"):
            yield Edge(
                ("queue", queue["name"]), ("queue", queue["dead_letter"]), "dead-letter", back=True
            )
    for pool in resolved.get("consumers", []):
        yield Edge(("queue", pool["queue"]), ("pool", pool["name"]), "consumes")
        for step in pool.get("publish", []):
            yield Edge(
                ("pool", pool["name"]), _target(resolved, step["to"]), "publishes", back=True
            )


def _short(name: str) -> str:
    return name if len(name) <= MAX_LABEL else name[: MAX_LABEL - 1] + "…"


def _layout(
    by_kind: dict[str, list[str]],
) -> tuple[dict[tuple[str, str], tuple[float, float]], int]:
    """Centre of each node's box (inches, y down), and the number of rows."""
    columns = [kind for kind in KINDS if by_kind[kind]]
    rows = max(len(by_kind[kind]) for kind in columns)
    places = {}
    for col, kind in enumerate(columns):
        names = by_kind[kind]
        offset = (rows - len(names)) * (BOX_H + ROW_GAP) / 2  # centre short columns
        for row, name in enumerate(names):
            x = BOX_W / 2 + col * (BOX_W + COLUMN_GAP)
            places[(kind, name)] = (x, offset + BOX_H / 2 + row * (BOX_H + ROW_GAP))
    return places, rows


def _arrow(a: tuple[float, float], b: tuple[float, float], back: bool) -> FancyArrowPatch:
    """An arrow from box ``a`` to box ``b``: straight forward, curved and dashed back."""
    (ax, ay), (bx, by) = a, b
    style: dict[str, Any] = {"arrowstyle": "-|>", "mutation_scale": 11, "color": "#555", "lw": 1.1}
    if bx > ax and not back:
        return FancyArrowPatch((ax + BOX_W / 2, ay), (bx - BOX_W / 2, by), **style)
    if bx == ax:  # same column: a loop on the left side (wider going up, so pairs part)
        start, end = (ax - BOX_W / 2, ay), (bx - BOX_W / 2, by)
        bend = "arc3,rad=0.5" if by > ay else "arc3,rad=-0.9"
    else:  # back to an earlier column: through the gap between the columns
        start, end = (ax - BOX_W / 2, ay + BOX_H / 4), (bx + BOX_W / 2, by + BOX_H / 4)
        bend = "arc3,rad=-0.25"
    return FancyArrowPatch(start, end, connectionstyle=bend, ls="--", **style)


def topology_plot(resolved: dict[str, Any]) -> Figure:
    """A drawing of the topology: a column per kind, an arrow per flow."""
    by_kind = nodes(resolved)
    places, rows = _layout(by_kind)
    columns = [kind for kind in KINDS if by_kind[kind]]
    width = len(columns) * BOX_W + (len(columns) - 1) * COLUMN_GAP
    height = rows * (BOX_H + ROW_GAP)
    figure = Figure(figsize=(width + 0.8, height + 0.55))
    ax = figure.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_xlim(-0.6, width + 0.2)
    ax.set_ylim(height, -0.55)
    ax.axis("off")
    for col, kind in enumerate(columns):
        label = "consumer pools" if kind == "pool" else f"{kind}s"
        ax.text(
            BOX_W / 2 + col * (BOX_W + COLUMN_GAP),
            -0.3,
            label,
            ha="center",
            fontweight="bold",
            color="#444",
            fontsize=10,
        )
    for edge in edges(resolved):
        if edge.source in places and edge.target in places:
            ax.add_patch(_arrow(places[edge.source], places[edge.target], edge.back))
    for (kind, name), (x, y) in places.items():
        ax.add_patch(
            FancyBboxPatch(
                (x - BOX_W / 2, y - BOX_H / 2),
                BOX_W,
                BOX_H,
                boxstyle="round,pad=0,rounding_size=0.08",
                facecolor=FILL[kind],
                edgecolor="#777",
                lw=1,
                zorder=3,
            )
        )
        ax.text(x, y, _short(name), ha="center", va="center", fontsize=9, zorder=4)
    return figure
