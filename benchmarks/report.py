"""Turn measurements into the benchmark's rows, its linearity check and a Markdown table.

Ratios are taken pair by pair: run k of qsim and run k of a baseline share the workload, size
and seed and ran one after the other, so ``qsim time / baseline time`` is computed per pair and
the median of those is reported. Below 1 means qsim is faster.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace

from benchmarks.measure import Measurement

__all__ = ["Linearity", "Row", "linearity", "markdown", "rows"]

LINEARITY_SLACK = 1.1
"""Issue 6: the 1M run may cost at most 5.5x the 200k run, i.e. 1.1x the ratio of sizes."""

REFERENCE = "qsim"

Key = tuple[str, int, str]  # workload, messages, model


@dataclass(frozen=True)
class Row:
    """One model on one workload at one size, over all its runs (or why it did not run)."""

    workload: str
    title: str
    messages: int
    model: str
    label: str
    runs: int = 0
    median_msgs_per_s: float | None = None
    min_msgs_per_s: float | None = None
    max_msgs_per_s: float | None = None
    median_seconds: float | None = None
    qsim_time_over_model_time: float | None = None  # median of run pairs; None for qsim itself
    peak_rss_mb: float | None = None  # the highest over runs, each in a fresh process
    mean_wait_s: float | None = None  # mean over runs
    exact_wait_s: float | None = None
    not_run: str = ""


@dataclass(frozen=True)
class Linearity:
    """How time grows with messages: median time at the largest size over the smallest."""

    workload: str
    model: str
    small: int
    large: int
    small_seconds: float
    large_seconds: float
    target: float

    @property
    def ratio(self) -> float:
        """Time at the large size over time at the small size."""
        return self.large_seconds / self.small_seconds

    @property
    def ok(self) -> bool:
        """Whether the ratio is within the target."""
        return self.ratio <= self.target


def _grouped(measurements: Iterable[Measurement]) -> dict[Key, list[Measurement]]:
    groups: dict[Key, list[Measurement]] = defaultdict(list)
    for m in measurements:
        groups[m.workload, m.messages, m.model].append(m)
    return groups


def _pair_ratio(ours: list[Measurement], theirs: list[Measurement]) -> float | None:
    by_seed = {m.seed: m.seconds for m in theirs}
    pairs = [m.seconds / by_seed[m.seed] for m in ours if m.seed in by_seed]
    return statistics.median(pairs) if pairs else None


def _mean(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.fmean(known) if known else None


def _row(
    base: Row, runs: list[Measurement], reference: list[Measurement], is_reference: bool
) -> Row:
    speeds = [m.msgs_per_s for m in runs]
    return replace(
        base,
        runs=len(runs),
        median_msgs_per_s=statistics.median(speeds),
        min_msgs_per_s=min(speeds),
        max_msgs_per_s=max(speeds),
        median_seconds=statistics.median(m.seconds for m in runs),
        qsim_time_over_model_time=None if is_reference else _pair_ratio(reference, runs),
        peak_rss_mb=max(m.peak_rss_mb for m in runs),
        mean_wait_s=_mean([m.mean_wait_s for m in runs]),
    )


def rows(
    measurements: Iterable[Measurement],
    plan: Iterable[Row],
) -> list[Row]:
    """Fill each planned row (workload, size, model, exact value) from its measurements."""
    groups = _grouped(measurements)
    filled = []
    for base in plan:
        runs = groups.get((base.workload, base.messages, base.model), [])
        if base.not_run or not runs:
            filled.append(base)
            continue
        reference = groups.get((base.workload, base.messages, REFERENCE), [])
        filled.append(_row(base, runs, reference, base.model == REFERENCE))
    return filled


def linearity(table: list[Row]) -> list[Linearity]:
    """For each workload and model that ran at two or more sizes: largest over smallest."""
    sizes: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for row in table:
        if row.median_seconds is not None:
            sizes[row.workload, row.label].append(row)
    checks = []
    for (_key, label), ran in sizes.items():
        small = min(ran, key=lambda r: r.messages)
        large = max(ran, key=lambda r: r.messages)
        if small.messages == large.messages:
            continue
        assert small.median_seconds is not None and large.median_seconds is not None
        target = LINEARITY_SLACK * large.messages / small.messages
        checks.append(
            Linearity(
                small.title, label, small.messages, large.messages,
                small.median_seconds, large.median_seconds, target,
            )
        )  # fmt: skip
    return checks


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g} s"


def _speed_line(row: Row) -> str:
    if row.not_run:
        return f"| {row.title} | {row.messages:,} | {row.label} | {row.not_run} | | | | |"
    assert row.median_msgs_per_s is not None and row.min_msgs_per_s is not None
    assert row.max_msgs_per_s is not None and row.peak_rss_mb is not None
    ratio = row.qsim_time_over_model_time
    return (
        f"| {row.title} | {row.messages:,} | {row.label} | {row.median_msgs_per_s:,.0f} "
        f"({row.min_msgs_per_s:,.0f}-{row.max_msgs_per_s:,.0f}) | "
        f"{'—' if ratio is None else f'{ratio:.2f}'} | {row.peak_rss_mb:,.0f} MB | "
        f"{_seconds(row.mean_wait_s)} | {_seconds(row.exact_wait_s)} |"
    )


def markdown(table: list[Row], checks: list[Linearity]) -> str:
    """The speed table and the linearity table, in Markdown."""
    lines = [
        "| workload | messages | model | msgs/s median (min-max) | qsim time / model time "
        "| peak RSS | mean wait | exact |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
        *(_speed_line(row) for row in table),
        "",
        "| workload | model | time, smaller run | time, larger run | ratio (target) |",
        "|---|---|---:|---:|---:|",
    ]
    for c in checks:
        lines.append(
            f"| {c.workload} | {c.model} | {c.small_seconds:.3g} s ({c.small:,}) | "
            f"{c.large_seconds:.3g} s ({c.large:,}) | {c.ratio:.2f} "
            f"({'<=' if c.ok else 'over'} {c.target:.3g}) |"
        )
    return "\n".join(lines) + "\n"
