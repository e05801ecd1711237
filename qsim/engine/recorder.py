"""Per-message figures in compact arrays (a few bytes per message, no objects kept)."""

from __future__ import annotations

from array import array

import numpy as np

from qsim.engine.message import Message


class Recorder:
    """Records every completed message published after the warm-up.

    A message completes when its consumer acks it (manual ack) or finishes processing it
    (auto ack). ``wait`` runs from publish to the start of that processing, ``latency`` from
    publish to its end; both refer to the queue the message completed in.
    """

    def __init__(self, warmup: float, queues: int) -> None:
        self.warmup = warmup
        self.queue = array("H")
        self.producer = array("h")
        self.published_at = array("d")
        self.wait = array("d")
        self.latency = array("d")
        self.window_completions = [0] * queues

    def completed(self, queue: int, msg: Message, now: float) -> None:
        """Note that ``msg`` completed in ``queue`` at time ``now``."""
        if now >= self.warmup:
            self.window_completions[queue] += 1
        published = msg.published_at
        if published >= self.warmup:
            self.queue.append(queue)
            self.producer.append(msg.producer)
            self.published_at.append(published)
            self.wait.append(msg.started_at - published)
            self.latency.append(now - published)

    def arrays(self) -> dict[str, np.ndarray]:
        """The records as numpy arrays, one entry per completed message."""
        return {
            "queue": np.frombuffer(self.queue, dtype=np.uint16).copy(),
            "producer": np.frombuffer(self.producer, dtype=np.int16).copy(),
            "published_at": np.frombuffer(self.published_at, dtype=np.float64).copy(),
            "wait": np.frombuffer(self.wait, dtype=np.float64).copy(),
            "latency": np.frombuffer(self.latency, dtype=np.float64).copy(),
        }
