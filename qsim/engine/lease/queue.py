"""A lease queue: the pull-with-lease delivery model of Amazon SQS (standard and FIFO), Google
Pub/Sub, Azure Service Bus and NATS JetStream (``docs/semantics.md``, "Lease-based brokers";
each type's defaults and limits are data, :mod:`qsim.scenario.lease`).

- A published message is hidden for ``delay`` (SQS DelaySeconds), then visible.
- A receive (:mod:`~qsim.engine.lease.poller`) hands out up to ``batch`` visible messages,
  at most ``max_in_flight`` in flight at once (SQS's in-flight quota, JetStream MaxAckPending;
  at the limit a receive finds nothing). Each is hidden for ``lease`` from its receive, and its
  receive count grows by one (SQS ApproximateReceiveCount, Service Bus DeliveryCount).
- Deleted within its lease, a message is done. When the lease lapses first, it is visible
  again (a *lease expiry*) and another receive may hand it out while the first consumer still
  works: a duplicate. The first consumer's late delete follows the provider
  (:data:`qsim.scenario.lease.LateDelete`): SQS and Pub/Sub delete it if nobody has received
  it since, else nothing; JetStream acks it whoever holds it now; Service Bus refuses it (the
  lock is lost).
- A failed message returns at once with a partial-batch response (SQS
  ChangeMessageVisibility 0, Pub/Sub nack, Service Bus abandon, JetStream nak), else when its
  lease lapses; either way its next receive counts.
- Once received ``max_receives`` times, a message whose lease ends unsettled moves to
  ``dead_letter`` (SQS redrive policy, Pub/Sub dead-letter topic); with no dead-letter queue in
  the scenario (Service Bus's own dead-letter subqueue, JetStream past MaxDeliver) it is
  *exhausted*: its flow branch fails.
- ``retention`` drops a message that old (since it entered this queue), wherever it is.
- A producer's resend (its ``resend``) is a second send of a message: an ``sqs-fifo`` queue
  drops it (*deduplicated*) if it accepted a send of that message within the last
  :data:`DEDUPLICATION_INTERVAL` (SQS FIFO's MessageDeduplicationId), else accepts it as a
  second copy (a *duplicate send*); an ``sqs`` queue has no deduplication and accepts it.

Books, checked at the end of the run: every message published is deleted, dead-lettered,
exhausted, expired, deduplicated, or still delayed, visible or in flight, and each receive
once::

    published = deleted + dead_lettered + exhausted + expired + deduplicated
                + delayed + visible + in_flight
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from qsim.engine.billing import REQUEST_KINDS, RequestKind, billed_requests
from qsim.engine.lease.batching import WindowPoller
from qsim.engine.lease.metrics import LeaseMetrics
from qsim.engine.lease.poller import Poller
from qsim.engine.lease.receipt import Receipt
from qsim.engine.lease.visible import visible_store
from qsim.engine.log.level import Level
from qsim.engine.message import NO_PRODUCER, Message, Sent
from qsim.engine.placed import NamedQueue
from qsim.engine.recorder import Recorder
from qsim.engine.results import LeaseRun, QueueRun
from qsim.scenario.lease import PRESETS
from qsim.scenario.prices import REQUEST_BILLED_QUEUE_TYPES

if TYPE_CHECKING:
    from qsim.engine.broker import Broker
    from qsim.engine.sampler import WorkDraw
    from qsim.engine.worker import Worker
    from qsim.scenario import ConsumerPool
    from qsim.scenario import Queue as QueueSpec

__all__ = ["DEDUPLICATION_INTERVAL", "LeaseQueue"]

DELAYED, VISIBLE, IN_FLIGHT = 0, 1, 2
ENDS = ("deleted", "dead_lettered", "exhausted", "expired", "deduplicated")
"""Where a message published to a lease queue can end (besides delayed, visible, in flight)."""
DEDUPLICATION_INTERVAL = 300.0
"""SQS FIFO: a send whose deduplication id was accepted within the last 5 minutes is accepted
but not delivered (FIFO-key-terms.html; SendMessage ``MessageDeduplicationId``)."""


class Lease:
    """One receive of one message: its receipt (with the receive count), its holder, when it
    was received and when the lease ends."""

    __slots__ = ("holder", "receipt", "received_at", "until")

    def __init__(self, receipt: Receipt, holder: Poller, received_at: float, until: float):
        self.receipt = receipt
        self.holder = holder
        self.received_at = received_at
        self.until = until

    @property
    def receive(self) -> int:
        """The receive number (the message's receive count when it was received)."""
        return self.receipt.receive


class LeaseQueue(NamedQueue):
    """One lease queue's messages, leases, counters and books during a run."""

    def __init__(
        self,
        broker: Broker,
        spec: QueueSpec,
        index: int,
        recorder: Recorder,
        work: WorkDraw,
    ) -> None:
        assert spec.lease is not None
        super().__init__(broker, spec, index, recorder, work)
        self.preset = PRESETS[spec.type]
        self.lease = spec.lease
        self.max_receives = spec.max_receives
        self.retention = spec.retention
        self.delay = spec.delay or 0.0
        self.max_in_flight = spec.max_in_flight if spec.max_in_flight is not None else math.inf
        self.visible = visible_store(spec.type == "sqs-fifo")
        self.deduplicates = spec.type == "sqs-fifo"
        self.in_flight: dict[Message, Lease] = {}
        self.where: dict[Message, int] = {}  # every message not yet ended -> its state
        self.arrivals: deque[Message] = deque()  # in publish order (retention, oldest age)
        self.waiting: deque[Poller] = deque()  # long polls waiting for a message
        self.dead_letter = None
        self.pollers: list[Poller] = []
        self.group_ids_of: dict[int, Callable[[], str]] = {}  # producer -> its group ids
        self.visible_level, self.in_flight_level, self.delayed_level = Level(), Level(), Level()
        self._retention_due = math.inf
        self.receive_interval = 1.0 / self.preset.receive_tps  # 0: receives are not limited
        self._next_receive = 0.0  # the first instant the next receive call may be answered
        self.published = self.receives = self.received = self.empty_receives = 0
        self.deleted = self.duplicates = self.redelivered = self.lease_expiries = 0
        self.returned = self.late_deletes = self.stale_deletes = 0
        self.dead_lettered = self.exhausted = self.expired = 0
        self.resends = self.deduplicated = self.duplicate_sends = 0
        self.age_sum = self.age_max = 0.0
        self.age_samples = 0
        self.age_series: list[float] = []  # the oldest age at every sample, for series()
        self.send_requests = 0  # billed sends: one per started 64 KiB of a message
        self.requests_at_warmup: dict[RequestKind, int] = dict.fromkeys(REQUEST_KINDS, 0)

    # -- wiring --------------------------------------------------------------------------
    def subscribe(self, worker: Worker, pool: ConsumerPool) -> Poller:
        """One replica of ``pool``: a poller (gathering batches over a window for an AWS Lambda
        pool with a ``batching_window``, :mod:`qsim.engine.lease.batching`)."""
        windowed = pool.scaling.policy == "lambda" and (pool.scaling.batching_window or 0) > 0
        poller = (WindowPoller if windowed else Poller)(self, worker, pool)
        self.pollers.append(poller)
        return poller

    def group_ids(self, producer: int, groups: Callable[[], str]) -> None:
        """Producer number ``producer`` gives each message it sends here a group id drawn by
        ``groups`` (its ``key``: SQS FIFO's MessageGroupId)."""
        self.group_ids_of[producer] = groups

    def metrics(self) -> LeaseMetrics:
        """What a scaler reads: visible, in flight and delayed messages (SQS's approximate
        counts), published and deleted so far, the oldest message's age."""
        return LeaseMetrics(self)

    def pool_figures(self, pool: str) -> dict[str, int]:
        """RabbitMQ's channel figures: none happen to a poller."""
        return {"channel_closures": 0, "consumer_timeouts": 0, "lost_in_crash": 0}

    # -- publishing ----------------------------------------------------------------------
    def publish(self, msg: Message) -> None:
        """A message arrives (sent, or dead-lettered here): delayed, or visible at once."""
        self.published += 1
        self.send_requests += billed_requests(msg.size)
        now = self.env.now
        if type(msg) is Sent and msg.producer != NO_PRODUCER:  # sent twice by its producer
            if not self._accept(msg, now):
                return
        else:
            groups = self.group_ids_of.get(msg.producer)
            if groups is not None:
                msg.group = groups()
        msg.published_at = now
        msg.deliveries = 0
        msg.work, msg.service = self.work()
        self.arrivals.append(msg)
        if self.delay > 0:
            self.where[msg] = DELAYED
            self.delayed_level.add(1, now)
            self.broker.after(self.delay, self._undelay, msg)
        else:
            self._show(msg, now)
        if self.retention is not None and self._retention_due == math.inf:
            self._arm_retention()

    def _accept(self, msg: Sent, now: float) -> bool:
        """Whether a send of a message its producer sends twice goes in: not on an SQS FIFO
        queue that accepted a send of it within :data:`DEDUPLICATION_INTERVAL` (deduplicated:
        its branch ends, well: the message is in). Both sends take one group id."""
        send = msg.send
        if msg.resend:
            self.resends += 1
        if self.deduplicates and now - send.accepted_at < DEDUPLICATION_INTERVAL:
            self.deduplicated += 1
            self.recorder.end_branch(msg.flow, True, now)
            return False
        if send.accepted_at > -math.inf:
            self.duplicate_sends += 1  # the other send is in too: a second copy
        send.accepted_at = now
        groups = self.group_ids_of.get(msg.producer)
        if send.group is None and groups is not None:
            send.group = groups()
        if send.group is not None:
            msg.group = send.group
        return True

    def _undelay(self, msg: Message) -> None:
        if self.where.get(msg) == DELAYED:
            now = self.env.now
            self.delayed_level.add(-1, now)
            self._show(msg, now)

    def _show(self, msg: Message, now: float, returned: bool = False) -> None:
        self.where[msg] = VISIBLE
        if returned:
            self.visible.push_return(msg)
        else:
            self.visible.push(msg)
        self.visible_level.add(1, now)
        self._serve_waiting()

    # -- receiving -----------------------------------------------------------------------
    def _deliverable(self) -> bool:
        return self.visible.deliverable() and len(self.in_flight) < self.max_in_flight

    def receive(self, poller: Poller, poll: int) -> None:
        """A ReceiveMessage / pull from ``poller`` (its receive number ``poll``); on a queue
        with a receive quota (SQS FIFO, 300 per second) answered at the next free slot."""
        if self.receive_interval > 0:
            now = self.env.now
            slot = max(now, self._next_receive)
            self._next_receive = slot + self.receive_interval
            if slot > now:
                self.broker.after(slot - now, self._receive_at_slot, (poller, poll))
                return
        self._answer(poller, poll)

    def _receive_at_slot(self, due: tuple[Poller, int]) -> None:
        poller, poll = due
        if poller.polls == poll and poller.pending:
            self._answer(poller, poll)

    def _answer(self, poller: Poller, poll: int) -> None:
        if self._deliverable():
            self._hand(poller)
        elif poller.wait > 0:
            self.waiting.append(poller)
            self.broker.after(poller.wait, self._wait_over, (poller, poll))
        else:
            self._empty(poller)

    def _empty(self, poller: Poller) -> None:
        self.receives += 1
        self.empty_receives += 1
        poller.empty()

    def _wait_over(self, due: tuple[Poller, int]) -> None:
        poller, poll = due
        if poller.polls == poll and poller in self.waiting:
            self.waiting.remove(poller)
            self._empty(poller)

    def withdraw(self, poller: Poller) -> None:
        """``poller`` stopped: its waiting receive goes."""
        if poller in self.waiting:
            self.waiting.remove(poller)

    def _serve_waiting(self) -> None:
        while self.waiting and self._deliverable():
            self._hand(self.waiting.popleft())

    def _hand(self, poller: Poller) -> None:
        room = self.max_in_flight - len(self.in_flight)
        messages = self.visible.take(int(min(poller.wanted(), room)))
        now = self.env.now
        self.receives += 1
        self.visible_level.add(-len(messages), now)
        self.in_flight_level.add(len(messages), now)
        receipts = []
        for msg in messages:
            msg.deliveries += 1
            self.received += 1
            if msg.deliveries > 1:
                self.duplicates += 1
                if msg.deliveries == 2:
                    self.redelivered += 1
            self.where[msg] = IN_FLIGHT
            receipt = Receipt(msg, msg.deliveries)
            self.in_flight[msg] = Lease(receipt, poller, now, now + self.lease)
            self.broker.after(self.lease, self._lapse, (msg, msg.deliveries))
            receipts.append(receipt)
        poller.deliver(receipts)

    # -- leases --------------------------------------------------------------------------
    def _lapse(self, due: tuple[Message, int]) -> None:
        msg, receive = due
        lease = self.in_flight.get(msg)
        if lease is None or lease.receive != receive:
            return  # deleted, returned or expired meanwhile
        now = self.env.now
        if lease.until > now + 1e-12:
            self.broker.after(lease.until - now, self._lapse, due)  # extended meanwhile
            return
        if self._extend(msg, lease, now):
            return
        self.lease_expiries += 1
        self._end_flight(msg, now)

    def _extend(self, msg: Message, lease: Lease, now: float) -> bool:
        """The holder's heartbeat: extended to ``lease`` after its last heartbeat, within the
        provider's cap (SQS: 12 h from the receive)."""
        heartbeat = lease.holder.heartbeat
        if heartbeat is None or not lease.holder.holding(lease.receipt):
            return False
        beats = math.floor((now - lease.received_at) / heartbeat + 1e-9)
        until = min(
            lease.received_at + beats * heartbeat + self.lease,
            lease.received_at + self.preset.lease_cap,
        )
        if until <= now + 1e-12:
            return False
        lease.until = until
        self.broker.after(until - now, self._lapse, (msg, lease.receive))
        return True

    def _end_flight(self, msg: Message, now: float) -> None:
        """The lease ends unsettled (lapsed or returned): visible again, or moved on past
        ``max_receives``."""
        del self.in_flight[msg]
        self.in_flight_level.add(-1, now)
        self.visible.settled(msg)
        if self.max_receives is not None and msg.deliveries >= self.max_receives:
            self._give_up(msg, now)
            self._serve_waiting()
        else:
            self._show(msg, now, returned=True)

    def _give_up(self, msg: Message, now: float) -> None:
        del self.where[msg]
        target = self.dead_letter
        if target is None:
            self.exhausted += 1
            self.recorder.end_branch(msg.flow, False, now)
            return
        self.dead_lettered += 1
        msg.producer = NO_PRODUCER
        target.publish(msg)

    # -- settlement ----------------------------------------------------------------------
    def settle(self, receipt: Receipt, ok: bool, partial_batch: bool) -> None:
        """A consumer finished ``receipt``: its message deleted (``ok``) or failed."""
        now = self.env.now
        msg, receive = receipt.message, receipt.receive
        lease = self.in_flight.get(msg)
        current = lease is not None and lease.receive == receive
        if not self.broker.up:
            if ok:
                self.stale_deletes += 1  # the call fails; the lease will lapse
            return
        if not ok:
            if current and partial_batch:
                self.returned += 1
                self._end_flight(msg, now)
            return
        state, rule = self.where.get(msg), self.preset.late_delete
        if current or (state == IN_FLIGHT and rule == "always"):
            del self.in_flight[msg]
            self.in_flight_level.add(-1, now)
            self.visible.settled(msg)
            if not current:
                self.late_deletes += 1
        elif state == VISIBLE and (
            rule == "always" or (rule == "unless-received-again" and msg.deliveries == receive)
        ):
            self.visible.remove(msg)
            self.visible_level.add(-1, now)
            self.late_deletes += 1
        else:
            self.stale_deletes += 1
            return
        del self.where[msg]
        self.deleted += 1
        self.recorder.completed(self.index, receipt, now)  # its processing's start, its flow
        self._serve_waiting()

    # -- retention -----------------------------------------------------------------------
    def _arm_retention(self) -> None:
        assert self.retention is not None
        arrivals = self.arrivals
        while arrivals and arrivals[0] not in self.where:
            arrivals.popleft()
        if not arrivals:
            self._retention_due = math.inf
            return
        self._retention_due = arrivals[0].published_at + self.retention
        self.broker.after(self._retention_due - self.env.now, self._retain, None)

    def _retain(self, _: None) -> None:
        assert self.retention is not None
        now = self.env.now
        arrivals = self.arrivals
        while arrivals and arrivals[0].published_at + self.retention <= now + 1e-9:
            msg = arrivals.popleft()
            state = self.where.pop(msg, None)
            if state is None:
                continue
            self.expired += 1
            if state == DELAYED:
                self.delayed_level.add(-1, now)
            elif state == VISIBLE:
                self.visible.remove(msg)
                self.visible_level.add(-1, now)
            else:
                del self.in_flight[msg]
                self.in_flight_level.add(-1, now)
                self.visible.settled(msg)
            self.recorder.end_branch(msg.flow, False, now)
        self._arm_retention()
        self._serve_waiting()

    def restart(self) -> None:
        """A managed service keeps every message through an outage."""

    # -- observation ---------------------------------------------------------------------
    def oldest_age(self, now: float) -> float:
        """Seconds since the oldest message not yet deleted arrived (SQS
        ApproximateAgeOfOldestMessage); 0 when there is none."""
        arrivals = self.arrivals
        while arrivals and arrivals[0] not in self.where:
            arrivals.popleft()
        return now - arrivals[0].published_at if arrivals else 0.0

    def sample(self) -> list[float]:
        """Visible, in flight, published and deleted, now; the oldest age for :meth:`series`
        and, after the warm-up, for the run's mean and maximum."""
        now = self.env.now
        age = self.oldest_age(now)
        self.age_series.append(age)
        if now >= self.recorder.warmup:
            self.age_sum += age
            self.age_samples += 1
            self.age_max = max(self.age_max, age)
        return [len(self.visible), len(self.in_flight), self.published, self.deleted]

    def start_window(self) -> None:
        """The warm-up ended: time-weighted levels start again from here, and so do the
        billable requests."""
        now = self.env.now
        for level in (self.visible_level, self.in_flight_level, self.delayed_level):
            level.start_window(now)
        self.requests_at_warmup = self.requests_so_far()

    def requests_so_far(self) -> dict[RequestKind, int]:
        """Billable API requests since the start (SQS pricing): each send (one per started
        64 KiB of its message), each receive (those that returned nothing apart), each delete
        (late and failed ones too: they are calls), each visibility change (a heartbeat, a
        failed message returned at once). **Simplified:** a receive is one request whatever its
        payload, and a dead-lettered message's move is not billed to this queue."""
        return {
            "send": self.send_requests,
            "receive": self.receives - self.empty_receives,
            "receive_empty": self.empty_receives,
            "delete": self.deleted + self.stale_deletes,
            "change_visibility": sum(p.heartbeats() for p in self.pollers) + self.returned,
        }

    def duplicates_so_far(self) -> int:
        """Receives after a message's first so far (``lease.duplicates``)."""
        return self.duplicates

    def billed_requests_so_far(self) -> int | None:
        """Billable requests since the warm-up (0 before it), as ``cost`` bills them."""
        if self.env.now < self.recorder.warmup:
            return 0 if self.spec.type in REQUEST_BILLED_QUEUE_TYPES else None
        requests = self._requests_in_window()
        return None if requests is None else sum(requests.values())

    def series(self) -> dict[str, list[float]]:
        """``oldest_age_s``: the age in seconds of the oldest message not yet ended at every
        sample (0 with none), whose mean after the warm-up is the run's ``oldest_age_mean``."""
        return {"oldest_age_s": list(self.age_series)}

    # -- end of run ----------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        """Counters over the whole run, with RabbitMQ's names where they mean the same."""
        return {
            "published": self.published,
            "delivered": self.received,
            "redelivered": self.duplicates,
            "acked": self.deleted,
            "dead_lettered": self.dead_lettered,
            "expired": self.expired,
        }

    def settle_books(self) -> None:
        """Every message ended once, or is still delayed, visible or in flight."""
        states = list(self.where.values())
        delayed, visible, flying = (states.count(s) for s in (DELAYED, VISIBLE, IN_FLIGHT))
        ends = sum(getattr(self, end) for end in ENDS) + delayed + visible + flying
        if ends != self.published:
            raise AssertionError(f"queue {self.name}: published {self.published} != {ends} ended")
        if visible != len(self.visible) or flying != len(self.in_flight):
            raise AssertionError(f"queue {self.name}: states disagree with the stores")
        levels = (self.delayed_level.value, self.visible_level.value, self.in_flight_level.value)
        if levels != (delayed, visible, flying):
            raise AssertionError(f"queue {self.name}: levels {levels} disagree with the states")

    def _requests_in_window(self) -> dict[RequestKind, int] | None:
        if self.spec.type not in REQUEST_BILLED_QUEUE_TYPES:
            return None
        now, before = self.requests_so_far(), self.requests_at_warmup
        return {kind: count - before[kind] for kind, count in now.items()}

    def report(self, window: float, completions: int) -> QueueRun:
        """This queue's figures over the run (levels over the measured ``window``)."""
        now = self.env.now
        visible = self.visible_level.report(window, now)
        in_flight = self.in_flight_level.report(window, now)
        return QueueRun(
            name=self.name,
            counts=self.counts(),
            backlog_mean=visible.mean,
            backlog_max=visible.max,
            backlog_final=visible.final,
            unacked_final=in_flight.final,
            completions=completions,
            requests=self._requests_in_window(),
            stream=None,
            kafka=None,
            lease=LeaseRun(
                receives=self.receives,
                received=self.received,
                empty_receives=self.empty_receives,
                deleted=self.deleted,
                duplicates=self.duplicates,
                redelivered=self.redelivered,
                lease_expiries=self.lease_expiries,
                returned=self.returned,
                heartbeats=sum(poller.heartbeats() for poller in self.pollers),
                late_deletes=self.late_deletes,
                stale_deletes=self.stale_deletes,
                dead_lettered=self.dead_lettered,
                exhausted=self.exhausted,
                expired=self.expired,
                resends=self.resends,
                deduplicated=self.deduplicated,
                duplicate_sends=self.duplicate_sends,
                visible=visible,
                in_flight=in_flight,
                delayed=self.delayed_level.report(window, now),
                oldest_age_mean=self.age_sum / self.age_samples if self.age_samples else 0.0,
                oldest_age_max=self.age_max,
            ),
        )
