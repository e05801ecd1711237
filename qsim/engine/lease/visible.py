"""The messages a lease queue can hand out now: in arrival order (a standard queue), or per
message group with a group held back while one of its messages is in flight (SQS FIFO).

- Standard queues (SQS standard, Pub/Sub, Service Bus, JetStream): one line in arrival order;
  a message whose lease lapsed goes to the back (SQS standard queues keep a best-effort order,
  standard-queues.html). A receive takes the first messages.
- SQS FIFO: "messages that belong to the same message group are always processed one by one,
  in a strict order relative to the message group"; while a message of a group is in flight
  no later message of that group is returned (FIFO-queues-understanding-logic.html). A receive
  may return several messages of one group, then goes on to the next group; a group whose
  messages are all settled gets back in line at its end. A lapsed message returns to the
  head of its group.
"""

from __future__ import annotations

from collections import deque

from qsim.engine.message import Message

__all__ = ["GroupedMessages", "VisibleMessages", "visible_store"]


class VisibleMessages:
    """A standard queue's visible messages, in arrival order."""

    __slots__ = ("_line",)

    def __init__(self) -> None:
        self._line: deque[Message] = deque()

    def __len__(self) -> int:
        return len(self._line)

    def deliverable(self) -> bool:
        """Whether a receive would get a message now."""
        return bool(self._line)

    def push(self, msg: Message) -> None:
        """A new message (or one whose delay ended) becomes visible."""
        self._line.append(msg)

    def push_return(self, msg: Message) -> None:
        """A message whose lease ended unsettled becomes visible again: at the back."""
        self._line.append(msg)

    def take(self, count: int) -> list[Message]:
        """Up to ``count`` messages for one receive, oldest first."""
        line = self._line
        return [line.popleft() for _ in range(min(count, len(line)))]

    def remove(self, msg: Message) -> None:
        """Retention (or a late delete) takes out a visible message."""
        self._line.remove(msg)

    def settled(self, msg: Message) -> None:
        """A received message left flight (deleted, lapsed, gone): nothing to release."""


class GroupedMessages:
    """An SQS FIFO queue's visible messages by message group; a group with a message in flight
    is held back."""

    __slots__ = ("_count", "_flying", "_groups", "_ready")

    def __init__(self) -> None:
        self._groups: dict[str, deque[Message]] = {}
        self._flying: dict[str, int] = {}  # group -> its messages in flight
        self._ready: dict[str, None] = {}  # groups with visible messages and none in flight
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def deliverable(self) -> bool:
        """Whether some group has a message to hand out."""
        return bool(self._ready)

    def _queue_of(self, group: str) -> deque[Message]:
        line = self._groups.get(group)
        if line is None:
            line = self._groups[group] = deque()
        return line

    def _maybe_ready(self, group: str) -> None:
        if group in self._groups and not self._flying.get(group):
            self._ready.setdefault(group, None)

    def push(self, msg: Message) -> None:
        """A new message joins the end of its group."""
        self._queue_of(msg.group).append(msg)
        self._count += 1
        self._maybe_ready(msg.group)

    def push_return(self, msg: Message) -> None:
        """A message whose lease ended goes back to the head of its group."""
        self._queue_of(msg.group).appendleft(msg)
        self._count += 1
        self._maybe_ready(msg.group)

    def take(self, count: int) -> list[Message]:
        """Up to ``count`` messages: the first ready group's, in order, then the next group's."""
        taken: list[Message] = []
        while self._ready and len(taken) < count:
            group = next(iter(self._ready))
            del self._ready[group]
            line = self._groups[group]
            while line and len(taken) < count:
                taken.append(line.popleft())
                self._flying[group] = self._flying.get(group, 0) + 1
            if not line:
                del self._groups[group]
        self._count -= len(taken)
        return taken

    def remove(self, msg: Message) -> None:
        """Retention takes out a visible message."""
        line = self._groups[msg.group]
        line.remove(msg)
        self._count -= 1
        if not line:
            del self._groups[msg.group]
            self._ready.pop(msg.group, None)

    def settled(self, msg: Message) -> None:
        """A received message of the group left flight: the group may go on (at the back)."""
        group = msg.group
        left = self._flying[group] - 1
        if left:
            self._flying[group] = left
        else:
            del self._flying[group]
            self._maybe_ready(group)


def visible_store(fifo: bool) -> VisibleMessages | GroupedMessages:
    """The store of a FIFO queue, or of a standard one."""
    return GroupedMessages() if fifo else VisibleMessages()
