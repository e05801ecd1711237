"""Consumer-side retry with back-off: the RabbitMQ retry-via-dead-lettering pattern.

A pool with ``retry`` rejects a failed message without requeue; the message waits in a retry
queue of its attempt level (``<queue>.retry.<n>``, with ``x-message-ttl`` the level's back-off
and ``x-dead-letter-exchange`` back to the work queue) and, its TTL over, is dead-lettered back
to the work queue for its next attempt. After ``max_attempts`` failed attempts it is parked in
``parking`` (``<queue>.parking`` by default), where it stays for a person or a tool to look at.

This is how teams build delayed retries on RabbitMQ: "The combination of Dead Lettering and TTL
has been widely used for basic delays and task retries across the RabbitMQ community. Some
messaging frameworks, e.g. NServiceBus, set up the topology for such delayed retries for you"
(rabbitmq-delayed-message-exchange README). A queue-level TTL per level, not a per-message
expiration in one queue, because messages expire only at the head of a queue (ttl.md): in one
queue a long delay would hold back every shorter one behind it. The consumer picks the level
from the message's ``x-death`` count for the work queue and reason ``rejected`` (dlx.md: the
count is "how many times this message was dead-lettered in this queue for this reason").

The scenario loader expands ``retry`` into real queues (:func:`expand`), so that the existing
TTL and dead-letter machinery moves the messages and keeps their books; a scenario may also
declare those queues itself (to make them quorum queues, say), with the TTL and dead-letter
target the retry needs (:func:`check_retries`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, get_args

from pydantic import ValidationError, model_validator

from qsim.spec import Name, Number, PositiveCount, PositiveDuration, Spec, fail

if TYPE_CHECKING:
    from qsim.scenario.model import Scenario
    from qsim.yamlsource import YamlSource

__all__ = [
    "BACKOFF",
    "BACKOFFS",
    "RETRY_QUEUE_TYPES",
    "Backoff",
    "Retry",
    "check_retries",
    "expand",
]

Backoff = Literal["fixed", "linear", "exponential"]
BACKOFFS: tuple[str, ...] = get_args(Backoff)
DEFAULT_MULTIPLIER = 2.0
"""The exponential back-off's factor per level when ``multiplier`` is not given."""
RETRY_QUEUE_TYPES = ("classic", "quorum")
"""Queue types a pool with retry may consume (RabbitMQ's, with TTL and dead-lettering)."""


class Retry(Spec):
    """How a pool retries a failed message: at most ``max_attempts`` processings in all (the
    first included), the wait before attempt ``n + 1`` given by ``backoff`` (``fixed``:
    ``initial`` each time; ``linear``: ``initial + step * (n - 1)``, ``step`` defaulting to
    ``initial``; ``exponential``: ``initial * multiplier ** (n - 1)``, ``multiplier`` defaulting
    to 2), capped at ``max``; then
    parked in ``parking`` (default ``<queue>.parking``)."""

    max_attempts: PositiveCount = 5
    backoff: Backoff = "exponential"
    initial: PositiveDuration = 1.0
    multiplier: Number | None = None  # exponential only: DEFAULT_MULTIPLIER when not given
    step: PositiveDuration | None = None
    max: PositiveDuration | None = None
    parking: Name | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Retry:
        if self.multiplier is not None and self.multiplier < 1:
            message = f"expected a multiplier of 1 or more, got {self.multiplier:g}"
            raise fail(message, ("multiplier",))
        if self.step is not None and self.backoff != "linear":
            raise fail(f"step is for backoff: linear (this one is {self.backoff})", ("step",))
        if self.multiplier is not None and self.backoff != "exponential":
            message = f"multiplier is for backoff: exponential (this one is {self.backoff})"
            raise fail(message, ("multiplier",))
        return self

    @property
    def growth(self) -> float:
        """The exponential back-off's factor per level: ``multiplier``, 2 when not given."""
        return DEFAULT_MULTIPLIER if self.multiplier is None else self.multiplier

    def delay(self, level: int) -> float:
        """Seconds a message waits at retry ``level`` (1 after its first failed attempt)."""
        wait = BACKOFF[self.backoff](self, level)
        return wait if self.max is None else min(wait, self.max)

    @property
    def delays(self) -> tuple[float, ...]:
        """The wait of every level, 1 to ``max_attempts - 1``."""
        return tuple(self.delay(level) for level in range(1, self.max_attempts))

    def level_queues(self, queue: str) -> tuple[str, ...]:
        """The retry queues of work queue ``queue``, level 1 first."""
        return tuple(f"{queue}.retry.{level}" for level in range(1, self.max_attempts))

    def parking_queue(self, queue: str) -> str:
        """Where a message of ``queue`` goes after its last failed attempt."""
        return self.parking if self.parking is not None else f"{queue}.parking"


BACKOFF: dict[str, Callable[[Retry, int], float]] = {
    "fixed": lambda retry, level: retry.initial,
    "linear": lambda retry, level: retry.initial + (retry.step or retry.initial) * (level - 1),
    "exponential": lambda retry, level: retry.initial * retry.growth ** (level - 1),
}
"""Back-off policies by their scenario name (:data:`Backoff`): the wait at a level, uncapped."""


def _policy(pool: Any) -> Retry | None:
    """A raw pool's retry, if it has a valid one (an invalid one is reported where it is)."""
    if not isinstance(pool, dict) or not isinstance(pool.get("retry"), dict):
        return None
    try:
        return Retry.model_validate(pool["retry"])
    except ValidationError:
        return None


def expand(data: Any) -> Any:
    """The scenario's raw data with the queues every pool's ``retry`` needs and the file does
    not declare: a classic queue per level (``message_ttl`` its wait, ``dead_letter`` the work
    queue) and the parking queue; and each retrying pool's ``failures.requeue`` false."""
    if not isinstance(data, dict) or not isinstance(data.get("consumers"), list | tuple):
        return data
    queues = data.get("queues")
    if not isinstance(queues, list | tuple):
        return data
    added: list[dict[str, Any]] = []
    names = {q["name"] for q in queues if isinstance(q, dict) and isinstance(q.get("name"), str)}
    pools = list(data["consumers"])
    for i, pool in enumerate(pools):
        retry = _policy(pool)
        work = pool.get("queue") if retry is not None else None
        if retry is None or not isinstance(work, str):
            continue
        pools[i] = _without_requeue(pool, i)
        for name, wait in zip(retry.level_queues(work), retry.delays, strict=True):
            if name not in names:
                added.append({"name": name, "message_ttl": wait, "dead_letter": work})
                names.add(name)
        parking = retry.parking_queue(work)
        if parking not in names:
            added.append({"name": parking})
            names.add(parking)
    return {**data, "queues": [*queues, *added], "consumers": pools}


def _without_requeue(pool: dict[str, Any], i: int) -> dict[str, Any]:
    """A retrying pool rejects without requeue: ``requeue: false`` filled in, ``true`` refused."""
    failures = pool.get("failures", {})
    if not isinstance(failures, dict):
        return pool  # reported where it is
    if failures.get("requeue") is True:
        message = (
            "a pool with retry rejects without requeue (its retry queues bring the message "
            "back): drop requeue: true"
        )
        raise fail(message, ("consumers", i, "failures", "requeue"))
    return {**pool, "failures": {**failures, "requeue": False}}


def check_retries(scenario: Scenario, source: YamlSource) -> None:
    """A pool with retry consumes a RabbitMQ queue alone, rejects without requeue, and its
    retry queues (declared or expanded) wait the right time and lead back to the work queue."""
    queues = {queue.name: (j, queue) for j, queue in enumerate(scenario.queues)}
    for i, pool in enumerate(scenario.consumers):
        retry = pool.retry
        if retry is None:
            continue
        at = ("consumers", i, "retry")
        work = queues[pool.queue][1]
        if work.type not in RETRY_QUEUE_TYPES:
            message = (
                f"retry needs a classic or quorum queue (TTL and dead-lettering); "
                f"{work.name!r} is {work.type}"
            )
            raise source.error(at, message)
        if pool.ack == "auto":
            raise source.error(at, "retry needs ack: manual (an auto-acked message cannot fail)")
        others = [p.name for p in scenario.consumers if p.queue == pool.queue and p is not pool]
        if others:
            message = (
                f"a pool with retry must be the only consumer of {pool.queue!r}; "
                f"{others[0]!r} consumes it too"
            )
            raise source.error(at, message)
        _check_levels(scenario, source, i, retry, queues)


def _check_levels(
    scenario: Scenario,
    source: YamlSource,
    i: int,
    retry: Retry,
    queues: dict[str, Any],
) -> None:
    pool = scenario.consumers[i]
    consumed = {p.queue for p in scenario.consumers}
    parking = retry.parking_queue(pool.queue)
    levels = retry.level_queues(pool.queue)
    if parking == pool.queue or parking in levels:
        raise source.error(
            ("consumers", i, "retry", "parking"),
            f"parking must be a queue of its own, got {parking!r}",
        )
    parked = queues[parking][1]
    if parked.type not in RETRY_QUEUE_TYPES:
        message = f"parking queue {parking!r} must be classic or quorum, got {parked.type}"
        raise source.error(("consumers", i, "retry", "parking"), message)
    for name, wait in zip(levels, retry.delays, strict=True):
        j, queue = queues[name]
        if queue.type not in RETRY_QUEUE_TYPES:
            raise source.error(
                ("queues", j, "type"), f"retry queue {name!r} must be classic or quorum"
            )
        if queue.message_ttl is None or not math.isclose(queue.message_ttl, wait):
            ttl = "none" if queue.message_ttl is None else f"{queue.message_ttl:g}s"
            message = f"retry queue {name!r} needs message_ttl {wait:g}s (its back-off), got {ttl}"
            raise source.error(("queues", j, "message_ttl"), message)
        if queue.dead_letter != pool.queue:
            message = (
                f"retry queue {name!r} needs dead_letter {pool.queue!r} (back to the work queue)"
            )
            raise source.error(("queues", j, "dead_letter"), message)
        if name in consumed:
            message = (
                f"retry queue {name!r} must have no consumers (its messages wait out their TTL)"
            )
            raise source.error(("queues", j, "name"), message)
