"""Publish times: a piecewise-constant rate schedule, and whether Poisson arrivals are plausible.

Numbers below :data:`CLOCK_FROM` are seconds since the scenario starts, as in ``trace:`` files,
so the schedule starts at 0. ISO-8601 times and larger numbers (Unix times) are clock times: the
schedule starts at the start of the interval holding the first publish, intervals aligned to
multiples of the interval (``1m`` intervals start on whole minutes of the clock).
The last interval counts only if the last publish falls in its final :data:`COMPLETE` fraction;
otherwise the data stopped partway through it and its publishes are left out. Each interval
gives one ``schedule:`` step at its mean rate.

Poisson within each step (what a qsim schedule simulates) is judged by the index of dispersion:
each interval is cut into :data:`SUB_BINS` equal bins, and for Poisson arrivals at a constant
rate the sum over intervals of ``sum_j (c_j - mean)^2 / mean`` is chi-square distributed with
``SUB_BINS - 1`` degrees of freedom per interval. Far above 1 the arrivals are bursty, far below
they are more regular than Poisson. The cv of interarrival times, each multiplied by its
interval's rate (time rescaling: unit exponentials for Poisson arrivals), is about 1 for Poisson.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from typing import Any

import numpy as np
from scipy import stats

from qsim.errors import QsimError
from qsim.fit.measurements import Column
from qsim.fit.mmpp import fit_mmpp
from qsim.fit.snippet import scenario_duration

__all__ = [
    "ALPHA",
    "CLOCK_FROM",
    "MAX_INTERVALS",
    "SUB_BINS",
    "check_times",
    "fit_arrivals",
    "parse_time",
]

ALPHA = 0.05
"""Poisson is called implausible when the dispersion test's two-sided p-value is below this."""
MAX_INTERVALS = 100_000
"""More schedule steps than this are a mistaken --interval (and would exhaust memory)."""
SUB_BINS = 10
"""Bins per interval for the index of dispersion."""
CLOCK_FROM = 1e9
"""Times from this many seconds on (2001 as Unix time) are clock times, not time since a start."""
COMPLETE = 0.01
"""The last interval counts if the last publish is this close to its end (a fraction of it)."""


def parse_time(cell: str, seconds_per_unit: float = 1.0) -> float:
    """Seconds from a number (in units of ``seconds_per_unit`` seconds) or an ISO-8601 time
    (since the epoch; UTC when it names no zone). Raises ValueError for anything else."""
    try:
        return float(cell) * seconds_per_unit
    except ValueError:
        moment = dt.datetime.fromisoformat(cell)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


def check_times(column: Column) -> None:
    """Publish times must not be negative, must be in order, and must be at least two."""
    for index, value in enumerate(column.values):
        if value < 0:
            raise QsimError(f"{column.where(index)}: publish times must not be negative")
    for index, (a, b) in enumerate(itertools.pairwise(column.values), start=1):
        if b < a:
            raise QsimError(
                f"{column.where(index)}: publish time earlier than the line before; sort the file"
            )
    if len(column.values) < 2:
        raise QsimError(f"{column.path}: one publish time only; a rate needs at least two")


def _rate(count: int, interval: float) -> str:
    """``count`` publishes per ``interval`` seconds as a scenario rate, per minute (per hour for
    intervals of an hour or more), so whole-second intervals give exact whole numbers."""
    size, unit = (3600.0, "h") if interval >= 3600 else (60.0, "min")
    return f"{count * size / interval:.6g}/{unit}"


def _at(seconds: float) -> str:
    """A step's start in the largest unit that writes it exactly: ``0s``, ``90s``, ``5m``."""
    for size, unit in ((3600.0, "h"), (60.0, "m")):
        if seconds and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:.6g}s"


def _schedule(counts: np.ndarray, interval: float) -> list[dict[str, str]]:
    """One step per interval, merging neighbours with the same count."""
    steps: list[dict[str, str]] = []
    previous = None
    for index, count in enumerate(counts.tolist()):
        if count != previous:
            steps.append({"at": _at(index * interval), "rate": _rate(count, interval)})
        previous = count
    return steps


def _dispersion(
    times: np.ndarray, origin: float, interval: float, whole: int
) -> dict[str, Any] | None:
    """Pooled index of dispersion of sub-bin counts within each interval, with its test. Only
    intervals with at least one publish per bin on average count; None if there are none."""
    edges = origin + np.arange(whole * SUB_BINS + 1) * (interval / SUB_BINS)
    counts = np.histogram(times, edges)[0].reshape(whole, SUB_BINS).astype(float)
    means = counts.mean(axis=1, keepdims=True)
    busy = means[:, 0] >= 1
    if not busy.any():
        return None
    statistic = float((((counts - means) ** 2)[busy] / means[busy]).sum())
    dof = int(busy.sum()) * (SUB_BINS - 1)
    p = min(1.0, 2 * min(stats.chi2.sf(statistic, dof), stats.chi2.cdf(statistic, dof)))
    return {
        "index": statistic / dof,
        "chi_square": statistic,
        "dof": dof,
        "p_value": float(p),
        "intervals_tested": int(busy.sum()),
    }


def _rescaled_cv(
    times: np.ndarray, origin: float, interval: float, rates: np.ndarray
) -> float | None:
    """cv of gaps between publishes in the same interval, each times that interval's rate."""
    slot = np.floor((times - origin) / interval).astype(int)
    same = slot[1:] == slot[:-1]
    gaps = np.diff(times)[same] * rates[slot[1:][same]]
    return float(gaps.std() / gaps.mean()) if len(gaps) > 1 and gaps.mean() > 0 else None


def _verdict(dispersion: dict[str, Any] | None) -> str:
    if dispersion is None:
        return "too few publishes"
    if dispersion["p_value"] >= ALPHA:
        return "plausible"
    return "bursty" if dispersion["index"] > 1 else "too regular"


def fit_arrivals(column: Column, interval: float) -> dict[str, Any]:
    """A rate schedule in ``interval``-second steps from publish times in seconds (read with
    :func:`parse_time`), and the Poisson check; JSON-ready."""
    check_times(column)
    times = np.asarray(column.values, dtype=float)
    origin = math.floor(times[0] / interval) * interval if times[0] >= CLOCK_FROM else 0.0
    whole = int((times[-1] - origin) // interval)
    if origin + (whole + 1) * interval - times[-1] <= interval * COMPLETE:
        whole += 1  # the data end (just) at the end of that interval: it is whole
    if whole < 1:
        raise QsimError(
            f"{column.path}: publishes span {scenario_duration(times[-1] - times[0])}, less than "
            f"one interval ({scenario_duration(interval)}); choose a shorter --interval"
        )
    if whole > MAX_INTERVALS:
        raise QsimError(
            f"{column.path}: {whole:,} intervals of {scenario_duration(interval)}, more than "
            f"{MAX_INTERVALS:,}; choose a longer --interval"
        )
    kept = times[times < origin + whole * interval]
    counts = np.histogram(kept, origin + np.arange(whole + 1) * interval)[0]
    rates = counts / interval
    dispersion = _dispersion(kept, origin, interval, whole)
    verdict = _verdict(dispersion)
    steps = _schedule(counts, interval)
    return {
        "file": str(column.path),
        "count": len(times),
        "origin": origin,
        "interval": interval,
        "intervals": whole,
        "left_out": len(times) - len(kept),
        "rates": rates.tolist(),
        "mean_rate": float(counts.sum() / (whole * interval)),
        "dispersion": dispersion,
        "interarrival_cv": _rescaled_cv(kept, origin, interval, rates),
        "sub_bins": SUB_BINS,
        "alpha": ALPHA,
        "poisson": verdict,
        "schedule": steps,
        "mmpp": fit_mmpp(np.diff(kept)),
        "snippet": "schedule:\n"
        + "".join(f"  - {{at: {s['at']}, rate: {s['rate']}}}\n" for s in steps),
    }
