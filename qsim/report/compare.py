"""Variants side by side: one table column per variant, and overlaid plots.

Built from run summaries alone (``{"variants": {name: summary}}``). Each row is one figure at
one path of the summary; its ``±`` comes from the same path under ``ci95``. The best value of a
row is marked: the lowest for latency, backlog, cost and losses, the highest for throughput and
SLO attainment. Figures a summary lacks show as ``-`` (rows nobody has are left out).
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from qsim.report.console import format_duration, format_number, precision_line, warmup_line
from qsim.summary import half_width, lookup

__all__ = ["Row", "best_columns", "comparison_rows", "comparison_table", "plot_comparison"]

Summaries = dict[str, dict[str, Any]]
LOWER, HIGHER = min, max
FORMATS: dict[str, Callable[[float | None, float | None], str]] = {
    "duration": format_duration,
    "number": format_number,
}
QUEUE_FIGURES = (  # label, path under the queue, format, which is best
    ("latency p50", ("latency_s", "p50"), "duration", LOWER),
    ("latency p95", ("latency_s", "p95"), "duration", LOWER),
    ("latency p99", ("latency_s", "p99"), "duration", LOWER),
    ("backlog mean", ("backlog", "mean"), "number", LOWER),
    ("backlog max", ("backlog", "max"), "number", LOWER),
    ("throughput/s", ("throughput_per_s",), "number", HIGHER),
    ("dropped", ("dropped",), "number", LOWER),
    ("dead-lettered", ("dead_lettered",), "number", LOWER),
    ("duplicates", ("lease", "duplicates"), "number", LOWER),  # a lease queue's
    ("lease expiries", ("lease", "lease_expiries"), "number", LOWER),
    ("empty receives", ("lease", "empty_receives"), "number", LOWER),
)
POOL_FIGURES = (
    ("replica-seconds", ("replica_seconds",), "number", LOWER),
    ("replicas mean", ("replicas_mean",), "number", LOWER),
    ("Lambda invocations", ("lambda", "invocations"), "number", LOWER),
    ("Lambda GB-seconds", ("lambda", "gb_seconds"), "number", LOWER),
    ("Lambda cold starts", ("lambda", "cold_starts"), "number", LOWER),
    ("Lambda timeouts", ("lambda", "timeouts"), "number", LOWER),
    ("retries parked", ("retry", "parked"), "number", LOWER),  # a pool with retry
    ("deliveries/message", ("retry", "amplification"), "number", LOWER),
)
SLO_FIGURES = (
    ("attainment", ("attainment",), "number", HIGHER),
    ("drain time", ("drain_time_s",), "duration", LOWER),
)
SECTIONS = (  # summary section, group label, figures
    ("queues", "queue", QUEUE_FIGURES),
    ("consumers", "pool", POOL_FIGURES),
    ("slo", "SLO", SLO_FIGURES),
)
MARK = " *"
LINE_STYLES = ("-", "--", ":", "-.")  # overlapping variants stay visible
TIME_UNITS = {False: (1.0, "seconds"), True: (60.0, "minutes")}  # keyed by "longer than 10m"
LEGEND = "* best in its row. ± is the half-width of the 95% confidence interval over replications."


@dataclass(frozen=True)
class Row:
    """One figure across variants: where it lives in a summary and how to show and rank it."""

    label: str
    path: tuple[str, ...]
    format: str
    best: Callable[..., float]


def comparison_rows(summaries: Summaries) -> Iterator[tuple[str, Row]]:
    """The rows to show, each with its group (a queue, a pool, a queue's SLO, or the cost);
    a queue or pool that only some variants have (a retry's queues) gets its rows too."""
    for section, kind, figures in SECTIONS:
        having = [s[section] for s in summaries.values() if isinstance(s.get(section), dict)]
        for name in dict.fromkeys(name for entries in having for name in entries):
            for label, path, fmt, best in figures:
                yield f"{kind} {name}", Row(label, (section, name, *path), fmt, best)
    yield from _cost_rows(summaries)


def _cost_rows(summaries: Summaries) -> Iterator[tuple[str, Row]]:
    """Money per day and over the measured window (when the variants' windows are equal) in
    total, and per day per pool and queue when there are several, for variants that have it."""
    costs = [s["cost"] for s in summaries.values() if isinstance(s.get("cost"), dict)]
    if not costs:
        return
    group = f"cost ({costs[0]['currency']})"
    yield group, Row("per day", ("cost", "per_day"), "number", LOWER)
    if len({cost["window_s"] for cost in costs}) == 1:  # totals over different windows: no
        yield group, Row("measured window", ("cost", "total"), "number", LOWER)
    owners = [
        (section, kind, name)
        for section, kind in (("pools", "pool"), ("queues", "queue"))
        for name in dict.fromkeys(name for cost in costs for name in cost[section])
    ]
    for section, kind, name in owners if len(owners) > 1 else ():  # one owner: the total
        path = ("cost", section, name, "per_day")
        yield group, Row(f"{kind} {name} per day", path, "number", LOWER)


def _shown(value: float) -> float:
    """``value`` to the 3 significant digits a cell shows, so marks never rest on hidden noise."""
    return float(f"{value:.3g}")


def best_columns(values: list[float | None], best: Callable[..., float]) -> set[int]:
    """Columns holding the best value as shown; none when all shown values are equal."""
    shown = [_shown(v) if isinstance(v, int | float) else None for v in values]
    known = [v for v in shown if v is not None]
    if len(set(known)) < 2:
        return set()
    target = best(known)
    return {i for i, v in enumerate(shown) if v == target}


def _cells(summaries: Summaries, row: Row) -> list[str]:
    """Formatted values of ``row`` for each variant, the best marked in bold with ``*``."""
    values = [lookup(s, row.path) for s in summaries.values()]
    marked = best_columns(values, row.best)
    halves = [half_width(s, row.path) for s in summaries.values()]
    texts = [FORMATS[row.format](v, h) for v, h in zip(values, halves, strict=True)]
    return [f"[bold]{t}{MARK}[/bold]" if i in marked else t for i, t in enumerate(texts)]


def comparison_table(summaries: Summaries) -> Table:
    """The side-by-side table: one column per variant."""
    first = next(iter(summaries.values()))
    table = Table(
        title=f"{first.get('scenario', '')}: {first.get('replications')} replications, "
        f"seed {first.get('seed')} (common random numbers)",
        title_justify="left",
        show_edge=False,
    )
    table.add_column("")
    table.add_column("figure")
    for name in summaries:
        table.add_column(name, justify="right")
    previous = None
    for group, row in comparison_rows(summaries):
        if all(lookup(s, row.path) is None for s in summaries.values()):
            continue
        table.add_row(group if group != previous else "", row.label, *_cells(summaries, row))
        previous = group
    return table


def render_comparison(summaries: Summaries, console: Console | None = None) -> None:
    """Print the comparison table and its legend."""
    console = console or Console(file=sys.stdout, width=200)
    console.print(comparison_table(summaries))
    console.print(LEGEND, markup=False)
    for name, summary in summaries.items():
        for line in (warmup_line(summary), precision_line(summary)):
            if line is not None:
                console.print(Text(f"{name}: ").append_text(line))


def _finish(figure: Any, file: Path, formats: tuple[str, ...], loc: str) -> None:
    """Grid and variant legend on the figure's axes; save it as ``file`` in each format."""
    import matplotlib.pyplot as plt

    for axes in figure.axes:
        axes.grid(alpha=0.3)
        axes.legend(title="variant", loc=loc)
    figure.tight_layout()
    for suffix in formats:
        figure.savefig(file.with_suffix(f".{suffix}"), dpi=110)
    plt.close(figure)


def _overlay(
    summaries: Summaries,
    path: tuple[str, ...],
    title: str,
    ylabel: str,
    file: Path,
    formats: tuple[str, ...] = ("png",),
) -> bool:
    """A plot (``file`` in each of ``formats``) with a line per variant of the series at
    ``timeseries/path``; False if none has it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = {n: lookup(s.get("timeseries"), path) for n, s in summaries.items()}
    if all(v is None for v in series.values()):
        return False
    figure, axes = plt.subplots(figsize=(9, 4.5))
    for (name, values), style in zip(series.items(), itertools.cycle(LINE_STYLES), strict=False):
        if values is not None:
            times = summaries[name]["timeseries"]["time_s"]
            scale, unit = TIME_UNITS[times[-1] > 600 if times else False]
            axes.step(
                [t / scale for t in times],
                values,
                where="post",
                label=name,
                linestyle=style,
                linewidth=1.4,
            )
    axes.set(title=title, xlabel=f"time since start ({unit})", ylabel=ylabel)
    _finish(figure, file, formats, loc="best")
    return True


def _cdf_overlay(
    summaries: Summaries, queue: str, file: Path, formats: tuple[str, ...] = ("png",)
) -> bool:
    """Latency CDFs of ``queue``, a line per variant, on a log latency axis (from each
    summary's quantile grid); False if no variant has one."""
    import matplotlib.pyplot as plt

    from qsim.report.plots import latency_grid, log_seconds_axis, slo_line  # selects Agg

    grids = {n: latency_grid(s["queues"].get(queue, {})) for n, s in summaries.items()}
    grids = {n: g for n, g in grids.items() if g[0].size >= 2}
    if not grids:
        return False
    figure, axes = plt.subplots(figsize=(9, 4.5))
    for (name, (levels, values)), style in zip(
        grids.items(), itertools.cycle(LINE_STYLES), strict=False
    ):
        axes.plot(values, levels, label=name, linestyle=style, linewidth=1.4)
    slo_line(axes, next(iter(summaries.values())), horizontal=True)
    log_seconds_axis(axes)
    axes.set(
        title=f"Latency of {queue}, cumulative (quantiles averaged over replications)",
        xlabel="latency (s, log scale)", ylabel="share of messages within", ylim=(0, 1.02),
    )  # fmt: skip
    _finish(figure, file, formats, loc="lower right")
    return True


def plot_comparison(
    summaries: Summaries, folder: Path, formats: tuple[str, ...] = ("png",)
) -> list[Path]:
    """Write backlog-over-time plots and latency CDFs per queue (and replicas-over-time per pool
    when the summaries' time series carry them) into ``folder``, in each of ``formats``; return
    the files written (their first format)."""
    folder.mkdir(parents=True, exist_ok=True)
    first = next(iter(summaries.values())).get("timeseries", {})
    plots = [
        (("queues", q, "ready"), f"Backlog of {q} (mean over replications)", "ready messages",
         folder / f"backlog-{q}.png")
        for q in first.get("queues", {})
    ] + [
        (("pools", p, "replicas"), f"Replicas of {p} (mean over replications)", "replicas",
         folder / f"replicas-{p}.png")
        for p in first.get("pools", {})
    ]  # fmt: skip
    written = [
        file
        for path, title, ylabel, file in plots
        if _overlay(summaries, path, title, ylabel, file, formats)
    ]
    cdfs = {q: folder / f"latency-cdf-{q}.png" for q in first.get("queues", {})}
    return written + [f for q, f in cdfs.items() if _cdf_overlay(summaries, q, f, formats)]
