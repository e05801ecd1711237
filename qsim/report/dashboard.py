"""The dashboard: a run's series stacked on one clock-time axis, as a plotly.js figure.

Panels, top to bottom, each where the summary has it: ready backlog per queue, latency
percentiles per sample window (p50, p95, p99: ``timeseries.queues.NAME.latency_p50``...), replicas
per pool, utilization per pool, kafka lag (the sum over a topic's partitions) and a lease queue's
oldest message age, duplicates per window of each queue that had any
(``timeseries.queues.NAME.duplicates``), and the cost per window in money when the scenario has
``prices:`` (``timeseries.cost.amount``). Duplicates and cost are counted in the window that
*starts* at each sample (drawn as steps from it), so a panel's values add up to the summary's
``redelivered`` (a kafka topic's ``kafka.duplicates``) and ``cost.total``. The
time axis reads in clock time: the scenario's ``start`` (e.g. ``"10:00"``) names t = 0, or
``00:00`` without it. The warm-up and every step of a producer's ``schedule`` above its lowest
rate are shaded; the SLO's backlog level and latency are drawn as dashed lines. A panel whose
positive values span more than two decades gets a log axis.

A figure is a plain ``{"data": [...], "layout": {...}}`` dict, the JSON plotly.js draws
(https://plotly.com/javascript/reference/); :mod:`qsim.report.html` inlines plotly.js once per
page. For a comparison every variant gets one colour and one legend group, so a click on a
variant in the legend hides or shows it in every panel.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from qsim.spec import clock_seconds

__all__ = ["COLORS", "PANEL_HEIGHT", "Panel", "clock_times", "dashboard", "log_axis"]

Summary = dict[str, Any]
Trace = dict[str, Any]
COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")
PANEL_HEIGHT = 190  # pixels per stacked panel
EPOCH = datetime(2000, 1, 1)  # the day the clock times fall on (the axis shows hours only)
DASHES = {"latency_p50": "dot", "latency_p95": "dash", "latency_p99": "solid"}
DECADES = 2.0  # a panel whose positive values span more than this many decades reads in log


@dataclass
class Panel:
    """One stacked panel: its title, y-axis title, traces and SLO line (if any)."""

    title: str
    unit: str
    traces: list[Trace] = field(default_factory=list)
    limit: float | None = None
    limit_text: str = ""


def clock_times(summary: Summary) -> list[str]:
    """The sample times as clock times (``"2000-01-01 10:00:00"``), t = 0 at ``start``."""
    start = EPOCH + timedelta(seconds=_start_seconds(summary))
    return [_stamp(start + timedelta(seconds=t)) for t in summary["timeseries"]["time_s"]]


def _start_seconds(summary: Summary) -> float:
    start = summary["resolved_scenario"].get("start")
    return clock_seconds(start) if start else 0.0


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _at(summary: Summary, seconds: float) -> str:
    return _stamp(EPOCH + timedelta(seconds=_start_seconds(summary) + seconds))


def log_axis(values: Iterator[float | None]) -> bool:
    """Whether positive ``values`` span more than :data:`DECADES` decades."""
    positive = [v for v in values if v is not None and v > 0]
    return bool(positive) and np.log10(max(positive) / min(positive)) > DECADES


def _line(name: str, x: list[str], y: list[Any], color: str, **extra: Any) -> Trace:
    """A line trace; ``group`` (required) is its legend group."""
    return {
        "type": "scatter",
        "mode": "lines",
        "name": name,
        "x": x,
        "y": y,
        "line": {
            "color": color,
            "width": 1.6,
            "dash": extra.pop("dash", "solid"),
            "shape": extra.pop("line_shape", "linear"),  # plotly.js: line.shape ("hv": steps)
        },
        "legendgroup": extra.pop("group"),
        "hovertemplate": "%{y:.4g}",
        **extra,
    }


def _concurrency(summary: Summary) -> dict[str, int]:
    pools = summary["resolved_scenario"].get("consumers", [])
    return {p["name"]: int(p.get("concurrency", 1)) for p in pools}


def _utilization(summary: Summary, name: str) -> list[float | None]:
    pool = summary["timeseries"]["pools"][name]
    workers = _concurrency(summary).get(name, 1)
    return [
        None if busy is None or not replicas else busy / (replicas * workers)
        for replicas, busy in zip(pool["replicas"], pool.get("busy", []), strict=False)
    ]


def _window(summary: Summary) -> str:
    """The sample window as text: "30 s", "5 min"."""
    times = summary["timeseries"]["time_s"]
    step = times[1] - times[0] if len(times) > 1 else float(summary["duration_s"])
    return f"{step / 60:g} min" if step >= 60 and step % 60 == 0 else f"{step:g} s"


def _panels(summary: Summary, label: str, color: Callable[[int], str]) -> list[Panel]:
    """The panels of one run; ``label`` prefixes trace names (a variant), ``color`` picks a
    colour per (queue or pool index)."""
    series, x = summary["timeseries"], clock_times(summary)
    slo = summary["resolved_scenario"].get("slo") or {}
    covers = f" ({', '.join(slo['queues'])})" if slo.get("queues") else ""
    backlog = Panel("Backlog", "ready messages", limit=slo.get("backlog"))
    backlog.limit_text = f"SLO{covers}"
    latency = Panel("Latency per window", "seconds", limit=slo.get("latency"))
    latency.limit_text = f"SLO p{slo['percentile']:g}{covers}" if slo else ""
    replicas, utilization = Panel("Replicas", "replicas"), Panel("Utilization", "busy share")
    lag = Panel("Lag", "records / seconds")
    per = f"per {_window(summary)}"
    duplicates, cost = Panel("Duplicates", per), Panel("Cost", per)
    for i, (name, queue) in enumerate(series["queues"].items()):
        backlog.traces.append(_line(f"{label}{name}", x, queue["ready"], color(i), group=name))
        for key in (k for k in DASHES if k in queue):
            title = f"{label}{name} {key.removeprefix('latency_')}"
            latency.traces.append(
                _line(title, x, queue[key], color(i), dash=DASHES[key], group=name)
            )
        if "kafka" in queue:
            total = np.sum(np.asarray(queue["kafka"]["lag"], dtype=float), axis=0).tolist()
            lag.traces.append(_line(f"{label}{name} lag (records)", x, total, color(i), group=name))
        if "lease" in queue:
            age = queue["lease"]["oldest_age_s"]
            lag.traces.append(_line(f"{label}{name} oldest age (s)", x, age, color(i), group=name))
        if any(queue.get("duplicates") or []):
            step = _line(f"{label}{name}", x, queue["duplicates"], color(i), line_shape="hv",
                         group=name)  # fmt: skip
            duplicates.traces.append(step)
    for j, (name, pool) in enumerate(series["pools"].items()):
        tint = color(len(series["queues"]) + j)
        replicas.traces.append(
            _line(f"{label}{name}", x, pool["replicas"], tint, line_shape="hv", group=name)
        )
        if "busy" in pool:
            busy = _utilization(summary, name)
            utilization.traces.append(_line(f"{label}{name}", x, busy, tint, group=name))
    if "cost" in series:
        money = series["cost"]
        cost.unit = f"{money['currency']} {per}"
        trace = _line(f"{label}cost", x, money["amount"], color(0), line_shape="hv", group="cost")
        cost.traces.append({**trace, "hovertemplate": "%{y:.4g} " + money["currency"]})
    return [backlog, latency, replicas, utilization, lag, duplicates, cost]


def _shapes(summary: Summary) -> list[dict[str, Any]]:
    """The warm-up and the schedule's raised steps, shaded across every panel."""
    shapes: list[dict[str, Any]] = []
    warmup, end = summary.get("warmup_s") or 0.0, float(summary["duration_s"])
    if warmup > 0:
        shapes.append(_band(summary, 0.0, warmup, "rgba(120,120,120,0.15)"))
    for producer in summary["resolved_scenario"].get("producers", []):
        steps = producer.get("schedule") or []
        if len(steps) < 2:
            continue
        low, high = min(s["rate"] for s in steps), max(s["rate"] for s in steps)
        bounds = [s["at"] for s in steps[1:]] + [end]
        for step, until in zip(steps, bounds, strict=True):
            until = min(until, end)  # a run shorter than its schedule ends the band
            if step["rate"] > low and step["at"] < end:
                alpha = 0.06 + 0.14 * (step["rate"] - low) / (high - low)
                shapes.append(_band(summary, step["at"], until, f"rgba(255,165,0,{alpha:.2f})"))
    return shapes


def _band(summary: Summary, start: float, end: float, fill: str) -> dict[str, Any]:
    return {
        "type": "rect",
        "xref": "x",
        "yref": "paper",
        "x0": _at(summary, start),
        "x1": _at(summary, end),
        "y0": 0,
        "y1": 1,
        "fillcolor": fill,
        "line": {"width": 0},
        "layer": "below",
    }


def _limit(panel: Panel, axis: str) -> dict[str, Any]:
    return {
        "type": "line",
        "xref": "paper",
        "yref": axis,
        "x0": 0,
        "x1": 1,
        "y0": panel.limit,
        "y1": panel.limit,
        "line": {"color": "#b3261e", "width": 1.2, "dash": "dash"},
    }


def _layout(panels: list[Panel], shapes: list[dict[str, Any]], title: str) -> dict[str, Any]:
    count = len(panels)
    layout: dict[str, Any] = {
        "title": {"text": title, "x": 0.01, "font": {"size": 15}},
        "height": 110 + PANEL_HEIGHT * count,
        "margin": {"l": 64, "r": 16, "t": 48, "b": 40},
        "grid": {"rows": count, "columns": 1, "pattern": "coupled", "ygap": 0.28},
        "hovermode": "x unified",
        "legend": {"orientation": "h", "y": -0.02, "yanchor": "top", "font": {"size": 11}},
        "font": {"family": "system-ui, sans-serif", "size": 12},
        "xaxis": {"type": "date", "tickformat": "%H:%M", "hoverformat": "%H:%M:%S"},
        "plot_bgcolor": "#fff",
        "annotations": [],
    }
    for k, panel in enumerate(panels, start=1):
        axis = "yaxis" if k == 1 else f"yaxis{k}"
        values = (v for t in panel.traces for v in t["y"])
        layout[axis] = {
            "title": {"text": panel.unit, "font": {"size": 11}},
            "type": "log" if log_axis(values) else "linear",
            "gridcolor": "#e6e9ec",
            "rangemode": "tozero",
        }
        ref = "y" if k == 1 else f"y{k}"
        layout["annotations"].append(_panel_title(panel.title, f"{ref} domain"))
        if panel.limit is not None:
            shapes.append(_limit(panel, ref))
            log = layout[axis]["type"] == "log"  # annotations on log axes sit at log10(y)
            layout["annotations"].append(_limit_label(panel, ref, log))
    layout["shapes"] = shapes
    return layout


def _limit_label(panel: Panel, ref: str, log: bool) -> dict[str, Any]:
    """The SLO line's label, at its right end (names the queues the SLO covers)."""
    assert panel.limit is not None
    return {
        "text": panel.limit_text,
        "xref": "paper",
        "yref": ref,
        "x": 1,
        "y": float(np.log10(panel.limit)) if log and panel.limit > 0 else panel.limit,
        "xanchor": "right",
        "yanchor": "bottom",
        "showarrow": False,
        "font": {"size": 10, "color": "#b3261e"},
    }


def _panel_title(text: str, ref: str) -> dict[str, Any]:
    return {
        "text": f"<b>{text}</b>",
        "xref": "paper",
        "yref": ref,
        "x": 0,
        "y": 1.0,
        "xanchor": "left",
        "yanchor": "bottom",
        "showarrow": False,
        "font": {"size": 12},
    }


def _assemble(
    panels: list[Panel], shapes: list[dict[str, Any]], title: str, variants: list[str]
) -> dict[str, Any]:
    """The figure: one legend entry per group (a queue or pool, or a variant), shown once; a
    comparison's entries are its variants' names (an empty trace each carries the entry)."""
    kept = [p for p in panels if p.traces]
    data: list[Trace] = [
        {"type": "scatter", "x": [None], "y": [None], "name": name, "legendgroup": name,
         "mode": "lines", "line": {"color": COLORS[v % len(COLORS)], "width": 3},
         "hoverinfo": "skip", "xaxis": "x", "yaxis": "y"}
        for v, name in enumerate(variants)
    ]  # fmt: skip
    shown = set(variants)
    for k, panel in enumerate(kept, start=1):
        for trace in panel.traces:
            group = trace["legendgroup"]
            data.append(
                {
                    **trace,
                    "xaxis": "x",
                    "yaxis": "y" if k == 1 else f"y{k}",
                    "showlegend": group not in shown,
                }
            )
            shown.add(group)
    return {"data": data, "layout": _layout(kept, shapes, title)}


def _palette(variant: int | None) -> Callable[[int], str]:
    """Colour by queue or pool index for one run; one colour per variant in a comparison."""
    if variant is None:
        return lambda i: COLORS[i % len(COLORS)]
    return lambda _i: COLORS[variant % len(COLORS)]


def dashboard(summaries: dict[str, Summary], title: str) -> dict[str, Any] | None:
    """The dashboard figure of one run (``{"": summary}``) or of a comparison's variants
    overlaid (``{variant: summary}``); None when nothing was sampled."""
    first = next(iter(summaries.values()))
    if not first["timeseries"]["time_s"]:
        return None
    merged: list[Panel] | None = None
    for v, (variant, summary) in enumerate(summaries.items()):
        label = f"{variant} · " if variant else ""
        panels = _panels(summary, label, _palette(v if variant else None))
        for panel in panels:
            for trace in panel.traces:
                if variant:
                    trace.update(legendgroup=variant)
        if merged is None:
            merged = panels
        else:
            for into, panel in zip(merged, panels, strict=True):
                into.traces += panel.traces
    assert merged is not None
    variants = [name for name in summaries if name]
    return _assemble(merged, _shapes(first), title, variants)
