"""Prices: what the scenario's system costs in money (:mod:`qsim.cost` computes it).

A top-level ``prices:`` section gives the ``currency`` and what each billable quantity costs:

- ``replica_hour``: per replica-hour of a pool of replicas (a deployment billed by the hour),
  charged on the replica-seconds each pool reports over the measured window;
- ``per_million_requests``: per million broker API requests, for queues whose broker bills
  requests (lease brokers: every send, receive including empty ones, delete and visibility
  change; SQS bills each 64 KiB chunk of a payload as one request);
- ``gb_second`` and ``per_million_invocations``: function pools (AWS Lambda), per GB of memory
  times seconds of execution, and per million invocations.

A consumer pool may give its own ``prices:`` (``replica_hour``, ``gb_second``,
``per_million_invocations``) that override the scenario's for that pool; the currency is the
scenario's, and requests are billed per queue, not per pool. A price that applies to nothing in
the scenario is refused (:func:`check_prices`), so a price never silently adds zero.

Which queues and pools bill what is known from the scenario alone, through two registries that
the engine's reports must agree with (``tests/test_cost.py`` checks it):
:data:`REQUEST_BILLED_QUEUE_TYPES` and :data:`INVOCATION_BILLED_POLICIES`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BeforeValidator, WithJsonSchema, model_validator

from qsim.spec import Spec, fail

if TYPE_CHECKING:
    from qsim.scenario.consumer import ConsumerPool
    from qsim.scenario.model import Scenario
    from qsim.yamlsource import YamlSource

__all__ = [
    "INVOCATION_BILLED_POLICIES",
    "POOL_PRICE_KEYS",
    "PRICE_KEYS",
    "REQUEST_BILLED_QUEUE_TYPES",
    "PoolPrices",
    "Prices",
    "check_prices",
]

REQUEST_BILLED_QUEUE_TYPES: frozenset[str] = frozenset({"sqs", "sqs-fifo"})
"""Queue types whose broker bills API requests: their ``QueueRun.requests`` is not None. Amazon
SQS does (per million requests, each 64 KiB chunk one). RabbitMQ's queues and streams and Kafka
topics are run on your own nodes; Pub/Sub bills by data volume, Service Bus by tier and
operations, JetStream not at all: none of those is priced per request in qsim."""

INVOCATION_BILLED_POLICIES: frozenset[str] = frozenset()
"""Scaling policies whose pool is a function billed per invocation and GB-second (AWS Lambda):
their ``PoolRun.function`` is not None and they have no replica-hours. Every other pool is
billed by the replica-hour."""

POOL_PRICE_KEYS = ("replica_hour", "gb_second", "per_million_invocations")
PRICE_KEYS = ("replica_hour", "per_million_requests", *POOL_PRICE_KEYS[1:])
"""The price keys of a pool's ``prices:`` and of the scenario's, in the order shown."""


def _price(value: Any) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value < 0:
        raise fail(f"expected a price: a finite number >= 0, got {value!r}")
    return float(value)


def _currency(value: Any) -> str:
    if not isinstance(value, str) or len(value) != 3 or not value.isalpha():
        raise fail(f"expected a 3-letter currency code such as USD or EUR, got {value!r}")
    return value.upper()


if TYPE_CHECKING:
    Price = float
    Currency = str
else:
    Price = Annotated[
        float, BeforeValidator(_price), WithJsonSchema({"type": "number", "minimum": 0})
    ]
    Currency = Annotated[
        str,
        BeforeValidator(_currency),
        WithJsonSchema({"type": "string", "pattern": "^[A-Za-z]{3}$", "examples": ["USD"]}),
    ]
"""Money per unit, a finite number >= 0 (0 is free); an ISO 4217-style 3-letter code."""


class PoolPrices(Spec):
    """One pool's own prices, overriding the scenario's for that pool."""

    replica_hour: Price | None = None
    gb_second: Price | None = None
    per_million_invocations: Price | None = None

    @model_validator(mode="before")
    @classmethod
    def _scenario_wide_keys(cls, data: Any) -> Any:
        """``currency`` and ``per_million_requests`` belong to the scenario's section."""
        reasons = {
            "currency": "a pool's prices are in the scenario's currency: set currency in the "
            "top-level prices: section",
            "per_million_requests": "requests are billed per queue, not per pool: set "
            "per_million_requests in the top-level prices: section",
        }
        for key, reason in reasons.items():
            if isinstance(data, dict) and key in data:
                raise fail(reason, at=(key,))
        return data

    def given(self) -> Iterator[str]:
        """The keys this section sets."""
        return (key for key in POOL_PRICE_KEYS if getattr(self, key) is not None)


class Prices(Spec):
    """The scenario's prices: the currency and a price per billable quantity."""

    currency: Currency = "USD"
    replica_hour: Price | None = None
    per_million_requests: Price | None = None
    gb_second: Price | None = None
    per_million_invocations: Price | None = None

    def given(self) -> Iterator[str]:
        """The price keys this section sets."""
        return (key for key in PRICE_KEYS if getattr(self, key) is not None)


def _invoked(pool: ConsumerPool) -> bool:
    return pool.scaling.policy in INVOCATION_BILLED_POLICIES


def _pool_refusal(pool: ConsumerPool, key: str) -> str | None:
    """Why ``key`` cannot price ``pool`` (None when it can)."""
    if key == "replica_hour" and _invoked(pool):
        return (
            f"pool {pool.name!r} is a function (policy {pool.scaling.policy}), billed per "
            "GB-second and invocation, not by the replica-hour"
        )
    if key != "replica_hour" and not _invoked(pool):
        return (
            f"pool {pool.name!r} runs replicas, billed by replica_hour; {key} prices "
            "function pools (AWS Lambda) only"
        )
    return None


def _applies_to_nothing(scenario: Scenario, key: str) -> str | None:
    """Why the scenario-wide price ``key`` would bill nothing (None when it bills something)."""
    if key == "per_million_requests":
        types = sorted({queue.type for queue in scenario.queues})
        if any(t in REQUEST_BILLED_QUEUE_TYPES for t in types):
            return None
        return (
            f"no queue here is billed per request ({', '.join(types)} queues report no API "
            "requests; the price is for brokers that bill them, such as SQS)"
        )
    billed = [pool for pool in scenario.consumers if _pool_refusal(pool, key) is None]
    if not billed and not scenario.consumers:
        return "applies to no pool (the scenario has no consumer pools)"
    if not billed:
        what = "runs replicas" if key != "replica_hour" else "is a function"
        return f"applies to no pool (every pool {what})"
    return None  # a default that every such pool overrides is allowed (a variant's own price)


def check_prices(scenario: Scenario, source: YamlSource) -> None:
    """Every price given applies to something: a scenario-wide price to some queue or pool, a
    pool's price to that pool; and a ``prices:`` section prices something."""
    for i, pool in enumerate(scenario.consumers):
        for key in pool.prices.given() if pool.prices is not None else ():
            reason = _pool_refusal(pool, key)
            if reason is not None:
                raise source.error(("consumers", i, "prices", key), reason)
    prices = scenario.prices
    if prices is None:
        return
    given = list(prices.given())
    if not given and not any(pool.prices is not None for pool in scenario.consumers):
        message = f"gives no price: set one of {', '.join(PRICE_KEYS)}"
        raise source.error(("prices",), message)
    for key in given:
        reason = _applies_to_nothing(scenario, key)
        if reason is not None:
            raise source.error(("prices", key), f"{reason}; remove it")
