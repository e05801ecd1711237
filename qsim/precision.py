"""Replications until the headline figures are precise enough (``--precision 5%``).

Like JMT's stopping on confidence-interval width, qsim runs replications in batches until the
95% Student-t half-width of every headline figure is within ``target`` times its mean, or
``max_replications`` have run. The headline figures are, per queue, mean and p99 latency,
throughput and mean backlog, and per consumer pool its utilization. A figure near zero has no
meaningful relative precision, so each kind has an absolute floor: a half-width up to the floor
always counts as precise (1 ms for latencies, 0.001 per second for throughput, 0.1 message for
backlog, 0.001 for utilization). A figure missing in some replication (a queue where nothing
completed) cannot have an interval and is listed as excluded.

The first check comes after ``max(replications, MIN_START)`` replications (fewer make the
interval itself unreliable). Each further batch is sized from the worst figure: a half-width
shrinks as ``1/sqrt(n)``, so ``n * ratio^2`` replications would reach it, and a batch adds that
many more, at least one and at most doubling the count. The batches depend only on the figures,
never on the number of workers, and replication ``r`` always draws from the same random streams
(:mod:`qsim.streams`), so a run that stops at ``n`` replications gives exactly the summary of a
fixed run of ``n``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from qsim.errors import QsimError
from qsim.stats import mean_interval

__all__ = [
    "DEFAULT_MAX",
    "HEADLINES",
    "LEVEL",
    "MIN_START",
    "Precision",
    "assess",
    "next_batch",
    "parse_precision",
    "until_precise",
]

LEVEL = 0.95
"""Confidence level of the intervals the target applies to."""

MIN_START = 10
"""Replications run before the first check."""

DEFAULT_MAX = 200
"""Replications at most, unless ``--max-replications`` says otherwise."""

Figures = dict[str, Any]
Path = tuple[str, ...]

HEADLINES: dict[str, dict[Path, float]] = {
    "queues": {
        ("latency_s", "mean"): 1e-3,
        ("latency_s", "p99"): 1e-3,
        ("throughput_per_s",): 1e-3,
        ("backlog", "mean"): 0.1,
    },
    "consumers": {("utilization",): 1e-3},
}
"""Headline figures by summary section, each with its absolute floor (in the figure's unit)."""


@dataclass(frozen=True)
class Precision:
    """Stop when every headline half-width is within ``target`` (a fraction, 0.05 for 5%) of
    its figure, or after ``max_replications``."""

    target: float
    max_replications: int = DEFAULT_MAX

    def __post_init__(self) -> None:
        if not 0 < self.target < 1:
            raise QsimError(f"precision must be between 0 and 100%, got {self.target:g}")
        if self.max_replications < 2:
            raise QsimError("max replications must be at least 2 to have an interval")

    def start(self, replications: int) -> int:
        """Replications before the first check, for a scenario asking for ``replications``."""
        return min(max(replications, MIN_START), self.max_replications)


def parse_precision(text: str) -> float:
    """``5%`` or ``0.05`` -> 0.05; anything else, or outside (0, 1), is a :class:`QsimError`."""
    raw = text.strip()
    percent = raw.endswith("%")
    try:
        value = float(raw.removesuffix("%")) / (100 if percent else 1)
    except ValueError:
        message = f"precision: expected a percentage such as 5% or 0.05, got {text!r}"
        raise QsimError(message) from None
    if not 0 < value < 1 or not math.isfinite(value):
        raise QsimError(f"precision: expected more than 0% and less than 100%, got {text!r}")
    return value


def _value(figures: Figures, path: Path) -> Any:
    for key in path:
        figures = figures[key]
    return figures


def _headline_values(figures: Sequence[Figures]) -> dict[str, tuple[list[Any], float]]:
    """Every headline figure's per-replication values and floor, by dotted path."""
    values: dict[str, tuple[list[Any], float]] = {}
    for section, headlines in HEADLINES.items():
        for name in figures[0][section]:
            for path, floor in headlines.items():
                per_replication = [_value(f[section][name], path) for f in figures]
                values[".".join((section, name, *path))] = (per_replication, floor)
    return values


def assess(figures: Sequence[Figures], target: float) -> dict[str, Any]:
    """Each headline figure's mean, 95% half-width, its ratio to the mean, and whether it is
    within ``target`` (or the floor); figures without an interval are ``excluded``."""
    assessed: dict[str, Any] = {}
    excluded = []
    for path, (values, floor) in _headline_values(figures).items():
        mean, interval = mean_interval(values, LEVEL)
        if mean is None or interval is None:
            excluded.append(path)
            continue
        half = (interval[1] - interval[0]) / 2
        allowed = max(target * abs(mean), floor)
        assessed[path] = {
            "mean": mean,
            "half_width": half,
            "half_width_ratio": half / abs(mean) if mean else None,
            "allowed_half_width": allowed,
            "reached": half <= allowed,
        }
    return {"figures": assessed, "excluded": excluded}


def next_batch(done: int, assessed: dict[str, Any], max_replications: int) -> int:
    """How many replications to add: enough for the worst figure by the ``1/sqrt(n)`` law,
    at least one, at most ``done`` (doubling) and never past ``max_replications``."""
    worst = max(
        (f["half_width"] / f["allowed_half_width"] for f in assessed["figures"].values()),
        default=1.0,
    )
    wanted = math.ceil(done * worst**2) - done
    return max(0, min(max(wanted, 1), done, max_replications - done))


def until_precise(
    precision: Precision, start: int, run: Callable[[range], list[Figures]]
) -> tuple[list[Figures], dict[str, Any]]:
    """Run replications ``0..start-1`` with ``run``, then further batches until ``precision``
    holds; return every replication's figures and the summary's ``precision`` section."""
    figures = run(range(start))
    checked = []
    while True:
        report = assess(figures, precision.target)
        checked.append(len(figures))
        reached = all(f["reached"] for f in report["figures"].values())
        step = 0 if reached else next_batch(len(figures), report, precision.max_replications)
        if step == 0:
            break
        figures += run(range(len(figures), len(figures) + step))
    section = {
        "target": precision.target,
        "level": LEVEL,
        "reached": reached,
        "replications": len(figures),
        "max_replications": precision.max_replications,
        "checked_at": checked,
        **report,
    }
    return figures, section
