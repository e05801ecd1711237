"""A reader group: the readers of one consumer pool on one log, and what they did.

Every reader of a log reads every record (streams.md#overview); a group only adds them up. It
keeps the pool's books, its lag, and the pool's *branch* of each record's flow: one branch per
pool that reads the log, ended by the pool's first processing of the record (completed if it
succeeded, failed if it failed) or, failed, when retention removes the record first. Later
processings of the same record by the pool (another replica, a re-read after a crash) record
their latency but leave the flow alone, so each flow ends exactly once. A Kafka consumer group
is the same books with the partitions shared out among its members.

Books, checked at the end of the run::

    delivered = acked + failed + interrupted + unsettled          (each delivery, once)
    lag       = sum over readers of (records behind + unsettled)  (the level, kept as it moves)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qsim.engine.log.ended import EndedOffsets
from qsim.engine.log.level import Level
from qsim.engine.message import Flow
from qsim.engine.recorder import Recorder
from qsim.engine.results import ReaderRun

if TYPE_CHECKING:
    from qsim.engine.log.partition import Delivery, Segment
    from qsim.engine.log.reader import Reader


class ReaderGroup:
    """The readers of pool ``name`` on the log of queue ``index``. ``waiting`` is the log's
    level of records not yet delivered, all groups together, which the group keeps up to date;
    ``start`` is the log's end when the group was formed (earlier records have no branch in it).
    """

    def __init__(
        self, name: str, index: int, start: int, recorder: Recorder, waiting: Level
    ) -> None:
        self.name = name
        self.index = index
        self.recorder = recorder
        self.waiting = waiting
        self.readers: list[Reader] = []
        self.delivered = self.redelivered = self.acked = self.failed = 0
        self.interrupted = self.lost = self.unsettled = 0
        self.lag = Level()
        self.start = start
        self.ended = EndedOffsets(start)
        self.branches_ok = self.branches_failed = 0

    # -- the readers' movements -------------------------------------------------------------
    def appended(self, now: float) -> None:
        """A record was appended: every reader is one more behind."""
        count = len(self.readers)
        self.lag.add(count, now)
        self.waiting.add(count, now)

    def moved(self, behind: int, now: float) -> None:
        """A reader's position moved: ``behind`` more records before it (negative: fewer)."""
        self.lag.add(behind, now)
        self.waiting.add(behind, now)

    def skipped(self, count: int) -> None:
        """Retention removed ``count`` records before a reader got to them."""
        self.lost += count

    def sent(self, reread: bool, now: float) -> None:
        """A reader was sent a record (``reread``: one it had been sent before)."""
        self.delivered += 1
        self.redelivered += reread
        self.unsettled += 1
        self.waiting.add(-1, now)

    def settled(self, msg: Delivery, ok: bool, now: float) -> None:
        """A reader finished processing ``msg``: ``ok`` acked, else failed (and skipped)."""
        self.unsettled -= 1
        self.lag.add(-1, now)
        if ok:
            self.acked += 1
            self.recorder.record(self.index, msg, now)
        else:
            self.failed += 1
        if self.ended.open(msg.offset):
            self.ended.end(msg.offset)
            self._branch_ended(msg.flow, ok, now)

    def interrupted_deliveries(self, reader: Reader, first: int, now: float) -> None:
        """``reader``'s connection closed with what it was sent unprocessed; ``first`` is the
        log's first offset: a record already removed is gone for the pool, unless another of
        its readers still holds it."""
        held = reader.sent
        count = len(held)
        self.interrupted += count
        self.unsettled -= count
        self.lag.add(-count, now)
        gone = [msg for msg in held if msg.offset < first]
        if gone:
            others = self._held(but=reader)
            for msg in gone:
                if msg.offset not in others and self.ended.open(msg.offset):
                    self.ended.end(msg.offset)
                    self._branch_ended(msg.flow, False, now)

    # -- flow branches ----------------------------------------------------------------------
    def _held(self, but: Reader | None = None) -> set[int]:
        """Offsets the group's readers (but one) were sent and have not processed."""
        return {msg.offset for r in self.readers if r is not but for msg in r.sent}

    def _branch_ended(self, flow: Flow, ok: bool, now: float) -> None:
        if ok:
            self.branches_ok += 1
        else:
            self.branches_failed += 1
        self.recorder.end_branch(flow, ok, now)

    def removed(self, segments: list[Segment], now: float) -> None:
        """Retention removed ``segments``: the branches of their records still open fail,
        except where a reader holds the record (it still processes it)."""
        held = self._held()
        for segment in segments:
            for offset in range(max(segment.first, self.ended.low), segment.end):
                if offset not in held and self.ended.open(offset):
                    self.ended.end(offset)
                    self._branch_ended(segment.flows[offset - segment.first], False, now)

    # -- end of run ---------------------------------------------------------------------------
    def settle_books(self, end: int) -> None:
        """Check the group's books (see the module) at the end of the run; ``end`` is the log's."""
        held = sum(len(reader.sent) for reader in self.readers)
        ends = self.acked + self.failed + self.interrupted + held
        if ends != self.delivered or held != self.unsettled:
            raise AssertionError(f"pool {self.name}: delivered {self.delivered} != {ends} ended")
        behind = sum(end - reader.position + len(reader.sent) for reader in self.readers)
        if behind != self.lag.value:
            raise AssertionError(f"pool {self.name}: lag {self.lag.value} != {behind} behind")
        ended = len(self.ended)
        if self.branches_ok + self.branches_failed != ended:
            raise AssertionError(f"pool {self.name}: {ended} branches ended, counted otherwise")

    def report(self, window: float, now: float) -> ReaderRun:
        """The group's figures (lag over the measured ``window``, ending ``now``)."""
        return ReaderRun(
            delivered=self.delivered,
            redelivered=self.redelivered,
            acked=self.acked,
            failed=self.failed,
            interrupted=self.interrupted,
            lost_to_retention=self.lost,
            lag=self.lag.report(window, now),
        )
