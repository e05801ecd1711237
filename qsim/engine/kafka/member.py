"""A Kafka consumer: one replica's poll loop in its group (the Java ``KafkaConsumer`` as an
application drives it: ``while (true) { records = poll(); for (r : records) process(r); }``).

It is the :class:`~qsim.engine.protocols.Subscription` of the Kafka delivery model:

- ``poll()``: first the auto-commit, if ``commit: auto`` and ``auto_commit_interval`` has passed
  since the last one, of the positions of every owned partition, i.e. what earlier polls
  returned (``ConsumerCoordinator.maybeAutoCommitOffsetsAsync``: ``subscriptions.allConsumed()``);
  then the group's business (rejoining a round, revoking, leaving); then up to
  ``max_poll_records`` records from its partitions, each partition's in offset order, starting
  with the partition after the one the last poll started with. With none available it waits in
  ``poll`` and returns as soon as a record is appended to one of its partitions (fetch.min.bytes
  1: no fetch latency is modelled).
- The records are processed one at a time, in the order polled; then it polls again. With
  ``commit: record`` it commits each record's offset after processing it, with ``batch`` all
  positions after the batch (``commitSync()``), with ``auto`` at the next poll due.
- Auto-commit in this synchronous loop commits only records the loop has processed: nothing
  polled is ever committed unprocessed, so nothing is lost to a crash; what was processed since
  the last commit is processed again by the partition's next owner (duplicates). Records handed
  to other threads would be lost instead: qsim does not model asynchronous processing.
- A failed processing is retried at once, in place, ``retries`` times (none: forever, and the
  partition stalls behind the record), then the record goes to ``dead_letter_topic``, to the
  same partition number, or is skipped (Spring Kafka ``DefaultErrorHandler``:
  ``FixedBackOff(0, 9)`` by default; ``DeadLetterPublishingRecoverer``).
- A batch still in progress ``max_poll_interval`` after its poll gets the member put out of
  the group; it finishes the batch (its commits fail: ``CommitFailedException``) and rejoins at
  its next poll, while the partitions' new owners read from the last commit (duplicates).
- A crash (or a replica removed at once) loses the batch; its partitions stall until the
  group expels the member; a restarted process joins as a new member. A drained replica
  finishes its batch, commits (auto-commit on ``close()``) and leaves the group.
- An outage pauses polling; the batch in hand is processed and committed (the coordinator is
  assumed reachable).
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from qsim.engine.kafka.group import ConsumerGroup, Membership
    from qsim.engine.kafka.topic import Record, Topic
    from qsim.engine.message import Message
    from qsim.engine.worker import Worker
    from qsim.scenario import ConsumerPool


class Member:
    """One replica's consumer of ``topic`` in ``group``, configured by its pool ``spec``."""

    __slots__ = (
        "batch", "broker", "commit", "connected", "env", "epoch", "group", "interval",
        "leaving", "max_poll", "max_records", "membership", "next_commit", "polls", "positions",
        "reset", "retries", "revokes", "rotation", "topic", "waiting", "worker", "working",
    )  # fmt: skip

    def __init__(self, topic: Topic, worker: Worker, group: ConsumerGroup, spec: ConsumerPool):
        assert spec.max_poll_records is not None and spec.auto_commit_interval is not None
        assert spec.max_poll_interval is not None and spec.commit is not None
        self.topic = topic
        self.group = group
        self.broker = topic.broker
        self.env = topic.env
        self.worker = worker
        self.max_records = spec.max_poll_records
        self.commit = spec.commit
        self.interval = spec.auto_commit_interval
        self.max_poll = spec.max_poll_interval
        self.retries = spec.retries
        self.reset = spec.auto_offset_reset
        self.membership: Membership | None = None
        self.positions: dict[int, int] = {}  # owned partition -> next offset to fetch
        self.batch: deque[Record] = deque()  # polled, not yet processed
        self.working: Record | None = None  # with the worker
        self.revokes = False  # the group asked it to revoke partitions at its next poll
        self.waiting = False  # inside poll, waiting for records
        self.leaving = False
        self.connected = False
        self.next_commit = self.env.now + self.interval
        self.polls = 0
        self.rotation = 0
        self.epoch = 0
        self.broker.consumers.append(self)

    # -- the subscription, as the worker sees it ---------------------------------------------
    def open(self) -> None:
        """Start polling (again): the replica started, restarted, or the broker is back."""
        if not self.worker.wants_deliveries or not self.broker.up:
            return
        self.connected = True
        if self.membership is None:
            self.group.join(self)
        self._poll_if_idle()

    def cancel(self) -> None:
        """Stop polling: finish the batch, commit and leave the group (a drained replica)."""
        if self.leaving:
            return
        self.leaving = True
        if not self.holds():
            self._leave()

    def holds(self) -> bool:
        """Whether polled records are still to be processed."""
        return self.working is not None or bool(self.batch)

    revokes_each = False

    def current(self, msg: Message, epoch: int) -> bool:
        """Still this consumer's record: no crash since its work started."""
        return epoch == self.epoch

    def settle(self, msg: Message, ok: bool | None, epoch: int) -> None:
        """The worker finished ``msg``: processed, or failed and retried, dead-lettered or
        skipped; then the next record of the batch, or the next poll."""
        record = cast("Record", msg)
        self.working = None
        now = self.env.now
        p = record.partition
        books = self.group.books[p]
        if record.poison is not None:
            self.topic.partitions[p].decide_poison(record.offset, record.poison)
        books.settled(record, ok is True, now)
        if ok is True:
            if self.commit == "record":
                self._commit(p, record.offset + 1)
        else:
            record.failures += 1
            if self.retries is None or record.failures <= self.retries:
                record.deliveries += 1  # another attempt: a fresh service time
                books.sent(1)
                self.batch.appendleft(record)
            else:
                self.topic.give_up(self.group, p, record, now)
        if self.batch:
            self._next()
            return
        if self.commit == "batch":
            for q, position in self.positions.items():
                self._commit(q, position)
        if self.leaving:
            self._leave()
            self.worker.settled()
        else:
            self._poll()

    def close(self, lost: list[Message] | None) -> None:
        """The process died (or was removed at once): the polled records are lost with it,
        its group notices after the session timeout, a restart joins anew."""
        self.epoch += 1
        self.worker.forget_buffer()
        for p, count in self.held().items():
            self.group.books[p].interrupt(count)
        self.batch.clear()
        self.working = None
        self.waiting = False
        self.positions.clear()
        self.revokes = False
        if self.membership is not None:
            self.group.crashed(self.membership)
            self.membership = None

    def connection_lost(self) -> None:
        """The broker went away: no polls until it is back (:meth:`open`)."""
        self.connected = False
        self.waiting = False

    # -- what the group asks ----------------------------------------------------------------
    def round_started(self) -> None:
        """A rebalance round began: rejoin at the next poll (now, if waiting in one)."""
        self._poll_if_idle()

    def assigned(self) -> None:
        """The round ended: fetch newly owned partitions from the group's committed offsets."""
        membership = self.membership
        if membership is None:
            return
        owned = set(membership.partitions)
        for p in list(self.positions):
            if p not in owned:
                del self.positions[p]
        for p in owned:
            if p not in self.positions:
                self.positions[p] = self.group.books[p].committed
        self.revokes = any(p in self.group.revoking for p in owned)
        self._poll_if_idle()

    def wake(self) -> None:
        """A record was appended to one of its partitions."""
        if self.waiting:
            self._poll()

    def held(self) -> dict[int, int]:
        """Records polled and not yet processed, by partition."""
        counts: dict[int, int] = {}
        for record in self.batch:
            p = record.partition
            counts[p] = counts.get(p, 0) + 1
        if self.working is not None:
            p = self.working.partition
            counts[p] = counts.get(p, 0) + 1
        return counts

    # -- the poll loop ------------------------------------------------------------------------
    def _poll_if_idle(self) -> None:
        if not self.holds():
            self._poll()

    def _poll(self) -> None:
        self.waiting = False
        if not self.connected or not self.worker.wants_deliveries:
            if self.leaving and not self.holds():
                self._leave()
            return
        membership = self.membership
        if membership is None:  # put out of the group: rejoin
            self.group.join(self)
            return
        now = self.env.now
        if self.commit == "auto" and now >= self.next_commit:
            self.next_commit = now + self.interval
            self._commit_positions()
        group = self.group
        if group.wants_rejoin(membership):
            if group.eager and self.commit == "auto":
                self._commit_positions()  # onJoinPrepare commits before revoking
            if group.eager:
                self.positions.clear()
            group.rejoin(membership)
            return
        if self.revokes:
            self.revokes = False
            for p in [p for p in membership.partitions if p in group.revoking]:
                if self.commit == "auto" and p in self.positions:
                    self._commit(p, self.positions[p])
                self.positions.pop(p, None)
                group.revoked(membership, p)
            if self.membership is None or self.holds():
                return
        self._fetch(membership)

    def _fetch(self, membership: Membership) -> None:
        owned = [p for p in membership.partitions if p in self.positions]
        if not owned:
            self.waiting = True
            return
        budget = self.max_records
        start = self.rotation % len(owned)
        self.rotation += 1
        topic = self.topic
        for p in owned[start:] + owned[:start]:
            if budget == 0:
                break
            log = topic.partitions[p]
            position = self.positions[p]
            if position < log.first:
                position = self._reset(p, position)
            last = min(log.end, position + budget)
            if last > position:
                books = self.group.books[p]
                for offset in range(position, last):
                    record = log.read(offset)
                    record.deliveries = 1 if books.first_fetch(offset) else 2
                    self.batch.append(record)
                books.sent(last - position)
                budget -= last - position
                self.positions[p] = last
        if not self.batch:
            self.waiting = True
            return
        self.polls += 1
        self.broker.after(self.max_poll, self._poll_timeout, self.polls)
        self._next()

    def _reset(self, p: int, position: int) -> int:
        """The position is out of range (retention removed it): auto.offset.reset."""
        log = self.topic.partitions[p]
        target = log.end if self.reset == "latest" else log.first
        self.group.books[p].skipped(position, target, self.env.now)
        self.positions[p] = target
        return target

    def _next(self) -> None:
        record = self.batch.popleft()
        self.working = record
        self.worker.receive(record)

    def _poll_timeout(self, polls: int) -> None:
        """``max_poll_interval`` after a poll: still on that batch, the member is put out."""
        if polls == self.polls and self.holds() and self.membership is not None:
            membership = self.membership
            self.membership = None
            self.positions.clear()
            self.revokes = False
            self.group.put_out(membership)

    # -- offsets and leaving ------------------------------------------------------------------
    def _commit(self, p: int, offset: int) -> None:
        """Commit ``offset`` for ``p``: refused unless the member still owns ``p``."""
        membership = self.membership
        if membership is not None and self.group.owned_by(membership, p):
            self.group.books[p].commit(offset, self.env.now)

    def _commit_positions(self) -> None:
        for p, position in self.positions.items():
            self._commit(p, position)

    def _leave(self) -> None:
        if self.membership is None:
            return
        if self.commit == "auto":
            self._commit_positions()  # close() commits synchronously
        membership = self.membership
        self.membership = None
        self.positions.clear()
        self.group.leave(membership)
