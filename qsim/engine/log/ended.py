"""Which records of a log have had their flow branch ended by a group of readers: every offset
below a low-water mark, plus the few above it that ended out of order. Records mostly end in
offset order, so the set stays small and the mark moves on."""

from __future__ import annotations


class EndedOffsets:
    """Offsets from ``start`` on whose branch has ended (ended at most once each)."""

    __slots__ = ("_above", "low", "start")

    def __init__(self, start: int) -> None:
        self.start = start
        self.low = start  # every branch below this offset has ended
        self._above: set[int] = set()  # branches ended above it (out of order)

    def open(self, offset: int) -> bool:
        """Whether the branch of the record at ``offset`` is still open."""
        return offset >= self.low and offset not in self._above

    def end(self, offset: int) -> bool:
        """End the (open) branch at ``offset``; returns whether it was the lowest open one."""
        if offset != self.low:
            self._above.add(offset)
            return False
        self.low += 1
        while self.low in self._above:
            self._above.remove(self.low)
            self.low += 1
        return True

    def __len__(self) -> int:
        """How many branches have ended."""
        return self.low - self.start + len(self._above)
