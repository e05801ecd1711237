"""The autoscaler's control loops: KEDA's RabbitMQ scaler feeding a Kubernetes HPA.

Two loops run, as they do in a cluster (broker-semantics.md, "Autoscalers"):

- KEDA's, every ``interval`` (its ``pollingInterval``, 30 s), handles 0 <-> 1 only: it reads
  the metric, caches it, activates a pool at zero when the metric is above ``activation`` and,
  with ``min: 0``, scales to zero once ``cooldown`` has passed without activity (kedacore/keda
  pkg/scaling/scale_handler.go ``startScaleLoop``, pkg/scaling/executor/scale_scaledobjects.go
  ``RequestScale``).
- The HPA's, every ``sync_period`` (``--horizontal-pod-autoscaler-sync-period``, 15 s), decides
  between 1 and N: it asks KEDA's metrics server for the metric, which reads the scaler afresh
  unless ``use_cached_metrics`` (then it gets KEDA's last poll), and applies the policy
  (:data:`POLICIES`), the tolerance, stabilization and rate limits. It does nothing while the
  pool is at zero (kubernetes pkg/controller/podautoscaler/horizontal.go: "scaling is disabled
  since the replica count of the target is zero"). At one instant KEDA's poll comes first.

Policies that set the count themselves (``fixed``, ``schedule``, ``custom``) apply it every
``interval``. The scaler reads a :class:`~qsim.engine.metrics.MetricsSource`, not the queue.
``aws_sqs_queue`` (KEDA's aws-sqs-queue scaler) reads an SQS queue's visible, in-flight and
delayed counts (:class:`~qsim.engine.lease.metrics.DelayedMetrics`) and targets queueLength
messages per replica (an AverageValue metric, active above activationQueueLength).
``kafka_lag`` (KEDA's Kafka scaler, :mod:`qsim.engine.kafka.keda`) reads a Kafka topic's
:class:`~qsim.engine.metrics.PartitionedMetrics`; every reading by either loop calls the same
scaler, as KEDA's metrics server and its poll share one scaler object, so the committed offsets
that ``exclude_persistent_lag`` compares are those of the previous reading by either loop.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from qsim.engine.kafka.keda import PartitionReading, kafka_total_lag
from qsim.engine.lease.metrics import DelayedMetrics
from qsim.engine.metrics import MetricsSource, PartitionedMetrics, StatisticsRates
from qsim.engine.pool import Pool
from qsim.errors import QsimError
from qsim.scenario import Scaling, ScalingRules
from qsim.scenario.scaling import METRIC_POLICIES
from qsim.scenario.scaling import POLICIES as POLICY_NAMES

__all__ = ["POLICIES", "Autoscaler", "Observation", "implements", "limit_rate", "stabilize"]


@dataclass(frozen=True)
class Observation:
    """What the scaler sees at one reading. Rates are the management API's (over its
    statistics interval) or over ``window``; utilization is the work started over the reading
    loop's period per replica-second (a job counts when it starts). ``replicas`` counts every
    replica not leaving, starting ones included, as the HPA's ``status.replicas`` does.
    ``partitions`` is the group's per-partition reading on a Kafka topic, ``None`` elsewhere;
    ``delayed`` counts a lease queue's messages still hidden by its delay (0 elsewhere)."""

    time: float
    ready: int
    unacked: int
    delayed: int
    publish_rate: float
    ack_rate: float
    oldest_age: float
    utilization: float
    replicas: int
    partitions: PartitionReading | None


Policy = Callable[[Observation, Scaling], tuple[float, float]]
"""(observation, settings) -> (metric, desired replicas before bounds and behaviour)."""

POLICIES: dict[str, Policy] = {}
"""The engine's implementation of each scenario policy name (``qsim.scenario.scaling.POLICIES``)."""


def implements(name: str) -> Callable[[Policy], Policy]:
    """Register a function as the implementation of the scenario's policy ``name``."""
    if name not in POLICY_NAMES:
        raise ValueError(f"{name!r} is not a scenario policy name")

    def register(policy: Policy) -> Policy:
        POLICIES[name] = policy
        return policy

    return register


def _per_replica(metric: float, spec: Scaling, current: int) -> float:
    """An AverageValue external metric (KEDA's default): desired = ceil(metric / target),
    except within the tolerance of ``metric / (target x current)`` (replica_calculator.go
    ``GetExternalPerPodMetricReplicas``, ``current`` being the target's status replicas)."""
    assert spec.target is not None
    if current > 0 and abs(metric / (spec.target * current) - 1) <= spec.tolerance:
        return float(current)
    return math.ceil(metric / spec.target - 1e-9)


def _proportional(metric: float, spec: Scaling, current: int) -> float:
    """HPA target tracking: desired = ceil(current x metric / target), with tolerance."""
    assert spec.target is not None
    ratio = metric / spec.target
    if abs(ratio - 1) <= spec.tolerance:
        return float(current)
    return math.ceil(max(current, 1) * ratio - 1e-9)


def _messages(obs: Observation, spec: Scaling) -> int:
    """KEDA's queue length: ``messages`` (ready + unacked) over HTTP, ready only with
    ``exclude_unacknowledged`` or over AMQP (rabbitmq_scaler.go ``getQueueStatus``)."""
    return obs.ready + (obs.unacked if spec.counts_unacked else 0)


@implements("queue_length")
def _queue_length(obs: Observation, spec: Scaling) -> tuple[float, float]:
    metric = _messages(obs, spec)
    return metric, _per_replica(metric, spec, obs.replicas)


@implements("message_rate")
def _message_rate(obs: Observation, spec: Scaling) -> tuple[float, float]:
    return obs.publish_rate, _per_replica(obs.publish_rate, spec, obs.replicas)


@implements("utilization")
def _utilization(obs: Observation, spec: Scaling) -> tuple[float, float]:
    return obs.utilization, _proportional(obs.utilization, spec, obs.replicas)


@implements("lag")
def _lag(obs: Observation, spec: Scaling) -> tuple[float, float]:
    return obs.oldest_age, _proportional(obs.oldest_age, spec, obs.replicas)


@implements("kafka_lag")
def _kafka_lag(obs: Observation, spec: Scaling) -> tuple[float, float]:
    assert obs.partitions is not None
    metric = kafka_total_lag(obs.partitions, spec).total
    return metric, _per_replica(metric, spec, obs.replicas)


def sqs_queue_length(obs: Observation, spec: Scaling) -> int:
    """KEDA's aws-sqs-queue metric: ApproximateNumberOfMessages, plus NotVisible (in flight)
    with ``scaleOnInFlight`` (the default), plus Delayed with ``scaleOnDelayed``
    (aws_sqs_queue_scaler.go ``processQueueLengthFromSqsQueueAttributesOutput``)."""
    in_flight = obs.unacked if spec.scale_on_in_flight else 0
    return obs.ready + in_flight + (obs.delayed if spec.scale_on_delayed else 0)


@implements("aws_sqs_queue")
def _aws_sqs_queue(obs: Observation, spec: Scaling) -> tuple[float, float]:
    metric = sqs_queue_length(obs, spec)
    return metric, _per_replica(metric, spec, obs.replicas)


@implements("schedule")
def _schedule(obs: Observation, spec: Scaling) -> tuple[float, float]:
    due = [step.replicas for step in spec.schedule if step.at <= obs.time]
    replicas = due[-1] if due else obs.replicas
    return replicas, replicas


@implements("fixed")
def _fixed(obs: Observation, spec: Scaling) -> tuple[float, float]:
    return obs.replicas, obs.replicas


@implements("custom")
def _custom(obs: Observation, spec: Scaling) -> tuple[float, float]:
    assert spec.function is not None
    desired = int(load_function(spec.function)(obs))
    return desired, desired


@functools.cache
def load_function(function: str) -> Callable[[Observation], float]:
    """The user's ``module:function``, which gets an :class:`Observation` and returns the
    desired replica count."""
    module_name, _, attribute = function.partition(":")
    try:
        call: Callable[[Observation], float] = getattr(
            importlib.import_module(module_name), attribute
        )
    except (ImportError, AttributeError) as exc:
        raise QsimError(f"custom scaling function {function!r} cannot be loaded: {exc}") from None
    return call


def _rate_or_length_active(obs: Observation, metric: float, spec: Scaling) -> bool:
    """MessageRate mode: the rate or the queue length above ``activation``
    (rabbitmq_scaler.go ``GetMetricsAndActivity``)."""
    return metric > spec.activation or _messages(obs, spec) > spec.activation


def _lag_with_persistent_active(obs: Observation, metric: float, spec: Scaling) -> bool:
    """The Kafka scaler: the total lag counting persistent partitions, uncapped, above
    ``activation`` (kafka_scaler.go ``GetMetricsAndActivity``)."""
    assert obs.partitions is not None
    return kafka_total_lag(obs.partitions, spec).with_persistent > spec.activation


ACTIVITY: dict[str, Callable[[Observation, float, Scaling], bool]] = {
    "message_rate": _rate_or_length_active,
    "kafka_lag": _lag_with_persistent_active,
}
"""Policies whose KEDA scaler judges activity otherwise than by the metric itself."""


def is_active(obs: Observation, metric: float, spec: Scaling) -> bool:
    """KEDA's activity: the metric above ``activation``, or the scaler's own rule
    (:data:`ACTIVITY`)."""
    rule = ACTIVITY.get(spec.policy)
    return rule(obs, metric, spec) if rule is not None else metric > spec.activation


def stabilize(
    history: deque[tuple[float, int]], now: float, desired: int, current: int, spec: Scaling
) -> int:
    """HPA stabilization: scaling up follows the lowest recommendation of the up window,
    scaling down the highest of the down window, so short dips and spikes are ignored."""
    history.append((now, desired))
    longest = max(spec.behavior.scale_up.stabilization, spec.behavior.scale_down.stabilization)
    while history and history[0][0] < now - longest:
        history.popleft()
    if desired > current:
        window = spec.behavior.scale_up.stabilization
        return max(current, min(d for t, d in history if t >= now - window))
    if desired < current:
        window = spec.behavior.scale_down.stabilization
        return min(current, max(d for t, d in history if t >= now - window))
    return desired


def limit_rate(
    replicas_at: Callable[[float], int], now: float, desired: int, current: int, spec: Scaling
) -> int:
    """HPA rate policies: per ``period``, at most ``value`` pods or percent of the replicas at
    the period's start; ``select: max`` takes the policy allowing the larger change."""
    rules: ScalingRules = spec.behavior.scale_up if desired > current else spec.behavior.scale_down
    if desired == current or not rules.policies:
        return desired
    if rules.select == "disabled":
        return current
    allowed = []
    for policy in rules.policies:
        base = replicas_at(now - policy.period)
        change = policy.value if policy.type == "pods" else base * policy.value / 100
        allowed.append(math.ceil(base + change) if desired > current else math.floor(base - change))
    if desired > current:
        limit = max(allowed) if rules.select == "max" else min(allowed)
        return min(desired, max(limit, current))
    limit = min(allowed) if rules.select == "max" else max(allowed)
    return max(desired, min(limit, current))


class Autoscaler:
    """Reads ``metrics`` and resizes ``pool``: KEDA every ``spec.interval``, the HPA every
    ``spec.sync_period``."""

    def __init__(self, pool: Pool, metrics: MetricsSource, spec: Scaling) -> None:
        self.pool = pool
        self.metrics = metrics
        self.spec = spec
        self.policy = POLICIES[spec.policy]
        if spec.policy == "custom" and spec.function:
            load_function(spec.function)  # fail before the run, not at its first poll
        self._samples: deque[tuple[float, int, int, float]] = deque()  # published, acked, work
        self._rates: StatisticsRates | None = None
        self._cached: Observation | None = None  # KEDA's last poll
        self._recommendations: deque[tuple[float, int]] = deque()
        self._replicas: list[tuple[float, int]] = []  # (time, count) after each change
        self._last_active = 0.0
        self._partitioned = isinstance(metrics, PartitionedMetrics)
        if spec.policy == "kafka_lag" and not self._partitioned:
            raise QsimError("policy kafka_lag needs a Kafka topic's partitioned metrics")
        self._committed_before: tuple[int | None, ...] | None = None  # the last reading's

    def start(self) -> None:
        """Start the loops at time 0 (the pool's first replicas are running)."""
        after, spec = self.pool.broker.after, self.spec
        self._replicas.append((0.0, self.pool.size))
        # the running replicas count as the recommendation so far: no scale-down at the first
        # sync before the stabilization window has seen the system
        self._recommendations.append((0.0, self.pool.size))
        if spec.window is None:
            self._rates = StatisticsRates(self.metrics, self.pool.broker.env.now)
            after(spec.statistics_interval, self._emit_statistics, None)
        if spec.policy in METRIC_POLICIES:
            after(0.0, self._poll, None)
            after(0.0, self._sync, None)
        else:
            after(0.0, self._apply, None)

    # -- what the scaler reads --------------------------------------------------------------
    def observe(self, period: float) -> Observation:
        """Read the metrics source and the pool now; utilization is over the last ``period``."""
        now, metrics, spec = self.pool.broker.env.now, self.metrics, self.spec
        published, settled, work = metrics.published(), metrics.settled(), self.pool.state.work
        self._samples.append((now, published, settled, work))
        keep = max(spec.window or 0.0, spec.interval, spec.sync_period)
        while len(self._samples) > 1 and self._samples[1][0] <= now - keep:
            self._samples.popleft()
        if self._rates is not None:
            publish_rate, ack_rate = self._rates.publish_rate, self._rates.settle_rate
        else:
            then, published_then, settled_then, _ = self._sample_before(now - (spec.window or 0))
            span = now - then
            publish_rate = (published - published_then) / span if span > 0 else 0.0
            ack_rate = (settled - settled_then) / span if span > 0 else 0.0
        then, _, _, work_then = self._sample_before(now - period)
        capacity = max(self.pool.size, 1) * self.pool.concurrency * (now - then)
        return Observation(
            time=now,
            ready=metrics.ready(),
            unacked=metrics.in_flight(),
            delayed=metrics.delayed() if isinstance(metrics, DelayedMetrics) else 0,
            publish_rate=publish_rate,
            ack_rate=ack_rate,
            oldest_age=metrics.oldest_age(now),
            utilization=(work - work_then) / capacity if capacity > 0 else 0.0,
            replicas=self.pool.size,
            partitions=self._read_partitions() if self._partitioned else None,
        )

    def _read_partitions(self) -> PartitionReading:
        """The group's partitions now, with the committed offsets of the previous reading
        (kafka_scaler.go ``previousOffsets``, kept where an offset was committed)."""
        assert isinstance(self.metrics, PartitionedMetrics)
        lags = tuple(self.metrics.partition_lags())
        committed = tuple(self.metrics.committed_offsets())
        before = self._committed_before or (None,) * len(committed)
        self._committed_before = tuple(
            now if now is not None else then for now, then in zip(committed, before, strict=True)
        )
        return PartitionReading(lags=lags, committed=committed, previous=before)

    def _sample_before(self, time: float) -> tuple[float, int, int, float]:
        """The latest sample at or before ``time``, else the oldest kept."""
        for sample in reversed(self._samples):
            if sample[0] <= time:
                return sample
        return self._samples[0]

    # -- the decisions ----------------------------------------------------------------------
    def activate(self, obs: Observation) -> int:
        """KEDA's part: 0 -> max(min, 1) when active, -> 0 after the cooldown; else as is."""
        spec, current, now = self.spec, obs.replicas, obs.time
        metric, _ = self.policy(obs, spec)
        active = is_active(obs, metric, spec)
        if active:
            self._last_active = now
        if current == 0:
            return min(max(1, spec.min), spec.max) if active else 0
        if spec.min == 0 and not active and now - self._last_active >= spec.cooldown:
            return 0
        return current

    def recommend(self, obs: Observation) -> int:
        """The HPA's part, between 1 and N: policy, bounds, stabilization, rate limits."""
        spec, current, now = self.spec, obs.replicas, obs.time
        _, wanted = self.policy(obs, spec)
        desired = min(max(int(wanted), 1, spec.min), spec.max)
        desired = stabilize(self._recommendations, now, desired, current, spec)
        return limit_rate(self._replicas_at, now, desired, current, spec)

    def _replicas_at(self, time: float) -> int:
        count = self._replicas[0][1]
        for at, replicas in self._replicas:
            if at > time:
                break
            count = replicas
        return count

    def _resize(self, now: float, desired: int) -> None:
        if desired != self.pool.size:
            self.pool.scale_to(desired)
            self._replicas.append((now, desired))

    # -- the loops --------------------------------------------------------------------------
    def _poll(self, _: object) -> None:
        obs = self.observe(self.spec.interval)
        self._cached = obs
        self._resize(obs.time, self.activate(obs))
        self.pool.broker.after(self.spec.interval, self._poll, None)

    def _sync(self, _: object) -> None:
        if self.pool.size > 0:
            obs = self._hpa_reading()
            self._resize(obs.time, self.recommend(obs))
        self.pool.broker.after(self.spec.sync_period, self._sync, None)

    def _hpa_reading(self) -> Observation:
        """The metric the HPA gets from KEDA's metrics server: read now, or KEDA's cached
        value with ``use_cached_metrics`` (scale_handler.go ``GetScaledObjectMetrics``); the
        replica count is always the current one."""
        if self.spec.use_cached_metrics and self._cached is not None:
            now = self.pool.broker.env.now
            return dataclasses.replace(self._cached, time=now, replicas=self.pool.size)
        return self.observe(self.spec.sync_period)

    def _apply(self, _: object) -> None:
        obs = self.observe(self.spec.interval)
        _, wanted = self.policy(obs, self.spec)
        self._resize(obs.time, min(max(int(wanted), self.spec.min), self.spec.max))
        self.pool.broker.after(self.spec.interval, self._apply, None)

    def _emit_statistics(self, _: object) -> None:
        assert self._rates is not None
        self._rates.emit(self.pool.broker.env.now)
        self.pool.broker.after(self.spec.statistics_interval, self._emit_statistics, None)
