"""Raw results of one replication: counters, time-weighted sums and per-message arrays."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from qsim.sketch import LogSketch


@dataclass(frozen=True)
class QueueRun:
    """One queue's counters over the whole run, and its backlog over the measured window."""

    name: str
    counts: dict[str, int]
    backlog_mean: float
    backlog_max: int
    backlog_final: int
    unacked_final: int
    completions: int  # acks (or auto-ack completions) inside the measured window


@dataclass(frozen=True)
class ProducerRun:
    """One producer's books (whole run) and its flows (started after the warm-up)."""

    name: str
    queue: str
    published: int
    counts: dict[str, int] = field(default_factory=dict)
    flows_started: int = 0
    flows_failed: int = 0


@dataclass(frozen=True)
class PoolRun:
    """A consumer pool's busy time and capacity over the measured window, and its failures."""

    name: str
    replicas: int
    concurrency: int
    busy_time: float
    window: float
    crashes: int = 0
    channel_closures: int = 0
    lost_in_crash: int = 0
    publish: dict[str, int] = field(default_factory=dict)

    @property
    def utilization(self) -> float:
        """Busy worker-seconds over available worker-seconds (replicas x concurrency x time)."""
        capacity = self.replicas * self.concurrency * self.window
        return self.busy_time / capacity if capacity > 0 else 0.0

    @property
    def replica_seconds(self) -> float:
        """Replicas times measured time: what the pool costs."""
        return self.replicas * self.window


@dataclass(frozen=True)
class RunResult:
    """Everything one replication produced. ``records`` holds one entry per completed message,
    ``flows`` one per completed flow. A streaming run keeps ``sketches`` instead (keyed by
    figure, grouping and index, e.g. ``("latency", "queue", 0)``) and empty arrays."""

    replication: int
    warmup: float
    duration: float
    queues: list[QueueRun]
    producers: list[ProducerRun]
    pools: list[PoolRun]
    records: dict[str, np.ndarray]
    timeseries: dict[str, np.ndarray] = field(default_factory=dict)
    flows: dict[str, np.ndarray] = field(default_factory=dict)
    broker: dict[str, float] = field(default_factory=dict)
    sketches: dict[tuple[str, str, int], LogSketch] | None = None

    @property
    def window(self) -> float:
        """Length of the measured window (duration minus warm-up), in seconds."""
        return self.duration - self.warmup
