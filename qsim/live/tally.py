"""What the live clients observed, gathered thread-safely, and turned into summary figures.

Client threads report wall-clock times (``time.time()``, one host, one clock); :meth:`Tally.figures`
converts them to scenario seconds and shapes them like the queue and pool sections of
``qsim run --json`` (same keys), so the two can be compared key by key.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qsim.live.clock import Clock
from qsim.scenario import Scenario
from qsim.stats import distribution_summary

__all__ = ["QUEUE_COUNTS", "Tally", "Window"]

QUEUE_COUNTS = (
    "published", "delivered", "redelivered", "acked", "rejected", "nacked",
    "expired", "dropped", "over_limit", "dead_lettered",
)  # fmt: skip
"""Counters of a queue a live run reports (zero unless observed), named as in the summary."""


@dataclass(frozen=True)
class Window:
    """The measured window in scenario seconds: messages published in it count (as in the
    simulation's warm-up rule), and its length divides throughput."""

    start: float
    end: float

    @property
    def length(self) -> float:
        """Seconds from warm-up to the end."""
        return self.end - self.start


@dataclass
class Tally:
    """Counters and records of one live run, keyed by scenario queue and pool names."""

    clock: Clock
    lock: threading.Lock = field(default_factory=threading.Lock)
    counts: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    completions: dict[str, list[tuple[float, float, float]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    backlog: dict[str, list[tuple[float, int]]] = field(default_factory=lambda: defaultdict(list))
    delays: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    def count(self, kind: str, name: str, figure: str, by: int = 1) -> None:
        """Add ``by`` to ``figure`` of the ``kind`` (queue, pool, producer) called ``name``."""
        with self.lock:
            self.counts[kind, name, figure] += by

    def completed(self, queue: str, published: float, started: float, ended: float) -> None:
        """A message of ``queue`` completed at wall time ``ended`` (work began ``started``)."""
        with self.lock:
            self.completions[queue].append((published, started, ended))

    def delayed(self, pool: str, seconds: float) -> None:
        """A replica of ``pool`` had a delivery in hand ``seconds`` (scenario) after its job
        could have begun; the job was started at that earlier time."""
        with self.lock:
            self.delays[pool].append(seconds)

    def sampled(self, queue: str, wall: float, ready: int) -> None:
        """The broker said ``queue`` held ``ready`` messages at wall time ``wall``."""
        with self.lock:
            self.backlog[queue].append((self.clock.scenario_time(wall), ready))

    def section(self, kind: str, name: str) -> dict[str, int]:
        """Every counter of the ``kind`` called ``name`` that was counted, by figure."""
        with self.lock:
            return self._counts(kind, name)

    def figures(self, scenario: Scenario, window: Window) -> dict[str, Any]:
        """Per queue and per pool figures, in scenario seconds, keys as in the run summary."""
        with self.lock:
            return {
                "queues": {q.name: self._queue(q.name, window) for q in scenario.queues},
                "consumers": {pool.name: self._pool(pool.name) for pool in scenario.consumers},
                "producers": {p.name: self._counts("producer", p.name) for p in scenario.producers},
            }

    def _queue(self, name: str, window: Window) -> dict[str, Any]:
        return {
            **dict.fromkeys(QUEUE_COUNTS, 0),
            **self._counts("queue", name),
            "throughput_per_s": self._acked_within(name, window) / window.length,
            **self._latencies(name, window),
            "backlog": self._backlog(name, window),
        }

    def _pool(self, name: str) -> dict[str, Any]:
        return {
            **self._counts("pool", name),
            "dispatch_delay_s": distribution_summary(np.array(self.delays.get(name, []))),
        }

    def _counts(self, kind: str, name: str) -> dict[str, int]:
        return {
            f: n for (k, owner, f), n in sorted(self.counts.items()) if (k, owner) == (kind, name)
        }

    def _records(self, name: str) -> np.ndarray:
        rows = self.completions.get(name, [])
        return (np.array(rows, dtype=float).reshape(-1, 3) - self.clock.start) / self.clock.scale

    def _acked_within(self, name: str, window: Window) -> int:
        ended = self._records(name)[:, 2]
        return int(((ended >= window.start) & (ended <= window.end)).sum())

    def _latencies(self, name: str, window: Window) -> dict[str, Any]:
        records = self._records(name)
        records = records[records[:, 0] >= window.start]
        return {
            "latency_s": distribution_summary(records[:, 2] - records[:, 0]),
            "wait_s": distribution_summary(records[:, 1] - records[:, 0]),
        }

    def _backlog(self, name: str, window: Window) -> dict[str, float | None]:
        samples = [ready for t, ready in self.backlog.get(name, []) if t >= window.start]
        if not samples:
            return {"mean": None, "max": None, "final": None}
        return {"mean": float(np.mean(samples)), "max": max(samples), "final": samples[-1]}
