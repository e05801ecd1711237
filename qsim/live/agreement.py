"""Simulated and live figures side by side, and whether each pair agrees within a band.

Each row is one figure of one queue. Its kind says how the two are compared:

- ``relative`` (times, rates): ``|live - sim| <= band.relative * |sim|``;
- ``level`` (backlogs) and ``count`` (redeliveries, dead-letterings): relative, or within
  ``band.absolute`` (a backlog of 0.2 against 0.4 messages is agreement, not a 100% miss);
- ``fraction`` (rejected, expired, dropped, as fractions of the messages published to the
  queue): ``|live - sim| <= band.points``, the difference in percentage points.

With two or more simulated replications a live figure also agrees when it lies in the 95%
prediction interval of one more replication, ``mean +- h * sqrt(n + 1)`` where ``h`` is the
half-width of the mean's Student-t interval over ``n`` replications (the live run is one run, so
it scatters as one replication does, not as their mean).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from qsim.summary import lookup

__all__ = ["KINDS", "QUEUE_FIGURES", "Band", "Row", "Sides", "agreement_rows", "one_run_interval"]


@dataclass(frozen=True)
class Band:
    """How far live may be from simulated and still agree."""

    relative: float = 0.15
    points: float = 0.03
    absolute: float = 1.0

    def describe(self) -> str:
        """The band in words, for the report."""
        return (
            f"times, rates, counts and backlogs within {self.relative:.0%} "
            f"(backlogs and counts also within {self.absolute:g}); "
            f"fractions within {self.points * 100:g} points; or, with simulated replications, "
            "inside one run's 95% range"
        )


def _relative(sim: float, live: float, band: Band) -> bool:
    return abs(live - sim) <= band.relative * abs(sim)


def _level(sim: float, live: float, band: Band) -> bool:
    return _relative(sim, live, band) or abs(live - sim) <= band.absolute


def _points(sim: float, live: float, band: Band) -> bool:
    return abs(live - sim) <= band.points + 1e-12


KINDS: dict[str, Callable[[float, float, Band], bool]] = {
    "relative": _relative,
    "level": _level,
    "count": _level,
    "fraction": _points,
}
"""How two figures of each kind are judged."""

QUEUE_FIGURES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("latency mean", ("latency_s", "mean"), "relative"),
    ("latency p50", ("latency_s", "p50"), "relative"),
    ("latency p95", ("latency_s", "p95"), "relative"),
    ("latency p99", ("latency_s", "p99"), "relative"),
    ("wait mean", ("wait_s", "mean"), "relative"),
    ("wait p95", ("wait_s", "p95"), "relative"),
    ("throughput/s", ("throughput_per_s",), "relative"),
    ("backlog mean", ("backlog", "mean"), "level"),
    ("backlog max", ("backlog", "max"), "level"),
    ("rejected", ("rejected",), "fraction"),
    ("expired", ("expired",), "fraction"),
    ("dropped", ("dropped",), "fraction"),
    ("dead-lettered", ("dead_lettered",), "count"),
    ("redelivered", ("redelivered",), "count"),
    ("receives", ("lease", "receives"), "count"),
    ("empty receives", ("lease", "empty_receives"), "count"),
    ("received", ("lease", "received"), "count"),
    ("deleted", ("lease", "deleted"), "count"),
    ("duplicates", ("lease", "duplicates"), "count"),
    ("redelivered msgs", ("lease", "redelivered"), "count"),
    ("lease expiries", ("lease", "lease_expiries"), "count"),
    ("exhausted", ("lease", "exhausted"), "count"),
)
"""Rows per queue: label, path under the queue's figures, kind (the ``lease`` rows only for
lease queues, whose figures have that block)."""


@dataclass(frozen=True)
class Row:
    """One figure of one queue: both values, their difference and whether they agree.
    ``difference`` is relative for most kinds, in fraction points for ``fraction``."""

    queue: str
    figure: str
    kind: str
    simulated: float
    live: float
    difference: float | None
    agrees: bool
    one_run: tuple[float, float] | None = None

    def to_json(self) -> dict[str, Any]:
        """The row as a JSON object."""
        return asdict(self)


def _value(figures: dict[str, Any], path: tuple[str, ...], kind: str) -> float | None:
    value = lookup(figures, path)
    if value is None:
        return None
    if kind != "fraction":
        return float(value)
    published = figures.get("published")
    return float(value) / published if published else None


def _difference(sim: float, live: float, kind: str) -> float | None:
    if kind == "fraction":
        return live - sim
    return (live - sim) / abs(sim) if sim else None


def one_run_interval(
    mean: float, interval: list[float] | None, replications: int
) -> tuple[float, float] | None:
    """The 95% prediction interval of one more replication, from the mean's interval."""
    if not interval or replications < 2:
        return None
    half = (interval[1] - interval[0]) / 2 * math.sqrt(replications + 1)
    return (mean - half, mean + half)


@dataclass(frozen=True)
class Sides:
    """One queue's figures: simulated (with intervals, if replicated) and live."""

    simulated: dict[str, Any]
    intervals: dict[str, Any]
    replications: int
    live: dict[str, Any]


def _row(queue: str, sides: Sides, figure: Any, band: Band) -> Row | None:
    label, path, kind = figure
    simulated, measured = _value(sides.simulated, path, kind), _value(sides.live, path, kind)
    if simulated is None or measured is None or simulated == measured == 0:
        return None
    one_run = None
    if kind != "fraction":
        one_run = one_run_interval(simulated, lookup(sides.intervals, path), sides.replications)
    agrees = KINDS[kind](simulated, measured, band) or (
        one_run is not None and one_run[0] <= measured <= one_run[1]
    )
    difference = _difference(simulated, measured, kind)
    return Row(queue, label, kind, simulated, measured, difference, agrees, one_run)


def agreement_rows(
    simulated: dict[str, Any], live: dict[str, Any], band: Band = Band()
) -> list[Row]:
    """Rows for every figure both sides have (and not both zero), queue by queue, from a run
    summary (its ``queues`` and ``ci95``) and the live figures."""
    rows = []
    intervals = (simulated.get("ci95") or {}).get("queues") or {}
    for queue, sim_figures in simulated["queues"].items():
        sides = Sides(
            sim_figures, intervals.get(queue) or {}, simulated.get("replications", 1),
            live["queues"].get(queue, {}),
        )  # fmt: skip
        for figure in QUEUE_FIGURES:
            row = _row(queue, sides, figure, band)
            if row is not None:
                rows.append(row)
    return rows
