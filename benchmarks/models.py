"""The models under test: qsim's full model and three baselines, each run on one scenario.

Every model takes the same :class:`~qsim.scenario.Scenario` (its seed included) and returns an
:class:`Outcome`: how many messages it simulated and their mean wait, so a fast wrong answer shows.

- ``qsim``: the full engine (prefetch, acks, every metric recorded) plus the per-replication
  figures (percentiles) that ``qsim run`` computes: what a user pays for one replication.
- ``qsim-stream``: the same with ``--stream`` (quantile sketches instead of per-message
  arrays): its peak memory should not grow with N.
- ``simpy``: the smallest honest raw-SimPy model of the same queue: one ``simpy.Store``, a
  producer process publishing at the scenario's (piecewise) Poisson rate and c consumer
  processes that get, wait the service time and record the wait. No prefetch, TTL or
  dead-lettering: it is a lower bound for any SimPy model of the queue.
- ``heapq``: the same queue as a hand-written event loop on :mod:`heapq` (an arrival schedules
  the next arrival and, with a free server, its departure; a departure starts the next waiting
  message): no framework at all, the floor for a Python discrete-event model of the queue.
- ``ciw``: the same M/M/c queue in Ciw. Ciw seeds its module-global random state
  (``ciw.seed``); each measurement runs in its own process, so nothing else sees it.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from heapq import heappop, heappush
from typing import Any

import numpy as np
import simpy

from benchmarks.workloads import QueueShape
from qsim.engine import simulate
from qsim.scenario import Scenario
from qsim.summary import replication_figures

__all__ = ["MODELS", "Model", "Outcome"]

CHUNK = 1 << 16


@dataclass(frozen=True)
class Outcome:
    """What one model run produced: messages published and their mean wait in the queue.

    The wait is None when no message was served in the measured window (after any warm-up).
    """

    messages: int
    mean_wait_s: float | None


@dataclass(frozen=True)
class Model:
    """A model under test: ``run`` simulates a scenario; ``unsupported`` says why it cannot."""

    key: str
    label: str
    run: Callable[[Scenario], Outcome]
    unsupported: Callable[[QueueShape], str | None] = lambda _shape: None


def _messages(scenario: Scenario) -> int:
    count = scenario.producers[0].count
    assert count is not None, "benchmark workloads publish a fixed count"
    return count


def _outcome(scenario: Scenario, figures: dict[str, Any]) -> Outcome:
    """Messages published by every producer, and the mean wait in the first producer's queue."""
    published = sum(figures["producers"][p.name]["published"] for p in scenario.producers)
    return Outcome(published, figures["queues"][scenario.producers[0].to]["wait_s"]["mean"])


def run_qsim(scenario: Scenario) -> Outcome:
    """qsim's full model and the per-replication figures of ``qsim run``."""
    result = simulate(scenario)
    return _outcome(scenario, replication_figures(result))


def run_qsim_stream(scenario: Scenario) -> Outcome:
    """qsim with ``--stream``: percentiles from sketches, so memory stays flat with N."""
    result = simulate(scenario, stream=0.01)
    return _outcome(scenario, replication_figures(result))


def poisson_times(
    pieces: tuple[tuple[float, float], ...], n: int, rng: np.random.Generator
) -> np.ndarray:
    """The first ``n`` arrival times of a Poisson process whose rate changes at piece starts."""
    found: list[np.ndarray] = []
    total = 0
    ends = [start for start, _ in pieces[1:]] + [math.inf]
    for (start, rate), end in zip(pieces, ends, strict=True):
        t = start
        while total < n and rate > 0:
            size = min(n - total, CHUNK)
            times = t + np.cumsum(rng.exponential(1 / rate, size))
            inside = times[times < end]
            found.append(inside)
            total += inside.size
            if inside.size < size:
                break  # this piece is over: memorylessness lets the next one start afresh
            t = float(inside[-1])
    return np.concatenate(found)[:n]


def run_raw_simpy(scenario: Scenario) -> Outcome:
    """A minimal raw-SimPy model of the scenario's first queue (see the module docstring)."""
    shape = QueueShape.of(scenario)
    rng = np.random.default_rng(scenario.seed)
    times = poisson_times(shape.pieces, _messages(scenario), rng).tolist()
    services = shape.service.sample(rng, len(times)).tolist()
    env = simpy.Environment()
    store = simpy.Store(env)
    waits: list[float] = []

    def producer():
        for time in times:
            yield env.timeout(time - env.now)
            store.put(env.now)

    def consumer():
        while True:
            published = yield store.get()
            waits.append(env.now - published)
            yield env.timeout(services[len(waits) - 1])

    env.process(producer())
    for _ in range(shape.servers):
        env.process(consumer())
    env.run()
    return Outcome(len(times), _mean_after(scenario.warmup, times, waits))


def run_heapq(scenario: Scenario) -> Outcome:
    """The same queue as :func:`run_raw_simpy` as a bare event loop on a heap (see the module
    docstring): events ``(time, kind)``, kind 1 an arrival and 0 a departure."""
    shape = QueueShape.of(scenario)
    rng = np.random.default_rng(scenario.seed)
    times = poisson_times(shape.pieces, _messages(scenario), rng).tolist()
    services = shape.service.sample(rng, len(times)).tolist()
    waits: list[float] = []
    waiting: deque[float] = deque()
    free, coming = shape.servers, 1
    heap: list[tuple[float, int]] = [(times[0], 1)] if times else []
    while heap:
        now, arrival = heappop(heap)
        if arrival:
            if coming < len(times):
                heappush(heap, (times[coming], 1))
                coming += 1
            if free:
                free -= 1
                waits.append(0.0)
                heappush(heap, (now + services[len(waits) - 1], 0))
            else:
                waiting.append(now)
        elif waiting:
            waits.append(now - waiting.popleft())
            heappush(heap, (now + services[len(waits) - 1], 0))
        else:
            free += 1
    return Outcome(len(times), _mean_after(scenario.warmup, times, waits))


def _mean_after(warmup: float, published: list[float], waits: list[float]) -> float | None:
    """Mean wait of the messages published after the warm-up, like qsim's figures.

    The store is FIFO, so the k-th message served is the k-th published.
    """
    measured = np.asarray(waits)[np.asarray(published) >= warmup]
    return float(measured.mean()) if measured.size else None


def ciw_unsupported(shape: QueueShape) -> str | None:
    """Why the Ciw model cannot run a queue, or None: it is written for M/M/c only."""
    if shape.single_rate is None or shape.service.name != "exponential":
        return "Ciw has no model of this scenario (the Ciw baseline is M/M/c only)"
    return None


def run_ciw(scenario: Scenario) -> Outcome:
    """The scenario's M/M/c queue in Ciw, until N customers have left."""
    import ciw  # the `bench` extra; imported here so the other models run without it

    shape = QueueShape.of(scenario)
    assert shape.single_rate is not None
    ciw.seed(scenario.seed)
    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=shape.single_rate)],
        service_distributions=[ciw.dists.Exponential(rate=1 / shape.service.mean)],
        number_of_servers=[shape.servers],
    )
    simulation = ciw.Simulation(network)
    simulation.simulate_until_max_customers(_messages(scenario), method="Finish")
    waits = [record.waiting_time for record in simulation.get_all_records()]
    return Outcome(len(waits), float(np.mean(waits)))


MODELS: dict[str, Model] = {
    m.key: m
    for m in (
        Model("qsim", "qsim", run_qsim),
        Model("qsim-stream", "qsim --stream", run_qsim_stream),
        Model("simpy", "raw SimPy", run_raw_simpy),
        Model("heapq", "heapq loop", run_heapq),
        Model("ciw", "Ciw", run_ciw, ciw_unsupported),
    )
}
