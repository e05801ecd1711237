"""A partition: an append-only log of records at consecutive offsets, kept in segments.

This is the storage a RabbitMQ stream is (one partition) and a Kafka topic has several of. Records
are appended at offsets 0, 1, 2, ... and never changed; reading removes nothing. They are kept in
segments, and a segment *rolls over* (the next record opens a new one) once it holds
``segment_bytes`` or :data:`SEGMENT_RECORDS` records (osiris_log.erl ``write_chunk``,
``max_segment_size_reached``; one qsim record is one osiris chunk).

Retention removes whole segments, oldest first, and always keeps the newest one
(streams.md#retention; osiris_log.erl ``evaluate_retention0``):

- ``max_bytes``: the newest segment is kept, then older ones as long as the total stays within
  ``max_bytes``; the first that does not fit is removed with every older one (``eval_max_bytes``).
- ``max_age``: the oldest segment is removed while its **last** record is older than
  ``now - max_age`` and another segment remains (``eval_age``).

*When* retention runs is the broker's rule (:mod:`qsim.engine.log.stream`). A segment's size is
the sum of its records' ``size`` (the producer's): chunk headers and the index are not counted.
Records are stored in columns (arrays), not as message objects, so a long log stays compact.
"""

from __future__ import annotations

import bisect
import math
from array import array

from qsim.engine.message import Flow, Message

SEGMENT_RECORDS = 256_000
"""A segment also rolls over after this many chunks (osiris ``DEFAULT_MAX_SEGMENT_SIZE_C``)."""
UNKNOWN, HEALTHY, POISON = -1, 0, 1
"""A record's poison column: not decided yet, decided healthy, decided poison."""


class Delivery(Message):
    """One reading of a record: the message a worker processes, which knows its offset."""

    __slots__ = ("offset",)

    def __init__(self, offset: int, producer: int, flow: Flow, size: float) -> None:
        super().__init__(producer, flow, math.inf, 0, size, True)
        self.offset = offset


class Segment:
    """Consecutive records from offset ``first``, one column per field."""

    __slots__ = ("bytes", "first", "flows", "poison", "producer", "service", "size", "time", "work")

    def __init__(self, first: int) -> None:
        self.first = first
        self.bytes = 0.0
        self.time = array("d")  # when each record was appended (its timestamp)
        self.size = array("d")
        self.work = array("d")  # each record's work draw (Message.work) ...
        self.service = array("d")  # ... or its service time, where one pool reads the log
        self.producer = array("h")
        self.poison = array("b")
        self.flows: list[Flow] = []

    def __len__(self) -> int:
        return len(self.time)

    @property
    def end(self) -> int:
        """The offset after its last record."""
        return self.first + len(self.time)

    def add(self, msg: Message, now: float) -> None:
        """Append ``msg`` as a record written at ``now``."""
        self.time.append(now)
        self.size.append(msg.size)
        self.work.append(msg.work)
        self.service.append(msg.service)
        self.producer.append(msg.producer)
        self.poison.append(UNKNOWN if msg.poison is None else int(msg.poison))
        self.flows.append(msg.flow)
        self.bytes += msg.size

    def delivery(self, offset: int) -> Delivery:
        """The record at ``offset`` as a message to process."""
        i = offset - self.first
        msg = Delivery(offset, self.producer[i], self.flows[i], self.size[i])
        msg.published_at = self.time[i]
        msg.work = self.work[i]
        msg.service = self.service[i]
        poison = self.poison[i]
        msg.poison = None if poison == UNKNOWN else poison == POISON
        return msg


class Partition:
    """An append-only log in segments, with its retention limits (None: no limit)."""

    def __init__(
        self, segment_bytes: float, max_bytes: float | None, max_age: float | None
    ) -> None:
        self.segment_bytes = segment_bytes
        self.max_bytes = max_bytes
        self.max_age = max_age
        self.segments: list[Segment] = [Segment(0)]
        self.end = 0  # the offset the next record gets
        self.removed = 0  # records removed by retention

    @property
    def first(self) -> int:
        """The oldest offset retained (``end`` when the log is empty)."""
        return self.segments[0].first

    @property
    def retained(self) -> int:
        """Records in the log."""
        return self.end - self.first

    @property
    def bytes(self) -> float:
        """Bytes of the records in the log."""
        return sum(segment.bytes for segment in self.segments)

    @property
    def retains(self) -> bool:
        """Whether any retention limit is set."""
        return self.max_bytes is not None or self.max_age is not None

    def append(self, msg: Message, now: float) -> bool:
        """Write ``msg`` at offset ``end``; returns whether a new segment was opened for it."""
        segment = self.segments[-1]
        rolled = segment.bytes >= self.segment_bytes or len(segment) >= SEGMENT_RECORDS
        if rolled:
            segment = Segment(self.end)
            self.segments.append(segment)
        segment.add(msg, now)
        self.end += 1
        return rolled

    def read(self, offset: int) -> Delivery:
        """The record at ``offset`` (``first <= offset < end``)."""
        return self._segment(offset).delivery(offset)

    def _segment(self, offset: int) -> Segment:
        segments = self.segments
        last = segments[-1]
        if offset >= last.first:
            return last
        return segments[bisect.bisect_right(segments, offset, key=_first) - 1]

    def time_of(self, offset: int) -> float:
        """When the record at ``offset`` was appended."""
        segment = self._segment(offset)
        return segment.time[offset - segment.first]

    def decide_poison(self, offset: int, poison: bool) -> None:
        """Whether the record at ``offset`` is poison, once decided (if it is still retained)."""
        if self.first <= offset < self.end:
            segment = self._segment(offset)
            i = offset - segment.first
            if segment.poison[i] == UNKNOWN:
                segment.poison[i] = POISON if poison else HEALTHY

    def offset_at(self, time: float) -> int:
        """The first offset written at or after ``time`` (``end`` if none is)."""
        for segment in self.segments:
            if segment.time and segment.time[-1] >= time:
                return segment.first + bisect.bisect_left(segment.time, time)
        return self.end

    def retain(self, now: float) -> list[Segment]:
        """Evaluate retention at ``now``: remove what the limits allow and return the segments
        removed, oldest first."""
        count = max(self._over_bytes(), self._over_age(now))
        removed = self.segments[:count]
        if removed:
            del self.segments[:count]
            self.removed += sum(len(segment) for segment in removed)
        return removed

    def _over_bytes(self) -> int:
        """How many of the oldest segments ``max_bytes`` removes."""
        if self.max_bytes is None:
            return 0
        room = self.max_bytes
        kept = 0
        for segment in reversed(self.segments):
            room -= segment.bytes
            if kept and room < 0:
                break
            kept += 1
        return len(self.segments) - kept

    def _over_age(self, now: float) -> int:
        """How many of the oldest segments ``max_age`` removes."""
        if self.max_age is None:
            return 0
        oldest = now - self.max_age
        count = 0
        while count < len(self.segments) - 1 and self.segments[count].time[-1] < oldest:
            count += 1
        return count


def _first(segment: Segment) -> int:
    return segment.first
