"""The benchmark workloads: scenarios that publish exactly N messages, and their exact answers.

Each :class:`Workload` builds a qsim :class:`~qsim.scenario.Scenario` for a message count and a
seed. The baselines do not read YAML: they model the same queue through :class:`QueueShape`, the
part of a scenario every model shares (arrival rate pieces, servers, service distribution).
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from qsim.distributions import Distribution
from qsim.scenario import Scenario, load_scenario

__all__ = ["WORKLOADS", "QueueShape", "Workload", "erlang_c_wait"]

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
ARRIVAL_SLACK = 1.5
"""M/M/c runs last 1.5x the expected time to publish N messages: all N are published and served."""


def erlang_c_wait(lam: float, mu: float, c: int) -> float:
    """Exact M/M/c mean wait in queue (Erlang C)."""
    a = lam / mu
    top = a**c / math.factorial(c) * c / (c - a)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top) / (c * mu - lam)


def scenario_from_data(data: dict[str, Any]) -> Scenario:
    """Validate scenario data through the same path as a file on disk (``load_scenario``)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{data['name']}.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        return load_scenario(path)


@dataclass(frozen=True)
class QueueShape:
    """The queue every model simulates: Poisson arrivals in rate pieces, c FIFO servers."""

    pieces: tuple[tuple[float, float], ...]  # (start time, rate), each until the next start
    servers: int
    service: Distribution[float]
    queue: str

    @classmethod
    def of(cls, scenario: Scenario) -> QueueShape:
        """The first producer's queue and the consumer pool on it."""
        producer = scenario.producers[0]
        pool = next(c for c in scenario.consumers if c.queue == producer.to)
        if producer.schedule is not None:
            pieces = tuple((step.at, step.rate) for step in producer.schedule)
        else:
            assert producer.rate is not None, "benchmark workloads use rate or schedule"
            pieces = ((0.0, producer.rate),)
        return cls(pieces, pool.replicas, pool.service_time, producer.to)

    @property
    def single_rate(self) -> float | None:
        """The arrival rate if it never changes, else None."""
        return self.pieces[0][1] if len(self.pieces) == 1 else None


@dataclass(frozen=True)
class Workload:
    """A named workload: ``build(messages, seed)`` gives a scenario publishing ``messages``."""

    key: str
    title: str
    build: Callable[[int, int], Scenario]
    exact_wait: float | None  # exact mean wait in the producer's queue, if one is known
    note: str = ""


def _mmc(lam: float, mu: float, c: int) -> Callable[[int, int], Scenario]:
    def build(messages: int, seed: int) -> Scenario:
        return scenario_from_data({
            "name": f"bench-mm{c}",
            "seed": seed,
            "duration": messages / lam * ARRIVAL_SLACK,
            "producers": [{"name": "p", "to": "q", "rate": lam, "count": messages}],
            "queues": [{"name": "q"}],
            "consumers": [{
                "name": "c", "queue": "q", "replicas": c, "prefetch": 1,
                "service_time": {"dist": "exponential", "mean": 1 / mu},
            }],
        })  # fmt: skip

    return build


def _expected_published(schedule: list[dict[str, float]], duration: float) -> float:
    ends = [step["at"] for step in schedule[1:]] + [duration]
    return sum(step["rate"] * (end - step["at"]) for step, end in zip(schedule, ends, strict=True))


def _days_of(path: Path) -> Callable[[int, int], Scenario]:
    """The shipped scenario's day repeated back to back until its producer has published N."""

    def build(messages: int, seed: int) -> Scenario:
        data = load_scenario(path).model_dump(mode="json", by_alias=True, exclude_none=True)
        producer, day = data["producers"][0], data["duration"]
        per_day = _expected_published(producer["schedule"], day)
        days = math.ceil(messages * ARRIVAL_SLACK / per_day)
        producer["schedule"] = [
            {**step, "at": step["at"] + n * day}
            for n in range(days)
            for step in producer["schedule"]
        ]
        producer["count"] = messages
        data.update(seed=seed, replications=1, duration=days * day)
        return scenario_from_data(data)

    return build


WORKLOADS: dict[str, Workload] = {
    w.key: w
    for w in (
        Workload("mm1", "M/M/1 rho 0.9", _mmc(9.0, 10.0, 1), erlang_c_wait(9.0, 10.0, 1)),
        Workload("mm8", "M/M/8 rho 0.9", _mmc(72.0, 10.0, 8), erlang_c_wait(72.0, 10.0, 8)),
        Workload(
            "food-delivery",
            "food-delivery",
            _days_of(SCENARIOS / "food-delivery.yaml"),
            None,
            "the shipped scenario's 6 h day repeated until N orders are published; no closed form",
        ),
    )
}
