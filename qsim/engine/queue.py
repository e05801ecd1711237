"""A RabbitMQ-style queue on SimPy: dispatch, acks, requeues, limits, TTL and dead-lettering.

Semantics follow RabbitMQ 4.x (``docs/semantics.md`` lists the rules, sources and what is
simplified):

- Dispatch is round-robin over consumers that have prefetch credit; a consumer whose window is
  full leaves the rotation and rejoins at its tail when it acks (tutorial-two,
  consumer-prefetch.md).
- ``max_length`` counts ready messages only. ``drop-head`` drops or dead-letters the oldest
  (reason ``maxlen``); ``reject-publish`` refuses the newest; ``reject-publish-dlx`` refuses and
  dead-letters it (maxlength/index.md).
- TTL: the lower of the queue's ``message_ttl`` and the message's own applies; an expired message
  is never delivered and is removed (dead-lettered, reason ``expired``) only when it reaches the
  head; until then it counts in the queue's length; requeue keeps the original expiry (ttl.md).
- A returned message (rejected with requeue, or unacked when its channel closed) goes back to the
  head; once returned more times than ``delivery_limit`` it is removed (reason
  ``delivery_limit``), as quorum queues do (quorum-queues/index.md). Rejected without requeue it
  is dead-lettered (reason ``rejected``) or discarded (confirms.md, dlx.md).
- A broker restart empties a non-durable queue and drops transient messages from a durable one.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable
from types import MethodType
from typing import TYPE_CHECKING

from qsim.engine.consumer import ChannelStats, Consumer
from qsim.engine.delayed import DelayedReturns
from qsim.engine.message import NO_PRIORITY, NO_PRODUCER, Message
from qsim.engine.metrics import QueueMetrics
from qsim.engine.placed import NamedQueue
from qsim.engine.ready import ready_store
from qsim.engine.recorder import Recorder
from qsim.engine.results import QueueRun
from qsim.scenario import Queue as QueueSpec
from qsim.scenario.queue import Overflow

if TYPE_CHECKING:
    from qsim.engine.broker import Broker
    from qsim.engine.protocols import DeliveryModel
    from qsim.engine.retry import RetryRoute
    from qsim.engine.sampler import WorkDraw
    from qsim.engine.worker import Worker
    from qsim.scenario import ConsumerPool

INF = math.inf
STATES = (
    "acked", "rejected", "dropped", "expired", "nacked", "over_limit", "lost_in_outage",
)  # fmt: skip
"""Where a message published to a queue can end (besides still ready or unacked)."""


class Queue(NamedQueue):
    """One queue's state and counters during a run."""

    def __init__(
        self,
        broker: Broker,
        spec: QueueSpec,
        index: int,
        recorder: Recorder,
        work: WorkDraw,
    ) -> None:
        super().__init__(broker, spec, index, recorder, work)
        self.ready = ready_store(spec.type, spec.max_priority)
        self.quorum = spec.type == "quorum"
        self.active: deque[Consumer] = deque()
        self.dead_letter = None
        self.retry: RetryRoute | None = None  # where a consumer that retries sends its rejects
        rule = spec.delayed_retry
        self.delayed = None if rule is None else DelayedReturns(self.env, rule, self._release)
        self.channels: dict[str, ChannelStats] = {}  # per pool
        self.ttl = spec.message_ttl if spec.message_ttl is not None else INF
        self.max_length = spec.max_length
        self.delivery_limit = spec.delivery_limit if spec.limits_deliveries else None
        self.single_active = spec.single_active_consumer
        self.owner: Consumer | None = None  # the single active consumer
        self.waiting: list[Consumer] = []  # single active consumer: the others, in order
        if not self.single_active:
            self.add_consumer = self._add_shared  # type: ignore[method-assign]
        self._on_overflow = MethodType(OVERFLOW[spec.overflow], self)
        self._uses_ttl = False
        self._expiry_at = INF  # the earliest expiry timer armed: at most the head's expiry
        # a publish to an unbounded FIFO never changes a non-empty queue's head (drop-head
        # overflow removes it, and a priority store may put the new message first)
        self._keeps_head = self.ready.push_keeps_head and self.max_length is None
        # counters (whole run)
        self.published = self.delivered = self.redelivered = self.acked = 0
        self.rejected = self.dropped = self.expired = self.nacked = self.over_limit = 0
        self.lost_in_outage = self.dead_lettered = self.unacked = 0
        # backlog of ready messages, time-weighted
        self.backlog_area = 0.0
        self.backlog_since = 0.0
        self.backlog_max = 0

    def subscribe(self, worker: Worker, pool: ConsumerPool) -> Consumer:
        """One replica of ``pool`` consumes from this queue on its own channel."""
        stats = self.channels.setdefault(pool.name, ChannelStats())
        consumer = Consumer(
            self.broker, self, worker, self.recorder, stats,
            prefetch=pool.prefetch, auto_ack=pool.ack == "auto", timeout=pool.consumer_timeout,
            nack=pool.failures.method == "nack",
        )  # fmt: skip
        stats.consumers.append(consumer)
        return consumer

    def metrics(self) -> QueueMetrics:
        """What KEDA's RabbitMQ scaler can read of this queue."""
        return QueueMetrics(self)

    def pool_figures(self, pool: str) -> dict[str, int]:
        """What the channels of ``pool`` counted (none opened, for a pool without replicas)."""
        return self.channels.get(pool, ChannelStats()).figures()

    def sample(self) -> list[float]:
        """Ready, unacked, published and acked, now."""
        return [len(self.ready), self.unacked, self.published, self.acked]

    def series(self) -> dict[str, list[float]]:
        """No series beyond :meth:`sample`'s."""
        return {}

    def duplicates_so_far(self) -> int:
        """Redeliveries so far (``redelivered``)."""
        return self.redelivered

    # -- backlog bookkeeping -------------------------------------------------------------
    def tick_backlog(self) -> None:
        """Add the ready backlog since the last change to its time-weighted area."""
        now = self.env._now  # hot path: SimPy's now without the property call
        self.backlog_area += len(self.ready) * (now - self.backlog_since)
        self.backlog_since = now

    def _enqueue(self, msg: Message) -> None:
        now = self.env._now  # :meth:`tick_backlog`, inlined: once per message that waits
        self.backlog_area += len(self.ready) * (now - self.backlog_since)
        self.backlog_since = now
        self.ready.push(msg)
        if len(self.ready) > self.backlog_max:
            self.backlog_max = len(self.ready)

    def _take(self) -> Message:
        self.tick_backlog()
        return self.ready.pop()

    # -- publishing ----------------------------------------------------------------------
    def publish(self, msg: Message) -> None:
        """A message arrives: deliver it at once if a consumer has credit, else enqueue it."""
        self.published += 1
        now = self.env._now  # hot path: SimPy's now without the property call
        msg.published_at = now
        msg.deliveries = msg.failures = 0
        msg.work, msg.service = self.work()
        ttl = msg.ttl if msg.ttl < self.ttl else self.ttl
        msg.expires_at = now + ttl
        if ttl < INF:
            self._uses_ttl = True
        if self.active and not self.ready:
            self._deliver(msg)
        elif self.max_length is None or self._on_overflow(msg):  # no limit: always admitted
            self._enqueue(msg)
            if self._uses_ttl and (len(self.ready) == 1 or not self._keeps_head):
                self._arm_expiry()  # (behind an unchanged head: its timer is armed already)

    def _admit_drop_head(self, msg: Message) -> bool:
        """Admit the new message; if the queue is full, drop (or dead-letter) the oldest first."""
        if self.max_length is not None and len(self.ready) >= self.max_length:
            self.dropped += 1
            if not self.ready:  # max_length 0: the new message is the head, dropped at once
                self._remove(msg, "maxlen")
                return False
            self._remove(self._take(), "maxlen")
        return True

    def _admit_reject(self, msg: Message) -> bool:
        """Refuse the new message if the queue is full (the publisher would get a nack)."""
        if self.max_length is not None and len(self.ready) >= self.max_length:
            self.rejected += 1
            self.recorder.end_branch(msg.flow, False, self.env.now)
            return False
        return True

    def _admit_reject_dlx(self, msg: Message) -> bool:
        """Refuse the new message if the queue is full, and dead-letter it."""
        if self.max_length is not None and len(self.ready) >= self.max_length:
            self.rejected += 1
            self._remove(msg, "maxlen")
            return False
        return True

    # -- delivery ------------------------------------------------------------------------
    def _deliver(self, msg: Message) -> None:
        consumer = self.active.popleft()
        msg.deliveries += 1
        self.delivered += 1
        if msg.deliveries > 1:
            self.redelivered += 1
        if consumer.auto_ack:
            self.acked += 1  # done as far as the broker is concerned (confirms.md)
        else:
            self.unacked += 1
        if consumer.deliver(msg):
            self.active.append(consumer)

    def dispatch(self) -> None:
        """Deliver ready messages while some consumer has credit; expired heads are removed."""
        ready, active, now = self.ready, self.active, self.env._now
        while ready and active:
            # :meth:`_take`, inlined: the backlog's area up to now, then the head
            self.backlog_area += len(ready) * (now - self.backlog_since)
            self.backlog_since = now
            msg = ready.pop()
            if msg.expires_at <= now:
                self.expired += 1
                self._remove(msg, "expired")
            else:
                self._deliver(msg)
        if self._uses_ttl:
            self._arm_expiry()

    def add_consumer(self, consumer: Consumer) -> None:
        """A consumer (back) at the tail of the rotation: deliver what it can take. With a
        single active consumer only the active one is in the rotation; the others wait in the
        order they registered (consumers.md#single-active-consumer)."""
        if self.single_active:
            if self.owner is None:
                self.owner = consumer
            elif self.owner is not consumer:
                if consumer not in self.waiting:
                    self.waiting.append(consumer)
                return
        self._add_shared(consumer)

    def _add_shared(self, consumer: Consumer) -> None:
        """:meth:`add_consumer` where the queue has no single active consumer."""
        self.active.append(consumer)
        if self.ready:
            self.dispatch()

    def remove_consumer(self, consumer: Consumer) -> None:
        """A consumer leaves (cancelled, or its channel closed); with a single active consumer,
        the first waiting one takes over."""
        if consumer in self.active:
            self.active.remove(consumer)
        if not self.single_active:
            return
        if consumer in self.waiting:
            self.waiting.remove(consumer)
        elif consumer is self.owner:
            self.owner = None
            if self.waiting:
                self.add_consumer(self.waiting.pop(0))

    # -- TTL -----------------------------------------------------------------------------
    def _arm_expiry(self) -> None:
        if not self.ready:
            return
        at = self.ready.peek().expires_at
        if at < self._expiry_at:
            self._expiry_at = at
            delay = at - self.env.now  # a requeued message may be past its expiry already
            self.env.timeout(delay if delay > 0 else 0.0).callbacks.append(self._on_expiry)

    def _on_expiry(self, _event: object) -> None:
        now = self.env.now
        if now < self._expiry_at:
            return  # superseded by an earlier timer
        self._expiry_at = INF
        ready = self.ready
        while ready and ready.peek().expires_at <= now:
            self.expired += 1
            self._remove(self._take(), "expired")
        self._arm_expiry()

    # -- settlement ----------------------------------------------------------------------
    def ack(self, msg: Message) -> None:
        """A consumer acked ``msg`` after processing it (manual ack)."""
        self.acked += 1
        self.unacked -= 1
        self.recorder.completed(self.index, msg, self.env._now)  # hot path: now without a call

    def reject(self, msg: Message, requeue: bool, counted: bool = True) -> None:
        """A consumer rejected ``msg`` (``counted``: with ``basic.reject``, which a quorum queue
        counts toward the delivery limit; not with ``basic.nack``): requeue or dead-letter it."""
        self.unacked -= 1
        if requeue:
            if counted or self.delivery_limit is not None or not self.quorum:
                self._return(msg, counted)
            elif self.delayed is None or not self.delayed.hold(msg, False):
                # a quorum queue without a limit re-enqueues a nack at the back, priority 4
                msg.priority = NO_PRIORITY
                self._enqueue(msg)
            self.dispatch()
        else:
            self.nacked += 1
            self._remove(msg, "rejected")

    def requeue_all(self, messages: list[Message], counted: bool = True) -> None:
        """A channel closed (or, ``counted`` False, a quorum consumer timed out): its unacked
        deliveries return, in delivery order: to the head of a classic queue, to the end of a
        quorum queue's returns (counted toward its delivery limit)."""
        self.unacked -= len(messages)
        for msg in messages if self.quorum else reversed(messages):
            self._return(msg, counted)
        self.dispatch()

    def _return(self, msg: Message, counted: bool) -> None:
        limit = self.delivery_limit
        if counted and self.quorum:
            msg.failures += 1  # its delivery-count
            if limit is not None and msg.failures > limit:  # rabbit_fifo.erl return_one
                self.over_limit += 1
                self._remove(msg, "delivery_limit")
                return
        if self.delayed is not None and self.delayed.hold(msg, counted):
            return  # back in the returns when its wait is over (RabbitMQ 4.3 delayed retry)
        self._push_return(msg)

    def _release(self, msg: Message) -> None:
        """A delayed return is due: to the returns, and deliver what can be."""
        self._push_return(msg)
        self.dispatch()

    def _push_return(self, msg: Message) -> None:
        self.tick_backlog()
        self.ready.push_return(msg)
        if len(self.ready) > self.backlog_max:
            self.backlog_max = len(self.ready)

    def restart(self) -> None:
        """The broker restarts: a non-durable queue loses all, a durable one transient messages."""
        self.tick_backlog()
        durable = self.spec.durable
        lost = self.ready.remove_if(lambda m: not (durable and m.persistent))
        if self._uses_ttl:
            self._arm_expiry()  # the new head may expire before the old one's timer
        if self.delayed is not None:
            lost += self.delayed.drop_if(lambda m: not (durable and m.persistent))
        self.lost_in_outage += len(lost)
        now = self.env.now
        for msg in lost:
            self.recorder.end_branch(msg.flow, False, now)

    def _remove(self, msg: Message, reason: str) -> None:
        """``msg`` leaves the queue for ``reason``: dead-letter it, or its flow branch ends. A
        rejection by a consumer that retries goes where its retry sends it, by the x-death count
        of this queue and reason (:mod:`qsim.engine.retry`)."""
        retry = self.retry if reason == "rejected" else None
        target = self.dead_letter
        if target is not None or retry is not None:
            deaths = msg.deaths if msg.deaths is not None else {}
            key = (self.index, reason)
            deaths[key] = count = deaths.pop(key, 0) + 1  # most recent last, as x-death is kept
            msg.deaths = deaths
            if retry is not None:
                target = retry.target(count)
            assert target is not None
            if not _is_cycle(deaths, target.index):
                self.dead_lettered += 1
                msg.producer = NO_PRODUCER
                msg.ttl = INF  # dead-lettering removes the per-message expiration (dlx.md)
                target.publish(msg)
                return
        self.recorder.end_branch(msg.flow, False, self.env.now)

    # -- end of run ----------------------------------------------------------------------
    def start_window(self) -> None:
        """The warm-up ended: the time-weighted backlog starts again from here."""
        self.tick_backlog()
        self.backlog_area = 0.0
        self.backlog_max = len(self.ready)

    def report(self, window: float, completions: int) -> QueueRun:
        """This queue's figures over the run (backlog over the measured ``window``)."""
        return QueueRun(
            name=self.name,
            counts=self.counts(),
            backlog_mean=self.backlog_area / window,
            backlog_max=self.backlog_max,
            backlog_final=len(self.ready),
            unacked_final=self.unacked,
            completions=completions,
            requests=None,  # RabbitMQ bills no API requests
            stream=None,
            kafka=None,
            lease=None,
        )

    def counts(self) -> dict[str, int]:
        """Counters over the whole run."""
        names = ("published", "delivered", "redelivered", *STATES, "dead_lettered")
        counts = {name: getattr(self, name) for name in names}
        if self.delayed is not None:  # a quorum queue's delayed retry: returns held back
            counts |= {
                "delayed_retries": self.delayed.started,
                "delayed_final": len(self.delayed.held),
            }
        return counts

    def settle_books(self) -> None:
        """Check conservation: every message offered is in exactly one state."""
        self.tick_backlog()
        ends = sum(getattr(self, state) for state in STATES) + len(self.ready) + self.unacked
        ends += 0 if self.delayed is None else len(self.delayed.held)
        if ends != self.published:
            raise AssertionError(f"queue {self.name}: published {self.published} != {ends} ended")
        for pool, stats in self.channels.items():
            stats.settle_books(pool)
        if self.retry is not None:
            self.retry.settle_books()


def _is_cycle(deaths: dict[tuple[int, str], int], target: int) -> bool:
    """RabbitMQ drops a message that would dead-letter into a queue it already died in, unless
    a rejection happened since (dlx.md "dead-lettering cycles"; mc.erl ``is_cycle``)."""
    for queue, reason in reversed(deaths):
        if reason == "rejected":
            return False
        if queue == target:
            return True
    return False


def forwarded(queues: Iterable[DeliveryModel]) -> int:
    """Messages the queues dead-lettered onward (each counted as published by its target)."""
    return sum(q.dead_lettered for q in queues)


OVERFLOW: dict[Overflow, Callable[[Queue, Message], bool]] = {
    "drop-head": Queue._admit_drop_head,
    "reject-publish": Queue._admit_reject,
    "reject-publish-dlx": Queue._admit_reject_dlx,
}
"""Overflow modes by their scenario name (:data:`qsim.scenario.queue.Overflow`) -> how a new
message is admitted or refused when the queue is full."""
