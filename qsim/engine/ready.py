"""Ready-message stores: the part of a queue that holds messages not yet delivered.

``FifoReady`` is a classic queue. ``PriorityReady`` follows RabbitMQ priority queues
(priority.md): levels 0..``max_priority``, a message without priority counts as 0 and one above
the maximum counts as the maximum; higher levels are served first, FIFO within a level.
Requeued messages go back to the head (of their level), as confirms.md describes for returns.

``QuorumReady`` is a RabbitMQ 4.3 quorum queue (rabbit_fifo.erl ``take_next_msg``,
rabbit_fifo_pq.erl; quorum-queues/index.md#priorities, #returned-messages): 32 strict priority
levels 0..31 (a message without priority counts as 4, values are clamped), and returned
messages in a list of their own, served before every ready message in the order they returned.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Protocol

from qsim.engine.message import NO_PRIORITY, Message


class Ready(Protocol):
    """What a queue needs of its ready store."""

    push_keeps_head: bool
    """Whether :meth:`push` onto a non-empty store always leaves its head as it was."""

    def __len__(self) -> int: ...
    def push(self, msg: Message) -> None: ...
    def push_return(self, msg: Message) -> None: ...
    def pop(self) -> Message: ...
    def peek(self) -> Message: ...
    def remove_if(self, doomed: Callable[[Message], bool]) -> list[Message]: ...


class FifoReady(deque[Message]):
    """First in, first out; requeues go to the head."""

    push_keeps_head = True  # a push goes to the tail
    push = deque.append
    push_return = deque.appendleft
    pop = deque.popleft

    def peek(self) -> Message:
        """The message that would be delivered next."""
        return self[0]

    def remove_if(self, doomed: Callable[[Message], bool]) -> list[Message]:
        """Remove and return the messages ``doomed`` picks; the others keep their order."""
        return _remove_if(self, doomed)


class PriorityReady:
    """One FIFO per priority level, served highest level first."""

    __slots__ = ("_count", "_levels", "_max")
    push_keeps_head = False  # a higher priority goes ahead

    def __init__(self, max_priority: int) -> None:
        self._max = max_priority
        self._levels: list[deque[Message]] = [deque() for _ in range(max_priority + 1)]
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def _level(self, msg: Message) -> deque[Message]:
        return self._levels[min(max(msg.priority, 0), self._max)]

    def push(self, msg: Message) -> None:
        """Add at the tail of the message's level."""
        self._level(msg).append(msg)
        self._count += 1

    def push_return(self, msg: Message) -> None:
        """A returned message: back to the head of its level."""
        self._level(msg).appendleft(msg)
        self._count += 1

    def _top(self) -> deque[Message]:
        for level in reversed(self._levels):
            if level:
                return level
        raise IndexError("pop from an empty queue")

    def pop(self) -> Message:
        """Remove the next message: the oldest of the highest non-empty level."""
        msg = self._top().popleft()
        self._count -= 1
        return msg

    def peek(self) -> Message:
        """The message that would be delivered next."""
        return self._top()[0]

    def remove_if(self, doomed: Callable[[Message], bool]) -> list[Message]:
        """Remove and return the messages ``doomed`` picks; the others keep their order."""
        removed = [m for level in self._levels for m in _remove_if(level, doomed)]
        self._count -= len(removed)
        return removed


QUORUM_LEVELS = 32
QUORUM_DEFAULT_PRIORITY = 4


class QuorumReady(PriorityReady):
    """A quorum queue's returns list, then 32 priority levels served highest first."""

    __slots__ = ("_returns",)

    def __init__(self) -> None:
        super().__init__(QUORUM_LEVELS - 1)
        self._returns: deque[Message] = deque()

    def _level(self, msg: Message) -> deque[Message]:
        if msg.priority == NO_PRIORITY:
            return self._levels[QUORUM_DEFAULT_PRIORITY]
        return super()._level(msg)

    def push_return(self, msg: Message) -> None:
        """A returned message: at the tail of the returns list (served before any level)."""
        self._returns.append(msg)
        self._count += 1

    def _top(self) -> deque[Message]:
        return self._returns if self._returns else super()._top()

    def remove_if(self, doomed: Callable[[Message], bool]) -> list[Message]:
        """Remove and return the messages ``doomed`` picks; the others keep their order."""
        returned = _remove_if(self._returns, doomed)
        self._count -= len(returned)
        return returned + super().remove_if(doomed)


def _remove_if(queue: deque[Message], doomed: Callable[[Message], bool]) -> list[Message]:
    kept: list[Message] = []
    removed: list[Message] = []
    for msg in queue:
        (removed if doomed(msg) else kept).append(msg)
    queue.clear()
    queue.extend(kept)
    return removed


def ready_store(queue_type: str, max_priority: int | None) -> Ready:
    """The store for a queue: a quorum queue's, or a classic one's (priority levels when
    ``max_priority`` is set)."""
    if queue_type == "quorum":
        return QuorumReady()
    return FifoReady() if max_priority is None else PriorityReady(max_priority)
