"""Bursty, batch and smoothly time-varying arrival processes of a producer.

- :class:`Mmpp`: a Markov-modulated Poisson process. The producer moves between states, stays
  in each an exponential time of mean ``mean_stay``, publishes as a Poisson process at the
  state's ``rate`` meanwhile, and on leaving picks the next state from its row of
  ``transitions`` (without one: any other state, equally likely; with two states, on and off
  alternate). It starts in a state drawn from the stationary distribution, so its rate is
  stationary from time 0 (Fischer & Meier-Hellstern, "The Markov-modulated Poisson process
  (MMPP) cookbook", 1993).
- :class:`Profile`: a rate that changes linearly between points (``points``, or the rows
  ``time,rate`` of a CSV ``file``), repeated every ``period`` if given (a daily profile),
  simulated exactly as a non-homogeneous Poisson process by thinning (Lewis & Shedler 1979).
- ``batch``: at each arrival instant the producer publishes a whole number of messages drawn
  from a distribution (:func:`check_batch`), as a checkout publishing 5 events at once.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import BeforeValidator, Field, ValidationInfo, field_validator, model_validator

from qsim.distributions import Distribution
from qsim.files import read_text_file
from qsim.spec import Duration, OrBareValue, PositiveDuration, Probability, Rate, Spec, fail
from qsim.units import UnitError, parse_duration, parse_rate

__all__ = [
    "Mmpp",
    "MmppSpec",
    "MmppState",
    "Profile",
    "ProfilePoint",
    "ProfileSpec",
    "check_batch",
    "smallest_whole",
]

ROW_TOLERANCE = 1e-9
"""How far a row of a transition matrix may sum from 1 (rounding of decimal fractions)."""

Segment = tuple[float, float, float, float]
"""A piece of a rate profile: start, end (seconds), rate at the start and at the end (/s)."""


class MmppState(Spec):
    """One state of an MMPP: Poisson arrivals at ``rate`` for an exponential stay of mean
    ``mean_stay``."""

    rate: Rate
    mean_stay: PositiveDuration


class Mmpp(Spec):
    """A Markov-modulated Poisson process (see the module doc); ``transitions[i][j]`` is the
    probability that leaving state ``i`` enters state ``j`` (rows sum to 1, diagonal 0)."""

    states: tuple[MmppState, ...]
    transitions: tuple[tuple[Probability, ...], ...] | None = None

    @field_validator("states")
    @classmethod
    def _two_or_more(cls, states: tuple[MmppState, ...]) -> tuple[MmppState, ...]:
        if len(states) < 2:
            raise fail("an mmpp needs at least two states (with one, give its rate as rate)")
        return states

    @model_validator(mode="after")
    def _valid_matrix(self) -> Mmpp:
        if self.transitions is None:
            return self
        n = len(self.states)
        if len(self.transitions) != n:
            raise fail(
                f"expected {n} rows, one per state, got {len(self.transitions)}", ("transitions",)
            )
        for i, row in enumerate(self.transitions):
            if len(row) != n:
                raise fail(
                    f"expected {n} probabilities, one per state, got {len(row)}", ("transitions", i)
                )
            if abs(math.fsum(row) - 1.0) > ROW_TOLERANCE:
                raise fail(f"row {i} sums to {math.fsum(row):g}, not 1", ("transitions", i))
            if row[i] != 0:
                raise fail(
                    f"row {i}: a state cannot move to itself (give a longer mean_stay)",
                    ("transitions", i),
                )
        if not _irreducible(self.jumps):
            raise fail("every state must be reachable from every other", ("transitions",))
        return self

    @property
    def jumps(self) -> np.ndarray:
        """The jump matrix: where leaving each state goes."""
        if self.transitions is not None:
            return np.array(self.transitions, dtype=float)
        n = len(self.states)
        return (np.ones((n, n)) - np.eye(n)) / (n - 1)

    @property
    def generator(self) -> np.ndarray:
        """The generator Q of the modulating chain (rows sum to 0)."""
        leave = np.array([1.0 / s.mean_stay for s in self.states])
        return leave[:, None] * (self.jumps - np.eye(len(self.states)))

    @property
    def rates(self) -> np.ndarray:
        """Each state's arrival rate (messages per second)."""
        return np.array([s.rate for s in self.states])

    @property
    def stationary(self) -> np.ndarray:
        """The long-run fraction of time in each state (pi Q = 0, sum 1)."""
        q = self.generator
        n = len(self.states)
        system = np.vstack([q.T, np.ones(n)])
        rhs = np.zeros(n + 1)
        rhs[-1] = 1.0
        return np.asarray(np.linalg.lstsq(system, rhs, rcond=None)[0], dtype=float)

    @property
    def mean_rate(self) -> float:
        """The long-run arrival rate: sum of pi_i rate_i."""
        return float(self.stationary @ self.rates)

    @property
    def dispersion(self) -> float:
        """The asymptotic index of dispersion of counts, lim Var N(t) / E N(t):
        ``1 + 2 pi L D L 1 / mean_rate`` with L the rates on a diagonal and D the deviation
        matrix ``(1 pi - Q)^-1 - 1 pi`` (the MMPP cookbook); 1 for a Poisson process."""
        pi, lam = self.stationary, self.rates
        if self.mean_rate <= 0:
            return 1.0
        limit = np.outer(np.ones(len(pi)), pi)
        deviation = np.linalg.inv(limit - self.generator) - limit
        return float(1.0 + 2.0 * (pi * lam) @ deviation @ lam / self.mean_rate)

    def scaled(self, factor: float) -> Mmpp:
        """The same process with every state's rate times ``factor`` (stays unchanged)."""
        states = tuple(s.model_copy(update={"rate": s.rate * factor}) for s in self.states)
        return self.model_copy(update={"states": states})


def _irreducible(jumps: np.ndarray) -> bool:
    """Whether every state reaches every other through positive jump probabilities."""
    reach = (jumps > 0) | np.eye(len(jumps), dtype=bool)
    for _ in range(len(jumps)):
        reach = reach | ((reach.astype(int) @ reach.astype(int)) > 0)
    return bool(reach.all())


def _states_only(value: Any) -> Any:
    """A bare list of states is an MMPP with the default transitions."""
    return {"states": value} if isinstance(value, list | tuple) else value


MmppSpec = Annotated[
    Mmpp,
    BeforeValidator(_states_only),
    OrBareValue({"type": "array", "minItems": 2, "items": {"type": "object"}}),
]
"""An ``mmpp:`` value: a mapping of ``states`` (and ``transitions``), or the list of states."""


class ProfilePoint(Spec):
    """At ``at`` (since the scenario start) the rate is ``rate``; linear to the next point."""

    at: Duration
    rate: Rate


def _read_profile(path: Path) -> list[dict[str, float]]:
    """Points from the rows ``time,rate`` of a CSV (units allowed, e.g. ``6h,120/s``; a first
    line that is not a point is a header; ``#`` starts a comment line)."""
    points: list[dict[str, float]] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            cells = [cell.strip() for cell in line.split(",")]
            if not cells[0] or cells[0].startswith("#"):
                continue
            try:
                if len(cells) != 2:
                    raise UnitError("expected two columns")
                point = {"at": parse_duration(cells[0]), "rate": parse_rate(cells[1])}
            except UnitError:
                if not points and number == 1:
                    continue  # a header
                raise fail(
                    f"{path}:{number}: expected time,rate (e.g. 6h,120/s), got {line.strip()!r}"
                ) from None
            if not (math.isfinite(point["at"]) and math.isfinite(point["rate"])):
                raise fail(
                    f"{path}:{number}: expected a finite time and rate, got {line.strip()!r}"
                )
            if points and point["at"] <= points[-1]["at"]:
                after = f"{points[-1]['at']:g}s"
                raise fail(f"{path}:{number}: times must increase, got {cells[0]!r} after {after}")
            points.append(point)
    if not points:
        raise fail(f"{path}: no time,rate rows found")
    return points


class Profile(Spec):
    """A piecewise-linear rate: ``points`` (or a CSV ``file`` of them), no arrivals before the
    first, the last rate held after the last; with ``period``, repeated every ``period``
    seconds (the last point joins the first one period later)."""

    points: tuple[ProfilePoint, ...] = ()
    file: str | None = Field(default=None, exclude=True)  # read into points at load time
    period: PositiveDuration | None = None

    @model_validator(mode="before")
    @classmethod
    def _load_file(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, dict) or data.get("file") is None:
            return data
        if "points" in data:
            raise fail("give either points or file, not both")
        base = Path((info.context or {}).get("base_dir", "."))
        points = read_text_file(base / str(data["file"]), _read_profile)
        return {**{k: v for k, v in data.items() if k != "file"}, "points": points}

    @field_validator("points")
    @classmethod
    def _increasing(cls, points: tuple[ProfilePoint, ...]) -> tuple[ProfilePoint, ...]:
        for i, (a, b) in enumerate(itertools.pairwise(points), start=1):
            if b.at <= a.at:
                raise fail("points must be in increasing order of 'at'", (i, "at"))
        return points

    @model_validator(mode="after")
    def _within_period(self) -> Profile:
        if not self.points:
            raise fail("a profile needs at least one point (points, or a CSV file of them)")
        if self.period is not None and self.points[-1].at >= self.period:
            at = self.points[-1].at
            raise fail(f"every point must lie within the period ({self.period:g}s), got at {at:g}s")
        return self

    @property
    def peak(self) -> float:
        """The highest rate the profile reaches."""
        return max(p.rate for p in self.points)

    def segments(self) -> Iterator[Segment]:
        """The linear pieces in time order from 0, forever (the last one open-ended unless
        the profile repeats)."""
        pts = [(p.at, p.rate) for p in self.points]
        if self.period is None:
            yield from ((a, b, ra, rb) for (a, ra), (b, rb) in itertools.pairwise(pts))
            yield pts[-1][0], math.inf, pts[-1][1], pts[-1][1]
            return
        period = self.period
        cycle = [*pts, (pts[0][0] + period, pts[0][1])]
        for k in itertools.count(-1):  # from the cycle that ends inside the first period
            for (a, ra), (b, rb) in itertools.pairwise(cycle):
                if b + k * period > 0:
                    yield _clipped(a + k * period, b + k * period, ra, rb)

    def expected(self, until: float) -> float:
        """The expected number of arrivals in ``[0, until]``: the integral of the rate."""
        total = 0.0
        for a, b, ra, rb in self.segments():
            if a >= until:
                break
            end = min(b, until)
            total += (end - a) * (ra + _at(a, b, ra, rb, end)) / 2
        return total

    def scaled(self, factor: float) -> Profile:
        """The same shape with every rate times ``factor``."""
        points = tuple(p.model_copy(update={"rate": p.rate * factor}) for p in self.points)
        return self.model_copy(update={"points": points})


def _at(a: float, b: float, ra: float, rb: float, t: float) -> float:
    """The rate at ``t`` on the piece from ``a`` (rate ``ra``) to ``b`` (rate ``rb``)."""
    return ra if b == math.inf or b == a else ra + (rb - ra) * (t - a) / (b - a)


def _clipped(a: float, b: float, ra: float, rb: float) -> Segment:
    """A piece cut to start no earlier than time 0."""
    return (a, b, ra, rb) if a >= 0 else (0.0, b, _at(a, b, ra, rb, 0.0), rb)


def _points_only(value: Any) -> Any:
    """A bare list of points is a profile that does not repeat."""
    return {"points": value} if isinstance(value, list | tuple) else value


ProfileSpec = Annotated[
    Profile,
    BeforeValidator(_points_only),
    OrBareValue({"type": "array", "minItems": 1, "items": {"type": "object"}}),
]
"""A ``profile:`` value: a mapping of ``points`` or ``file`` (and ``period``), or the points."""


def _whole(value: float) -> bool:
    return float(value).is_integer()


def _constant_smallest(dist: Distribution[Any]) -> float | None:
    value = float(dist.model_dump()["value"])
    return value if _whole(value) else None


def _values_smallest(dist: Distribution[Any]) -> float | None:
    values = [float(v) for v in dist.model_dump()["values"]]
    return min(values) if all(_whole(v) for v in values) else None


def _table_smallest(dist: Distribution[Any]) -> float | None:
    from qsim.discrete import Discrete  # a family registered on first need (FAMILY_MODULES)

    assert isinstance(dist, Discrete)
    return dist.smallest if all(_whole(v) for v in dist.table.values.tolist()) else None


def _shifted_smallest(dist: Distribution[Any]) -> float | None:
    from qsim.composite import Shifted

    assert isinstance(dist, Shifted)
    inner = smallest_whole(dist.of)
    return None if inner is None or not _whole(dist.shift) else inner + float(dist.shift)


def _truncated_smallest(dist: Distribution[Any]) -> float | None:
    from qsim.composite import Truncated

    assert isinstance(dist, Truncated)
    inner = smallest_whole(dist.of)
    if inner is None:
        return None
    if (kept := dist.kept) is not None:
        return float(kept.values[0])
    return max(inner, math.floor(float(dist.low)) + 1.0)  # above low, and a value of the inner law


WHOLE_VALUED: dict[str, Callable[[Distribution[Any]], float | None]] = {
    "constant": _constant_smallest,
    "empirical": _values_smallest,
    "pmf": _table_smallest,
    "geometric": _table_smallest,
    "poisson": _table_smallest,
    "binomial": _table_smallest,
    "shifted": _shifted_smallest,
    "truncated": _truncated_smallest,
}
"""Distributions that can give whole numbers, by ``dist`` name: the smallest value each gives
with probability above zero, or None where some value is not whole (or a part is not one of
these)."""


COUNTS_FROM_ZERO = ("poisson", "binomial")
"""Families that count from 0: as batch sizes, shifted by 1 or truncated above 0."""


def smallest_whole(dist: Distribution[Any]) -> float | None:
    """The smallest value ``dist`` draws if all its values are whole numbers, else None."""
    check = WHOLE_VALUED.get(dist.name)
    return None if check is None else check(dist)


def check_batch(dist: Distribution[Any] | None) -> Distribution[Any] | None:
    """``dist`` if it gives whole batch sizes of at least 1; else a located error.

    A batch of 0 would publish nothing at an arrival instant, an arrival no figure counts, so a
    law that can draw 0 (a Poisson or binomial count) is refused with the two ways to a law on
    1, 2, ...: ``shifted`` by 1 (1 + Poisson) or ``truncated`` (zero-truncated, the default
    ``low: 0`` keeps draws above 0)."""
    if dist is None:
        return None
    if dist.name not in WHOLE_VALUED:
        known = ", ".join(WHOLE_VALUED)
        raise fail(f"batch sizes must be whole numbers: use one of {known}, got {dist.name}")
    from qsim.discrete import Discrete

    smallest = smallest_whole(dist)
    if smallest is None or (smallest < 1 and not isinstance(dist, Discrete)):
        raise fail("batch sizes must be whole numbers of at least 1")
    if smallest < 1:
        chance = float(dist.cdf(np.array([0.0]))[0])
        message = f"batch sizes must be at least 1, but {dist.name} gives 0 with probability "
        message += f"{chance:.3g}"
        if dist.name in COUNTS_FROM_ZERO:
            shifted = f"{{dist: shifted, shift: 1, of: {{dist: {dist.name}, ...}}}}"
            truncated = f"{{dist: truncated, of: {{dist: {dist.name}, ...}}}}"
            message += f": use {shifted} (1 + {dist.name}) or {truncated} (given at least 1)"
        raise fail(message)
    return dist
