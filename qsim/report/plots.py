"""The report's plots, drawn from a run summary (and a capacity result) alone.

Each plot function takes the summary and returns a matplotlib figure, or None when the summary
has nothing to draw (no pools, no completed messages). :func:`save` writes a figure as PNG and
SVG. Matplotlib runs on the Agg backend: no display is needed. Plots are sized and styled for
a screen and for print: labelled axes with units, a light grid, the warm-up shaded.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

__all__ = ["PLOTS", "capacity_plot", "lag_plot", "save", "style", "summary_plots"]

Summary = dict[str, Any]
STYLE: dict[str, Any] = {
    "figure.figsize": (8.0, 3.4),
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.frameon": False,
    "svg.fonttype": "none",  # text stays text in SVG: smaller files, selectable labels
}
TIME_UNITS = ((600.0, 1.0, "s"), (5 * 3600.0, 60.0, "min"), (float("inf"), 3600.0, "h"))
PANEL_HEIGHT = 2.3  # inches per stacked panel (one per queue or pool)
DPI = 110
COLORS = ("C0", "C1", "C2", "C4", "C5", "C6")


@contextmanager
def style() -> Iterator[None]:
    """The report's matplotlib style, for the duration of a ``with`` block."""
    with plt.rc_context(STYLE):  # type: ignore[arg-type]  # keys checked by matplotlib
        yield


def save(figure: Figure, folder: Path, name: str) -> Path:
    """Write ``figure`` as ``name.png`` and ``name.svg`` into ``folder``; return the PNG."""
    png = folder / f"{name}.png"
    figure.savefig(png, dpi=DPI, bbox_inches="tight")
    figure.savefig(folder / f"{name}.svg", bbox_inches="tight")
    plt.close(figure)
    return png


def _time_axis(summary: Summary) -> tuple[np.ndarray, float, str]:
    """Sample times scaled to a readable unit, the scale and the unit's name."""
    times = np.asarray(summary["timeseries"]["time_s"], dtype=float)
    end = float(times[-1]) if times.size else 0.0
    scale, unit = next((s, u) for below, s, u in TIME_UNITS if end <= below)
    return times / scale, scale, unit


def _panels(count: int, title: str) -> tuple[Figure, list[Axes]]:
    """A figure of ``count`` stacked panels sharing the time axis."""
    figure, axes = plt.subplots(
        count, 1, sharex=True, squeeze=False, figsize=(8.0, 0.9 + PANEL_HEIGHT * count)
    )
    figure.suptitle(title, fontweight="bold")
    return figure, [row[0] for row in axes]


def _shade_warmup(axes: Axes, summary: Summary, scale: float) -> None:
    warmup = summary.get("warmup_s") or 0.0
    if warmup > 0:
        axes.axvspan(0, warmup / scale, color="0.85", alpha=0.5, lw=0, label="warm-up")


def _finish_time_panels(figure: Figure, axes: list[Axes], unit: str) -> Figure:
    axes[-1].set_xlabel(f"time since start ({unit})")
    axes[-1].legend(loc="upper center", bbox_to_anchor=(0.5, -0.3), fontsize=8, ncols=4)
    figure.tight_layout()
    return figure


def _replications(summary: Summary) -> str:
    count = summary["replications"]
    return f"{count} replication{'s' if count != 1 else ''}"


def backlog_plot(summary: Summary) -> Figure | None:
    """Ready messages per queue over time: the mean over replications and their range."""
    queues = summary["timeseries"]["queues"]
    if not queues:
        return None
    times, scale, unit = _time_axis(summary)
    figure, axes = _panels(len(queues), f"Backlog (ready messages), {_replications(summary)}")
    for ax, (name, series) in zip(axes, queues.items(), strict=True):
        _shade_warmup(ax, summary, scale)
        if "ready_min" in series and summary["replications"] > 1:
            ax.fill_between(
                times,
                series["ready_min"],
                series["ready_max"],
                step="post",
                color="C0",
                alpha=0.2,
                lw=0,
                label="range over replications",
            )
        ax.step(times, series["ready"], where="post", color="C0", lw=1.4, label="mean")
        ax.set_ylabel("messages")
        ax.set_title(name, loc="left", fontsize=10)
        ax.set_ylim(bottom=0)
    return _finish_time_panels(figure, axes, unit)


def rates_plot(summary: Summary) -> Figure | None:
    """Publish and ack rates per queue over time (mean over replications, per sample step)."""
    queues = {n: s for n, s in summary["timeseries"]["queues"].items() if "publish_rate" in s}
    if not queues:
        return None
    times, scale, unit = _time_axis(summary)
    figure, axes = _panels(len(queues), "Publish and ack rates (mean over replications)")
    for ax, (name, series) in zip(axes, queues.items(), strict=True):
        _shade_warmup(ax, summary, scale)
        ax.step(times, series["publish_rate"], where="pre", color="C1", lw=1.3, label="publish")
        ax.step(times, series["ack_rate"], where="pre", color="C2", lw=1.3, ls="--", label="ack")
        ax.set_ylabel("messages/s")
        ax.set_title(name, loc="left", fontsize=10)
        ax.set_ylim(bottom=0)
    return _finish_time_panels(figure, axes, unit)


LAG_HIGHLIGHTED = 3
"""Partitions drawn in colour and named in the lag plot (those with the highest peak lag)."""


def _topics(summary: Summary) -> dict[str, dict[str, list[list[float]]]]:
    """The kafka topics' per-partition lag series, by topic."""
    queues = summary["timeseries"]["queues"]
    return {name: series["kafka"] for name, series in queues.items() if series.get("kafka")}


def lag_plot(summary: Summary) -> Figure | None:
    """Per kafka topic, each partition's lag over time in records and in seconds (mean over
    replications): the partitions with the highest peak in colour, the others in grey."""
    topics = _topics(summary)
    if not topics:
        return None
    times, scale, unit = _time_axis(summary)
    title = f"Consumer lag per partition (mean over {_replications(summary)})"
    figure, axes = _panels(2 * len(topics), title)
    for index, (name, lags) in enumerate(topics.items()):
        peaks = [max(series, default=0.0) for series in lags["lag"]]
        top = sorted(range(len(peaks)), key=lambda p: -peaks[p])[:LAG_HIGHLIGHTED]
        for ax, field, ylabel in (
            (axes[2 * index], "lag", "records"), (axes[2 * index + 1], "lag_s", "seconds")
        ):  # fmt: skip
            _shade_warmup(ax, summary, scale)
            for p, series in enumerate(lags[field]):
                if p not in top:
                    ax.step(times, series, where="post", color="0.65", lw=0.7)
            for p, color in zip(top, COLORS, strict=False):
                label = f"partition {p}" if ax is axes[-1] else None
                ax.step(times, lags[field][p], where="post", color=color, lw=1.4, label=label)
            ax.set_ylabel(ylabel)
            what = (
                "records behind the committed offset"
                if field == "lag"
                else "age of the oldest uncommitted record"
            )
            ax.set_title(f"{name}: {what}", loc="left", fontsize=10)
            ax.set_ylim(bottom=0)
    axes[-1].plot([], [], color="0.65", lw=0.7, label="other partitions")
    return _finish_time_panels(figure, axes, unit)


def _pool_panels(summary: Summary, title: str, ylabel: str, values: Callable[..., Any]) -> Figure:
    pools = summary["timeseries"]["pools"]
    times, scale, unit = _time_axis(summary)
    figure, axes = _panels(len(pools), title)
    for ax, (name, series) in zip(axes, pools.items(), strict=True):
        _shade_warmup(ax, summary, scale)
        values(ax, times, name, series)
        ax.set_ylabel(ylabel)
        ax.set_title(name, loc="left", fontsize=10)
        ax.set_ylim(bottom=0)
    return _finish_time_panels(figure, axes, unit)


def replicas_plot(summary: Summary) -> Figure | None:
    """Replicas of each pool over time (mean over replications)."""
    if not summary["timeseries"]["pools"]:
        return None

    def draw(ax: Axes, times: np.ndarray, _name: str, series: dict[str, Any]) -> None:
        ax.step(times, series["replicas"], where="post", color="C4", lw=1.4, label="replicas")
        ax.set_ylim(top=max(max(series["replicas"], default=1) * 1.15, 1))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))

    return _pool_panels(summary, "Replicas (mean over replications)", "replicas", draw)


def _concurrency(summary: Summary) -> dict[str, int]:
    consumers = summary["resolved_scenario"].get("consumers", [])
    return {pool["name"]: int(pool.get("concurrency", 1)) for pool in consumers}


def utilization_plot(summary: Summary) -> Figure | None:
    """Busy workers over available workers per pool at each sample, and the run's mean."""
    pools = summary["timeseries"]["pools"]
    if not pools or not all("busy" in s for s in pools.values()):
        return None
    concurrency = _concurrency(summary)

    def draw(ax: Axes, times: np.ndarray, name: str, series: dict[str, Any]) -> None:
        workers = np.asarray(series["replicas"], dtype=float) * concurrency.get(name, 1)
        busy = np.asarray(series["busy"], dtype=float)
        share = np.divide(busy, workers, out=np.zeros_like(busy), where=workers > 0)
        ax.plot(times, 100 * share, color="C3", lw=1.1, label="busy workers (sampled)")
        mean = summary["consumers"].get(name, {}).get("utilization")
        if mean is not None:
            ax.axhline(100 * mean, color="0.3", ls="--", lw=1, label="mean after warm-up")
        ax.set_ylim(0, 105)

    return _pool_panels(summary, "Utilization (mean over replications)", "busy (%)", draw)


def latency_grid(figures: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Levels and positive latencies of a queue's quantile grid (empty if it has none)."""
    grid = figures.get("latency_quantiles_s") or {}
    pairs = sorted((float(k), v) for k, v in grid.items() if v is not None and v > 0)
    levels = np.array([p for p, _ in pairs])
    values = np.maximum.accumulate(np.array([v for _, v in pairs]))  # quantiles never fall
    return levels, values


def _latency_queues(summary: Summary) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    grids = {name: latency_grid(figures) for name, figures in summary["queues"].items()}
    return {name: grid for name, grid in grids.items() if grid[0].size >= 2}


def slo_line(ax: Axes, summary: Summary, horizontal: bool) -> None:
    slo = summary["resolved_scenario"].get("slo")
    if not slo:
        return
    label = f"SLO: p{slo['percentile']:g} within {slo['latency']:g} s"
    ax.axvline(slo["latency"], color="C3", ls="--", lw=1.2, label=label)
    if horizontal:
        ax.axhline(slo["percentile"] / 100, color="C3", ls=":", lw=1)


def log_seconds_axis(ax: Axes) -> None:
    """A log latency axis labelled in plain seconds (0.1, 1, 10), readable in print."""
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _pos: f"{value:g}"))


def latency_cdf_plot(summary: Summary) -> Figure | None:
    """Share of messages acked within each latency, per queue, on a log latency axis."""
    queues = _latency_queues(summary)
    if not queues:
        return None
    figure, ax = plt.subplots()
    for (name, (levels, values)), color in zip(queues.items(), itertools.cycle(COLORS)):
        ax.plot(values, levels, color=color, lw=1.5, marker=".", ms=4, label=name)
    slo_line(ax, summary, horizontal=True)
    log_seconds_axis(ax)
    ax.set(
        title="Latency (publish -> ack), cumulative",
        xlabel="latency (s, log scale)",
        ylabel="share of messages within",
        ylim=(0, 1.02),
    )
    ax.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    return figure


def latency_histogram_plot(summary: Summary) -> Figure | None:
    """Latency density per decade, per queue, from the quantile grid (equal-share bins)."""
    queues = _latency_queues(summary)
    if not queues:
        return None
    figure, ax = plt.subplots()
    for (name, (levels, values)), color in zip(queues.items(), itertools.cycle(COLORS)):
        keep = np.concatenate([[True], np.diff(values) > 0])
        edges, shares = values[keep], levels[keep]
        density = np.diff(shares) / np.diff(np.log10(edges))
        ax.stairs(
            density,
            edges,
            color=color,
            lw=1.5,
            label=name,
            fill=len(queues) == 1,
            alpha=0.6 if len(queues) == 1 else 1.0,
        )
    slo_line(ax, summary, horizontal=False)
    log_seconds_axis(ax)
    ax.set(
        title="Latency (publish -> ack), histogram",
        xlabel="latency (s, log scale)",
        ylabel="share of messages per decade",
    )
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    return figure


PLOTS: dict[str, tuple[str, Callable[[Summary], Figure | None]]] = {
    "backlog": ("Backlog over time", backlog_plot),
    "rates": ("Publish and ack rates over time", rates_plot),
    "lag": ("Kafka lag per partition over time", lag_plot),
    "latency-cdf": ("Latency, cumulative", latency_cdf_plot),
    "latency-histogram": ("Latency histogram", latency_histogram_plot),
    "replicas": ("Replicas over time", replicas_plot),
    "utilization": ("Utilization over time", utilization_plot),
}
"""The run report's plots by file name: a title and the function drawing it."""


def summary_plots(summary: Summary, folder: Path) -> dict[str, Path]:
    """Draw every plot the summary supports into ``folder`` (PNG and SVG); PNGs by name."""
    written = {}
    with style():
        for name, (_title, draw) in PLOTS.items():
            figure = draw(summary)
            if figure is not None:
                written[name] = save(figure, folder, name)
    return written


def capacity_plot(capacity: dict[str, Any], replicas_today: int | None) -> Figure | None:
    """Replicas needed per load multiplier: simulated and analytic, today's count and the
    headroom marked."""
    levels = capacity.get("levels") or []
    if not levels:
        return None
    loads = [level["load"] for level in levels]
    with style():
        figure, ax = plt.subplots()
        series = [
            ("replicas", "simulated (meets every SLO)", "o-"),
            ("analytic_replicas", "analytic (queueing theory)", "s--"),
        ]
        if capacity.get("vary") == "partitions":  # replicas on the partitions found
            series.append(("partitions", "partitions (simulated)", "^:"))
        for key, label, fmt in series:
            values = [np.nan if lv.get(key) is None else lv[key] for lv in levels]
            ax.plot(
                loads, values, fmt, lw=1.4, ms=6, label=label, mfc="white" if "s" in fmt else None
            )
        if replicas_today is not None:
            ax.axhline(
                replicas_today, color="0.4", ls=":", lw=1.2, label=f"today: {replicas_today}"
            )
        headroom = capacity.get("headroom")
        if headroom is not None:
            ax.axvline(headroom, color="C3", ls="--", lw=1.2, label=f"headroom: {headroom:.2f}x")
        ax.set(
            title=f"Capacity of {capacity.get('pool', 'the pool')}",
            xlabel="load (multiple of the scenario's rates)",
            ylabel="replicas (partitions) needed" if len(series) > 2 else "replicas needed",
        )
        ax.set_ylim(bottom=0)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(loc="upper left", fontsize=8)
        figure.tight_layout()
    return figure
