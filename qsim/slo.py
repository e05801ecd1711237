"""SLO expressions: ``"p99 latency < 2s"``, read against a run summary.

An expression is ``[STATISTIC] METRIC OP VALUE``:

- ``METRIC`` is looked up in :data:`METRICS`, which says where its figure lives in the JSON
  summary (under the searched pool's queue or under the pool itself), which statistics it takes
  and how its value is written;
- ``STATISTIC`` is required for latency, wait and backlog (``mean``, ``p50`` ... ``max``, see
  each metric) and absent for utilization and throughput;
- ``OP`` is ``<``, ``<=``, ``>`` or ``>=``: an SLO is a bound, so ``=`` is refused;
- ``VALUE`` is a duration (``2s``, ``500ms``), a count (``1000``), a fraction (``0.8`` or
  ``80%``) or a rate (``50/s``), as the metric says.

Examples: ``p99 latency < 2s``, ``p95 wait <= 500ms``, ``mean latency < 1s``,
``max backlog < 1000``, ``mean backlog < 200``, ``utilization < 0.8``, ``throughput >= 20/s``.

A summary figure is a mean over replications with a 95% interval; :meth:`Objective.verdict`
decides on the conservative side: an upper bound is met only if the interval's upper end meets
it, failed if its lower end fails it, and undecided (None) when the interval straddles it.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from qsim.errors import QsimError, known_hint, one_line
from qsim.scenario import Slo
from qsim.summary import figure_at
from qsim.units import UnitError, parse_duration, parse_rate

__all__ = ["METRICS", "OPERATORS", "Metric", "Objective", "SloError", "parse_slo", "scenario_slo"]

EXAMPLE = "e.g. 'p99 latency < 2s'"


class SloError(QsimError):
    """An SLO expression that cannot be read: which one, and what was expected."""


def _count(text: str) -> float:
    value = float(text)
    if value < 0:
        raise ValueError(text)
    return value


def _fraction(text: str) -> float:
    value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    if not 0 <= value <= 1:
        raise ValueError(text)
    return value


@dataclass(frozen=True)
class Metric:
    """Where a metric's figure lives in the summary and how its bound is written.

    ``owner`` is the summary section (``queues``: the pool's queue, ``consumers``: the pool);
    ``key`` the path under that entry, to which the statistic's key is appended;
    ``stats`` maps statistic names to their summary keys (empty: the metric takes none);
    ``falls`` says whether more replicas lower the figure (latency) or raise it (throughput).
    """

    owner: str
    key: tuple[str, ...]
    stats: dict[str, str]
    parse: Callable[[str], float]
    expected: str
    unit: str
    doc: str
    falls: bool = True


DISTRIBUTION_STATS = {
    "mean": "mean",
    "median": "p50",
    "p50": "p50",
    "p90": "p90",
    "p95": "p95",
    "p99": "p99",
    "p99.9": "p999",
    "p999": "p999",
    "max": "max",
}
"""Statistics of latency and wait, by the name written in an SLO -> their summary key."""

DURATION = "a duration such as 2s or 500ms"
METRICS: dict[str, Metric] = {
    "latency": Metric(
        "queues", ("latency_s",), DISTRIBUTION_STATS, parse_duration, DURATION, "s",
        "publish -> ack of the pool's queue's messages",
    ),
    "wait": Metric(
        "queues", ("wait_s",), DISTRIBUTION_STATS, parse_duration, DURATION, "s",
        "publish -> processing starts",
    ),
    "backlog": Metric(
        "queues", ("backlog",), {"mean": "mean", "max": "max"}, _count,
        "a message count such as 1000", "msgs", "ready messages in the pool's queue",
    ),
    "utilization": Metric(
        "consumers", ("utilization",), {}, _fraction, "a fraction such as 0.8 or 80%", "",
        "busy fraction of the pool's workers",
    ),
    "throughput": Metric(
        "queues", ("throughput_per_s",), {}, parse_rate, "a rate such as 20/s", "/s",
        "acks per second of the pool's queue", falls=False,
    ),
}  # fmt: skip
"""SLO metrics by name."""

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
"""Comparisons an SLO may use: each is a bound."""

_SHAPE = re.compile(r"^\s*(?P<left>.*?)\s*(?P<op><=|>=|==|=<|=>|!=|<|>|=)\s*(?P<value>.*?)\s*$")


@dataclass(frozen=True)
class Objective:
    """A parsed SLO: ``stat`` (or None) of ``metric`` compared by ``op`` with ``threshold``."""

    text: str
    metric: str
    stat: str | None
    op: str
    threshold: float

    @property
    def upper_bound(self) -> bool:
        """Whether the figure must stay below the threshold (``<``, ``<=``)."""
        return self.op in ("<", "<=")

    @property
    def helped_by_replicas(self) -> bool:
        """Whether more replicas make the bound easier to meet (``latency <``, ``throughput >``),
        as a capacity search needs."""
        return self.upper_bound == METRICS[self.metric].falls

    def path(self, queue: str, pool: str) -> tuple[str, ...]:
        """The key path of this SLO's figure in a run summary (and in its ``ci95`` mirror)."""
        metric = METRICS[self.metric]
        owner = queue if metric.owner == "queues" else pool
        stat = (metric.stats[self.stat],) if self.stat else ()
        return (metric.owner, owner, *metric.key, *stat)

    def holds(self, value: float) -> bool:
        """Whether ``value`` meets the bound."""
        return OPERATORS[self.op](value, self.threshold)

    def verdict(self, value: float | None, interval: Sequence[float] | None) -> bool | None:
        """Met (True), failed (False) or undecided (None), on the conservative side of the
        interval; without an interval, the value alone decides. No value (no message
        completed) fails."""
        if value is None:
            return False
        if not interval:
            return self.holds(value)
        low, high = interval
        worst, best = (high, low) if self.upper_bound else (low, high)
        if self.holds(worst):
            return True
        return None if self.holds(best) else False

    def read(self, summary: dict[str, Any], queue: str, pool: str) -> tuple[Any, Any]:
        """This SLO's figure in ``summary`` and its 95% interval (None where absent)."""
        path = self.path(queue, pool)
        return figure_at(summary, path)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form: the expression and its parts."""
        return {
            "slo": self.text,
            "metric": self.metric,
            "stat": self.stat,
            "op": self.op,
            "threshold": self.threshold,
            "unit": METRICS[self.metric].unit,
        }


def _error(text: str, message: str) -> SloError:
    return SloError(one_line(f"SLO {text!r}: {message}"))


def _metric_and_stat(text: str, left: str) -> tuple[str, str | None]:
    words = left.lower().split()
    if not 1 <= len(words) <= 2:
        raise _error(text, f"expected [STATISTIC] METRIC before the comparison, {EXAMPLE}")
    name, stat = words[-1], (words[0] if len(words) == 2 else None)
    if name not in METRICS:
        raise _error(text, f"unknown metric {name!r}{known_hint(name, list(METRICS))}")
    stats = METRICS[name].stats
    if stat is None and stats:
        raise _error(text, f"{name} needs a statistic first, one of: {', '.join(stats)}")
    if stat is not None and not stats:
        raise _error(text, f"{name} takes no statistic, got {stat!r}")
    if stat is not None and stat not in stats:
        raise _error(text, f"unknown statistic {stat!r} of {name}{known_hint(stat, list(stats))}")
    return name, stat


def parse_slo(text: str) -> Objective:
    """Read an SLO expression; a malformed one raises :class:`SloError` naming it."""
    match = _SHAPE.match(text)
    if not text.strip() or match is None:
        raise _error(text, f"expected [STATISTIC] METRIC OP VALUE, {EXAMPLE}")
    op = match["op"]
    if op not in OPERATORS:
        raise _error(text, f"expected a bound <, <=, > or >= (got {op!r}), {EXAMPLE}")
    name, stat = _metric_and_stat(text, match["left"])
    metric = METRICS[name]
    try:
        threshold = metric.parse(match["value"])
    except (UnitError, ValueError):
        raise _error(text, f"expected {metric.expected}, got {match['value']!r}") from None
    return Objective(text.strip(), name, stat, op, threshold)


def scenario_slo(slo: Slo | None, queue: str) -> list[Objective]:
    """The latency SLO of a scenario's ``slo:`` section for ``queue`` as an expression (none if
    absent, if it does not cover ``queue``, or if its percentile is not one the summary
    reports)."""
    if slo is None or not slo.covers(queue):
        return []
    stat = f"p{slo.percentile:g}"
    if stat not in DISTRIBUTION_STATS:
        return []
    return [parse_slo(f"{stat} latency <= {slo.latency:g}s")]
