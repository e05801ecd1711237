"""One consumer group's books on one partition: its committed offset, its lag, and the flow
branches of the partition's records (``docs/semantics.md``, "Kafka").

Every record appended while the group exists opens one branch of its flow in the group. The
branch ends once: completed at the record's first successful processing, failed when the record
is given up after its retries (with no dead-letter topic) or lost to retention before anyone
processed it, or *moved* when it is published to the dead-letter topic (the branch goes on
there). A record processed again later (a re-read after a crash or a rebalance) is a duplicate:
its latency is recorded, its flow is left alone.

Records of a partition are processed in offset order, so branches end in offset order too:
``out_of_order`` counts the exceptions (two members processing one partition at once, after
one exceeded ``max_poll_interval``), and the ordering property test holds it at zero.

Books, checked at the end of the run::

    fetched = processed + duplicates + failed + interrupted + held   (each fetch, once)
    ended   = completed + given_up + moved + lost                   (each branch, once)
    lag     = log end - committed                                   (the level, as it moved)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qsim.engine.log.ended import EndedOffsets
from qsim.engine.log.level import Level
from qsim.engine.message import Flow
from qsim.engine.recorder import Recorder

if TYPE_CHECKING:
    from qsim.engine.log.partition import Delivery, Partition, Segment


class PartitionBooks:
    """The books of one group on partition ``number`` of the topic of queue ``index``."""

    __slots__ = (
        "_done",
        "committed",
        "completed",
        "duplicates",
        "ended",
        "failed",
        "fetched",
        "given_up",
        "held",
        "index",
        "interrupted",
        "lag",
        "lag_s_max",
        "lag_s_samples",
        "lag_s_sum",
        "lost",
        "moved",
        "number",
        "out_of_order",
        "partition",
        "processed",
        "recorder",
        "start",
        "total",
    )  # fmt: skip

    def __init__(
        self, number: int, partition: Partition, index: int, recorder: Recorder, total: Level
    ) -> None:
        self.number = number
        self.total = total  # the topic's lag, every partition and group together
        self.partition = partition
        self.index = index
        self.recorder = recorder
        self.start = partition.end  # records before it have no branch in the group
        self.committed = partition.end  # the group exists before the run: it starts at the end
        self.lag = Level()
        self.fetched = self.processed = self.duplicates = self.failed = 0
        self.interrupted = self.held = 0
        self.completed = self.given_up = self.moved = self.lost = 0
        self.out_of_order = 0
        self.lag_s_sum = self.lag_s_max = 0.0
        self.lag_s_samples = 0
        self._done = partition.end  # every offset below it was processed once
        self.ended = EndedOffsets(partition.end)

    # -- the log and the group's members ----------------------------------------------------
    def appended(self, now: float) -> None:
        """A record was appended: one more behind the committed offset."""
        self.lag.add(1, now)
        self.total.add(1, now)

    def commit(self, offset: int, now: float) -> None:
        """The group commits ``offset`` (the next record to read) for the partition."""
        self.lag.add(self.committed - offset, now)
        self.total.add(self.committed - offset, now)
        self.committed = offset

    def sent(self, count: int) -> None:
        """A member fetched ``count`` records of the partition."""
        self.fetched += count
        self.held += count

    def first_fetch(self, offset: int) -> bool:
        """Whether the record at ``offset`` is fetched for the first time by the group."""
        return offset >= self._done

    def settled(self, msg: Delivery, ok: bool, now: float) -> None:
        """A member finished ``msg``: processed (``ok``) or failed (it will be retried, moved
        or given up: :meth:`give_up`, :meth:`move`)."""
        self.held -= 1
        if not ok:
            self.failed += 1
            return
        offset = msg.offset
        self.recorder.record(self.index, msg, now)
        if not self.ended.open(offset):  # processed before (or lost while a member held it)
            self.duplicates += 1
            return
        self.processed += 1
        self._done = max(self._done, offset + 1)
        self._end(offset)
        self.completed += 1
        self.recorder.end_branch(msg.flow, True, now)

    def give_up(self, msg: Delivery, now: float) -> None:
        """``msg`` failed its last retry and no dead-letter topic takes it: skipped, failed."""
        self._done = max(self._done, msg.offset + 1)
        if self.ended.open(msg.offset):
            self._end(msg.offset)
            self.given_up += 1
            self.recorder.end_branch(msg.flow, False, now)

    def move(self, msg: Delivery) -> bool:
        """``msg`` failed its last retry and goes to the dead-letter topic: whether its branch
        moves there (False: it had ended already, a duplicate's retries)."""
        self._done = max(self._done, msg.offset + 1)
        if not self.ended.open(msg.offset):
            return False
        self._end(msg.offset)
        self.moved += 1
        return True

    def interrupt(self, count: int) -> None:
        """A crash cut ``count`` fetched records before they were processed."""
        self.held -= count
        self.interrupted += count

    def removed(self, segments: list[Segment], now: float) -> None:
        """Retention removed ``segments``: the open branches of their records fail."""
        for segment in segments:
            for offset in range(max(segment.first, self.ended.low), segment.end):
                if self.ended.open(offset):
                    self._lose(offset, segment.flows[offset - segment.first], now)

    def skipped(self, first: int, last: int, now: float) -> None:
        """An offset reset jumped over offsets ``first`` to ``last - 1`` (still in the log)."""
        partition = self.partition
        for offset in range(max(first, self.ended.low, partition.first), last):
            if self.ended.open(offset):
                self._lose(offset, partition.read(offset).flow, now)
        self._done = max(self._done, last)

    def _lose(self, offset: int, flow: Flow, now: float) -> None:
        self._end(offset, lost=True)
        self.lost += 1
        self.recorder.end_branch(flow, False, now)

    def _end(self, offset: int, lost: bool = False) -> None:
        """End the branch at ``offset``: a processing (not a loss) above the lowest open one is
        out of order."""
        if not self.ended.end(offset) and not lost:
            self.out_of_order += 1

    # -- samples and end of run -------------------------------------------------------------
    def lag_age(self, now: float) -> float:
        """The lag in seconds: the age of the oldest uncommitted record (0 with none)."""
        partition = self.partition
        at = max(self.committed, partition.first)
        return now - partition.time_of(at) if at < partition.end else 0.0

    def sample_lag(self, now: float) -> float:
        """Sample the lag in seconds (:meth:`lag_age`) into the run's mean and maximum;
        return it."""
        age = self.lag_age(now)
        self.lag_s_sum += age
        self.lag_s_samples += 1
        self.lag_s_max = max(self.lag_s_max, age)
        return age

    def settle_books(self, name: str, held: int) -> None:
        """Check the books (see the module); ``held`` is what the members hold unprocessed."""
        fetches = self.processed + self.duplicates + self.failed + self.interrupted + held
        if fetches != self.fetched or held != self.held:
            raise AssertionError(f"{name}: fetched {self.fetched} != {fetches} ended")
        ended = len(self.ended)
        if self.completed + self.given_up + self.moved + self.lost != ended:
            raise AssertionError(f"{name}: {ended} branches ended, counted otherwise")
        if self.lag.value != self.partition.end - self.committed:
            raise AssertionError(f"{name}: lag {self.lag.value} != end - committed")
