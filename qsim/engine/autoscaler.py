"""The autoscaler's control loop: KEDA's RabbitMQ scaler feeding a Kubernetes HPA.

Every ``interval`` the loop samples the queue as the real scaler polls it (the lag between a
burst and new capacity comes from here), asks the policy for a desired replica count
(:data:`POLICIES`), applies KEDA's activation and cooldown for 0 <-> 1 and the HPA's tolerance,
stabilization windows and rate limits for the rest, and sets the pool's size. Sources: the KEDA
RabbitMQ scaler and ScaledObject docs, and the HPA algorithm (broker-semantics.md,
"Autoscalers").
"""

from __future__ import annotations

import importlib
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from qsim.engine.pool import Pool
from qsim.engine.queue import Queue
from qsim.errors import QsimError
from qsim.scenario import Scaling, ScalingRules

__all__ = ["POLICIES", "Autoscaler", "Observation", "limit_rate", "stabilize"]


@dataclass(frozen=True)
class Observation:
    """What the scaler sees at one poll. Rates are over the policy's ``window``; utilization is
    the work started over the last interval per replica-second (a job counts when it starts)."""

    time: float
    ready: int
    unacked: int
    publish_rate: float
    ack_rate: float
    oldest_age: float
    utilization: float
    replicas: int


Policy = Callable[[Observation, Scaling], tuple[float, float]]
"""(observation, settings) -> (metric, desired replicas before bounds and behaviour)."""


def _per_replica(metric: float, spec: Scaling, current: int) -> float:
    """KEDA's metrics are averages per replica: desired = ceil(metric / target), except within
    the HPA's tolerance of the current count."""
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


def _queue_length(obs: Observation, spec: Scaling) -> tuple[float, float]:
    metric = obs.ready + (obs.unacked if spec.include_unacked else 0)
    return metric, _per_replica(metric, spec, obs.replicas)


def _message_rate(obs: Observation, spec: Scaling) -> tuple[float, float]:
    return obs.publish_rate, _per_replica(obs.publish_rate, spec, obs.replicas)


def _utilization(obs: Observation, spec: Scaling) -> tuple[float, float]:
    return obs.utilization, _proportional(obs.utilization, spec, obs.replicas)


def _lag(obs: Observation, spec: Scaling) -> tuple[float, float]:
    return obs.oldest_age, _proportional(obs.oldest_age, spec, obs.replicas)


def _schedule(obs: Observation, spec: Scaling) -> tuple[float, float]:
    due = [step.replicas for step in spec.schedule if step.at <= obs.time]
    replicas = due[-1] if due else obs.replicas
    return replicas, replicas


def _fixed(obs: Observation, spec: Scaling) -> tuple[float, float]:
    return obs.replicas, obs.replicas


POLICIES: dict[str, Policy] = {
    "fixed": _fixed,
    "queue_length": _queue_length,
    "message_rate": _message_rate,
    "utilization": _utilization,
    "lag": _lag,
    "schedule": _schedule,
}
"""Scaling policies by name (``custom`` is built from the user's ``module:function``)."""


def custom_policy(function: str) -> Policy:
    """The user's ``module:function``, called with an :class:`Observation`, as a policy."""
    module_name, _, attribute = function.partition(":")
    try:
        call = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise QsimError(f"custom scaling function {function!r} cannot be loaded: {exc}") from None

    def policy(obs: Observation, spec: Scaling) -> tuple[float, float]:
        desired = int(call(obs))
        return desired, desired

    return policy


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
    """Polls ``queue`` and resizes ``pool`` every ``spec.interval``."""

    def __init__(self, pool: Pool, queue: Queue, spec: Scaling) -> None:
        self.pool = pool
        self.queue = queue
        self.spec = spec
        self.policy = (
            custom_policy(spec.function)
            if spec.policy == "custom" and spec.function
            else POLICIES[spec.policy]
        )
        self._samples: deque[tuple[float, int, int]] = deque()  # (time, published, acked)
        self._recommendations: deque[tuple[float, int]] = deque()
        self._replicas: list[tuple[float, int]] = []  # (time, count) after each change
        self._last_active = 0.0
        self._work_seen = 0.0

    def start(self) -> None:
        """Poll at time 0 and every interval after (the pool's first replicas are running)."""
        self._replicas.append((0.0, self.pool.size))
        # the running replicas count as the recommendation so far: no scale-down at the first
        # poll before the stabilization window has seen the system
        self._recommendations.append((0.0, self.pool.size))
        self.pool.broker.after(0.0, self._poll, None)

    def observe(self) -> Observation:
        """Sample the queue and the pool, as the scaler's metrics would read them."""
        now = self.pool.broker.env.now
        queue, spec = self.queue, self.spec
        self._samples.append((now, queue.published, queue.acked))
        while len(self._samples) > 1 and self._samples[1][0] <= now - spec.window:
            self._samples.popleft()
        then, published, acked = self._samples[0]
        span = now - then
        work = self.pool.state.work - self._work_seen
        self._work_seen = self.pool.state.work
        capacity = max(self.pool.size, 1) * self.pool.concurrency * spec.interval
        oldest = now - queue.ready.peek().published_at if queue.ready else 0.0
        return Observation(
            time=now,
            ready=len(queue.ready),
            unacked=queue.unacked,
            publish_rate=(queue.published - published) / span if span > 0 else 0.0,
            ack_rate=(queue.acked - acked) / span if span > 0 else 0.0,
            oldest_age=oldest,
            utilization=work / capacity,
            replicas=self.pool.size,
        )

    def decide(self, obs: Observation) -> int:
        """The replica count to run: policy, KEDA activation/cooldown, HPA behaviour, bounds."""
        spec, current, now = self.spec, obs.replicas, obs.time
        metric, wanted = self.policy(obs, spec)
        if spec.policy in ("schedule", "custom", "fixed"):
            return min(max(int(wanted), spec.min), spec.max)
        active = metric > spec.activation
        if active:
            self._last_active = now
        if current == 0:  # KEDA handles 0 -> 1: only above the activation value
            return min(max(1, spec.min), spec.max) if active else 0
        if spec.min == 0 and not active and now - self._last_active >= spec.cooldown:
            return 0  # KEDA scales to zero after the cooldown
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

    def _poll(self, _: object) -> None:
        obs = self.observe()
        desired = self.decide(obs)
        if desired != obs.replicas:
            self.pool.scale_to(desired)
            self._replicas.append((obs.time, desired))
        self.pool.broker.after(self.spec.interval, self._poll, None)
