"""Variants side by side: one table column per variant, and overlaid plots.

Built from run summaries alone (``{"variants": {name: summary}}``). Each row is one figure at
one path of the summary; its interval comes from the same path under ``ci95``
(:mod:`qsim.report.figures`). The best value of a row is marked: the lowest for latency,
backlog, cost and losses, the highest for throughput and SLO attainment, and only among the
variants that meet every objective (every variant when there are none). Figures a summary
lacks show as ``-`` (rows nobody has are left out). Below the table, the recommendation: the
cheapest variant that meets every objective.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from qsim.report.console import precision_line, stdout_console, warmup_line
from qsim.report.figures import (
    INTERVAL_NOTE,
    above_label,
    duration_unit,
    figure_text,
    format_number,
)
from qsim.report.layout import fitted, prose
from qsim.report.review import slo_verdicts
from qsim.summary import lookup

__all__ = [
    "Row",
    "best_columns",
    "comparison_rows",
    "comparison_table",
    "legend",
    "meeting",
    "meeting_of",
    "plot_comparison",
    "recommendation",
]

Summaries = dict[str, dict[str, Any]]
LOWER, HIGHER = min, max
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
RESOURCE_FIGURES = (  # a shared resource's (docs/resources.md)
    ("wait mean", ("wait_s", "mean"), "duration", LOWER),
    ("wait p99", ("wait_s", "p99"), "duration", LOWER),
    ("waiting mean", ("queue", "mean"), "number", LOWER),
)
SLO_FIGURES = (
    ("attainment", ("attainment",), "percent", HIGHER),
    ("longest above the backlog level", ("drain_time_s",), "above", LOWER),
)
SECTIONS = (  # summary section, group label, figures
    ("queues", "queue", QUEUE_FIGURES),
    ("consumers", "pool", POOL_FIGURES),
    ("resources", "resource", RESOURCE_FIGURES),
    ("slo", "SLO", SLO_FIGURES),
)
MARK = " *"
LINE_STYLES = ("-", "--", ":", "-.")  # overlapping variants stay visible
TIME_UNITS = {False: (1.0, "seconds"), True: (60.0, "minutes")}  # keyed by "longer than 10m"
LEGEND = f"* best in its row among the variants that meet every objective. {INTERVAL_NOTE}"
NO_OBJECTIVE_LEGEND = f"* best in its row (no objective to judge the variants by). {INTERVAL_NOTE}"


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
                shown = _above_label(summaries) if path == ("drain_time_s",) else label
                yield f"{kind} {name}", Row(shown or label, (section, name, *path), fmt, best)
    yield from _cost_rows(summaries)


def _above_label(summaries: Summaries) -> str | None:
    """The one name of ``drain_time_s`` at the variants' backlog level (None if they differ)."""
    levels = {(s["resolved_scenario"].get("slo") or {}).get("backlog") for s in summaries.values()}
    level = levels.pop() if len(levels) == 1 else None
    return None if level is None else above_label(level)


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


def meeting_of(verdicts: dict[str, list[dict[str, Any]]]) -> list[str] | None:
    """The variants whose every judged verdict is met on its whole 95% interval (verdicts of
    :func:`qsim.report.review.slo_verdicts`); None when no variant has an objective to judge."""
    judged = {name: [v for v in found if v["verdict"] != "no data"]
              for name, found in verdicts.items()}  # fmt: skip
    if not any(judged.values()):
        return None
    return [n for n, found in judged.items() if found and all(v["verdict"] == "met" for v in found)]


def meeting(summaries: Summaries) -> list[str] | None:
    """The variants that meet every objective (:func:`meeting_of` their SLO verdicts)."""
    return meeting_of({name: slo_verdicts(s) for name, s in summaries.items()})


def marked_cells(summaries: Summaries, row: Row) -> tuple[list[str], set[int]]:
    """The values of ``row`` as each variant's report shows them, and the columns holding the
    best among the variants that meet every objective."""
    values = [lookup(s, row.path) for s in summaries.values()]
    eligible = meeting(summaries)
    among = [v if eligible is None or n in eligible else None
             for n, v in zip(summaries, values, strict=True)]  # fmt: skip
    unit = duration_unit(v for v in values if isinstance(v, int | float))
    texts = [figure_text(s, row.path, row.format, unit) for s in summaries.values()]
    return texts, best_columns(among, row.best)


def _cells(summaries: Summaries, row: Row) -> list[str]:
    """Formatted values of ``row`` for each variant, the best marked in bold with ``*``."""
    texts, marked = marked_cells(summaries, row)
    return [f"[bold]{t}{MARK}[/bold]" if i in marked else t for i, t in enumerate(texts)]


def _replica_seconds(summary: dict[str, Any]) -> float:
    return sum(p.get("replica_seconds") or 0.0 for p in summary["consumers"].values())


def _cost(summary: dict[str, Any], priced: bool) -> float:
    """Money per day when the variants are priced, else replica-seconds."""
    return float(summary["cost"]["per_day"]) if priced else _replica_seconds(summary)


def cost_text(summary: dict[str, Any], priced: bool) -> str:
    """A variant's cost as a recommendation weighs it: money per day, else replica-seconds."""
    amount = format_number(_cost(summary, priced))
    if not priced:
        return f"{amount} replica-seconds"
    return f"{amount} {summary['cost']['currency']} per day"


def cheapest(summaries: Summaries, names: list[str]) -> tuple[str, bool]:
    """The cheapest of ``names`` and whether cost was money (else replica-seconds)."""
    priced = all(summaries[n].get("cost") for n in names)
    return min(names, key=lambda n: _cost(summaries[n], priced)), priced


def recommendation(summaries: Summaries, found: list[str] | None) -> str:
    """``the cheapest variant that meets every objective: X (cost), Y% below Z`` (the next
    cheapest that meets them), or why there is none; ``found``: the variants that meet every
    objective (:func:`meeting`)."""
    if found is None:
        return "No recommendation: no variant has an objective to judge (add an slo: section)."
    if not found:
        return "No variant meets every objective on its whole 95% interval."
    best, priced = cheapest(summaries, found)
    text = (
        f"The cheapest variant that meets every objective: {best}, at "
        f"{cost_text(summaries[best], priced)}"
    )
    others = [n for n in found if n != best]
    if not others:
        return f"{text}; it is the only one of {len(summaries)} that meets them all."
    runner, _ = cheapest(summaries, others)
    low, high = _cost(summaries[best], priced), _cost(summaries[runner], priced)
    below = f"{(high - low) / high:.0%} below {runner}" if high > 0 else f"as cheap as {runner}"
    return f"{text}, {below} (the next cheapest of the {len(found)} that meet them)."


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


def legend(found: list[str] | None) -> str:
    """What ``*`` and the intervals mean; ``found``: the variants meeting every objective (None
    when there is no objective)."""
    if found is None:
        return NO_OBJECTIVE_LEGEND
    if not found:
        return f"No * marks: no variant meets every objective. {INTERVAL_NOTE}"
    return LEGEND


def render_comparison(summaries: Summaries, console: Console | None = None) -> None:
    """Print the recommendation, the comparison table (laid out to fit the terminal) and its
    legend."""
    console = console or stdout_console()
    found = meeting(summaries)
    for piece in prose(console, recommendation(summaries, found)):
        console.print(piece)
    for part in fitted(console, comparison_table(summaries)):
        console.print(part)
    console.print(legend(found), markup=False)
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
