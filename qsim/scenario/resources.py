"""Shared downstream limits, contention and size-dependent work (``docs/resources.md``).

A *resource* is something outside the broker that consumer jobs need while they work: a
database with a connection pool (``connections``: a job holds one for its whole service time,
as a client-side pool such as HikariCP lends them) or a rate-limited API (``rate`` with
``burst``: a job waits for a token of a token bucket before it starts, as a client-side limiter
such as Guava's ``RateLimiter`` makes it wait; see :mod:`qsim.engine.resources`). Pools name what
they need with ``uses``; ``contention`` stretches a pool's service times with how many of its
jobs run at once; ``service_time_per_kb`` adds work proportional to the message's size.
"""

from __future__ import annotations

import itertools
import re
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BeforeValidator, WithJsonSchema, model_validator

from qsim.spec import Number, PositiveCount, Rate, Spec, fail

__all__ = ["Contention", "Resource", "Stretch"]

_PERCENT = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*%\s*$")


def _stretch(value: Any) -> float:
    """A fraction: a number (0.05) or a percentage (``5%``), at least 0."""
    if isinstance(value, str) and (match := _PERCENT.match(value)):
        return float(match[1]) / 100
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    raise fail(f"expected a fraction such as 0.05 or 5%, got {value!r}")


if TYPE_CHECKING:
    Stretch = float
else:
    Stretch = Annotated[
        float,
        BeforeValidator(_stretch),
        WithJsonSchema(
            {
                "anyOf": [
                    {"type": "number", "minimum": 0},
                    {"type": "string", "pattern": _PERCENT.pattern},
                ],
                "examples": ["5%", 0.05],
            }
        ),
    ]
"""A fraction of a service time: 0.05 or ``5%``."""


class Resource(Spec):
    """A shared downstream limit. ``connections``: at most that many jobs (of every pool that
    uses it) hold it at once, each for its whole service time; the rest wait in order of
    asking. ``rate`` (with ``burst``, 1 by default): a token bucket that starts full, holds at
    most ``burst`` tokens and refills at ``rate``; each job takes one token as it starts and
    waits, in order, while there is none. Give exactly one of ``connections`` and ``rate``."""

    connections: PositiveCount | None = None
    rate: Rate | None = None
    burst: PositiveCount | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Resource:
        if (self.connections is None) == (self.rate is None):
            raise fail("give exactly one of connections (a pool held while working) or rate")
        if self.rate is not None and self.rate <= 0:
            raise fail("a rate limit needs a rate above zero", at=("rate",))
        if self.burst is not None and self.rate is None:
            raise fail("burst goes with rate (a token bucket's size)", at=("burst",))
        return self

    @property
    def kind(self) -> str:
        """``connections`` or ``rate``."""
        return "connections" if self.connections is not None else "rate"


class Contention(Spec):
    """How a pool's service times stretch with the jobs of the pool running at once (``n``,
    counting the one starting): ``per_job`` multiplies them by ``1 + per_job x (n - 1)``;
    ``table`` lists (jobs, factor) points, interpolated linearly between them and held flat
    outside them. The factor is fixed when a job starts. Give exactly one."""

    per_job: Stretch | None = None
    table: tuple[tuple[PositiveCount, Number], ...] | None = None

    @model_validator(mode="after")
    def _one_form(self) -> Contention:
        if (self.per_job is None) == (self.table is None):
            raise fail("give exactly one of per_job or table")
        points = self.table or ()
        if points and (
            any(b[0] <= a[0] for a, b in itertools.pairwise(points))
            or any(factor <= 0 for _, factor in points)
        ):
            message = "table rows are [jobs, factor]: jobs increasing, factors above zero"
            raise fail(message, at=("table",))
        return self

    def factor(self, jobs: int) -> float:
        """The service-time factor with ``jobs`` running at once (the one starting included)."""
        if self.per_job is not None:
            return 1.0 + self.per_job * (jobs - 1)
        points = self.table or ()
        if jobs <= points[0][0]:
            return points[0][1]
        for (n0, f0), (n1, f1) in itertools.pairwise(points):
            if jobs <= n1:
                return f0 + (f1 - f0) * (jobs - n0) / (n1 - n0)
        return points[-1][1]
