"""What a run costs in money: the billable quantities components report, priced.

Pure functions, no simulation: :func:`tariff` resolves a scenario's ``prices:`` (a pool's own
prices override the scenario's), and :func:`bill` prices one replication's results into a
:class:`Cost`, with a :class:`Line` per billed quantity of each pool and queue. The summary
bills every replication, so the totals carry confidence intervals like every other figure.

What is billed (quantities over the measured window, :mod:`qsim.engine.billing`):

- a pool of replicas: its replica-seconds, as replica-hours, at ``replica_hour``;
- a function pool (Lambda): its GB-seconds at ``gb_second`` and its invocations at
  ``per_million_invocations``;
- a queue whose broker bills requests: its requests (by kind) at ``per_million_requests``.

A quantity without a price is a line with no price and no amount, listed as unpriced (never a
silent zero). Free tiers, tiered volume discounts, data transfer, storage and the broker's own
instances are not billed (docs/semantics.md, "Cost").
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal, cast

import numpy as np

from qsim.engine import RunResult
from qsim.engine.results import PoolRun, QueueRun
from qsim.scenario import Scenario
from qsim.scenario.prices import POOL_PRICE_KEYS, PoolPrices, Prices

__all__ = [
    "PER", "Cost", "Item", "Line", "PoolTariff", "Tariff", "bill", "tariff", "window_amounts",
]  # fmt: skip

Item = Literal["replica_hours", "gb_seconds", "invocations", "requests"]
PER: dict[Item, float] = {
    "replica_hours": 1.0, "gb_seconds": 1.0, "invocations": 1e6, "requests": 1e6,
}  # fmt: skip
"""How many of each item one price buys: prices are per replica-hour, per GB-second, per
million invocations and per million requests."""
SECONDS_PER_HOUR = 3600.0
SECONDS_PER_DAY = 86400.0


@dataclass(frozen=True)
class PoolTariff:
    """The prices that apply to one pool (its own, else the scenario's)."""

    replica_hour: float | None
    gb_second: float | None
    per_million_invocations: float | None


@dataclass(frozen=True)
class Tariff:
    """A scenario's prices, resolved: the currency, per pool and for requests."""

    currency: str
    pools: dict[str, PoolTariff]
    per_million_requests: float | None


def tariff(scenario: Scenario) -> Tariff | None:
    """The scenario's resolved prices; None when it gives none (no ``prices:`` anywhere)."""
    if scenario.prices is None and all(pool.prices is None for pool in scenario.consumers):
        return None
    base = scenario.prices or Prices()
    pools = {
        pool.name: PoolTariff(*(_either(pool.prices, base, key) for key in POOL_PRICE_KEYS))
        for pool in scenario.consumers
    }
    return Tariff(base.currency, pools, base.per_million_requests)


def _either(own: PoolPrices | None, base: Prices, key: str) -> float | None:
    """A pool's own price for ``key`` if it gives one, else the scenario's."""
    value = getattr(own, key) if own is not None else None
    return cast(float | None, value if value is not None else getattr(base, key))


@dataclass(frozen=True)
class Line:
    """One billed quantity of one pool or queue: ``quantity`` of ``item`` (replica-hours,
    GB-seconds, invocations or requests; requests one line per ``kind``) at ``price`` per
    :data:`PER` items; no price: unpriced."""

    owner: Literal["pool", "queue"]
    name: str
    item: Item
    kind: str | None  # the kind of request (qsim.engine.billing.RequestKind); else None
    quantity: float
    price: float | None

    @property
    def amount(self) -> float | None:
        """Money for this line; None when unpriced."""
        return None if self.price is None else self.quantity / PER[self.item] * self.price


@dataclass(frozen=True)
class Cost:
    """One replication's cost over its measured window of ``window`` seconds."""

    currency: str
    window: float
    lines: tuple[Line, ...]

    @property
    def total(self) -> float:
        """Money over the measured window, priced lines only."""
        return sum(line.amount for line in self.lines if line.amount is not None)

    def rate(self, seconds: float) -> float:
        """Money per ``seconds`` at the measured window's rate."""
        return self.total * seconds / self.window if self.window > 0 else 0.0

    @property
    def per_hour(self) -> float:
        """Money per hour at the measured window's rate."""
        return self.rate(SECONDS_PER_HOUR)

    @property
    def per_day(self) -> float:
        """Money per day (24 h) at the measured window's rate."""
        return self.rate(SECONDS_PER_DAY)

    def only(self, **match: str) -> Cost:
        """The part of this cost whose lines match, e.g. ``only(owner="pool", name="c")``."""
        lines = (ln for ln in self.lines if all(getattr(ln, k) == v for k, v in match.items()))
        return Cost(self.currency, self.window, tuple(lines))

    @property
    def unpriced(self) -> tuple[Line, ...]:
        """Lines with a quantity but no price (shown, never counted as zero)."""
        return tuple(line for line in self.lines if line.price is None)


def _pool_lines(pool: PoolRun, prices: PoolTariff) -> Iterator[Line]:
    if pool.function is None:
        hours = pool.replica_seconds / SECONDS_PER_HOUR
        yield Line("pool", pool.name, "replica_hours", None, hours, prices.replica_hour)
        return
    used = pool.function
    yield Line("pool", pool.name, "gb_seconds", None, used.gb_seconds, prices.gb_second)
    invoked = float(used.invocations)
    yield Line("pool", pool.name, "invocations", None, invoked, prices.per_million_invocations)


def _queue_lines(queue: QueueRun, price: float | None) -> Iterator[Line]:
    for kind, count in (queue.requests or {}).items():
        yield Line("queue", queue.name, "requests", kind, float(count), price)


def bill(run: RunResult, prices: Tariff) -> Cost:
    """Price one replication's billable quantities."""
    none = PoolTariff(None, None, None)
    lines = [line for p in run.pools for line in _pool_lines(p, prices.pools.get(p.name, none))]
    for queue in run.queues:
        lines += _queue_lines(queue, prices.per_million_requests)
    return Cost(prices.currency, run.window, tuple(lines))


def window_amounts(series: dict[str, np.ndarray], prices: Tariff) -> np.ndarray:
    """Money per sample window of one replication, priced as :func:`bill` prices the whole
    window: its series' billed quantities per window (``pool:NAME:replica_seconds``, a
    function's ``pool:NAME:gb_seconds`` and ``pool:NAME:invocations``, a queue's
    ``NAME:requests``; :mod:`qsim.engine.simulation`), so the windows add up to the bill's
    total. Unpriced quantities add nothing, as in :attr:`Cost.total`."""
    amounts = np.zeros(len(series["time"]))
    for name, pool in prices.pools.items():
        if f"pool:{name}:gb_seconds" in series:
            priced = [("gb_seconds", pool.gb_second), ("invocations", pool.per_million_invocations)]
        else:
            priced = [("replica_seconds", pool.replica_hour)]
        for item, price in priced:
            if price is not None and f"pool:{name}:{item}" in series:
                per = SECONDS_PER_HOUR if item == "replica_seconds" else PER[cast(Item, item)]
                amounts += series[f"pool:{name}:{item}"] / per * price
    if prices.per_million_requests is not None:
        for key in (k for k in series if k.endswith(":requests") and not k.startswith("pool:")):
            amounts += series[key] / PER["requests"] * prices.per_million_requests
    return amounts
