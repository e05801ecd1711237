"""Per-message and per-flow figures in compact arrays (a few bytes each, no objects kept).

In streaming mode the arrays are emptied into quantile sketches (:mod:`qsim.sketch`) every
``FLUSH_EVERY`` records, so memory stays flat however long the run.
"""

from __future__ import annotations

from array import array

import numpy as np

from qsim.engine.message import Flow, Message
from qsim.engine.windows import Series, WindowSketches, runs, window_series
from qsim.sketch import LogSketch

FLUSH_EVERY = 65_536
"""Records held before a streaming recorder moves them into its sketches."""

SketchKey = tuple[str, str, int]
"""(figure, grouped by, index): e.g. ("latency", "queue", 0) or ("flow", "producer", 2)."""


class Recorder:
    """Records every completed message, and every ended flow, that started after the warm-up.

    A message completes when its consumer acks it (manual ack) or finishes processing it
    (auto ack). ``wait`` runs from publish to the start of that processing, ``latency`` from
    publish to its end; both refer to the queue the message completed in. A flow's latency runs
    from its producer's publish to the end of its last branch.
    """

    def __init__(
        self,
        warmup: float,
        queues: int,
        producers: int,
        stream: float | None = None,
        step: float = 1.0,
    ) -> None:
        self.warmup = warmup
        self.stream = stream
        self.step = step
        self.sketches: dict[SketchKey, LogSketch] | None = None if stream is None else {}
        self.windows = None if stream is None else WindowSketches(step, stream)
        self._flush_at = FLUSH_EVERY if stream is not None else float("inf")
        self.queue = array("H")
        self.producer = array("h")
        self.published_at = array("d")
        self.wait = array("d")
        self.latency = array("d")
        self.window_completions = [0] * queues
        self.flow_producer = array("h")
        self.flow_latency = array("d")
        self.flows_started = [0] * producers
        self.flows_failed = [0] * producers

    def completed(self, queue: int, msg: Message, now: float) -> None:
        """``msg`` completed in ``queue`` at ``now``; its flow branch ends well."""
        warmup = self.warmup
        if now >= warmup:
            self.window_completions[queue] += 1
        published = msg.published_at
        if published >= warmup:
            self.queue.append(queue)
            self.producer.append(msg.producer)
            self.published_at.append(published)
            self.wait.append(msg.started_at - published)
            self.latency.append(now - published)
            if len(self.latency) >= self._flush_at:
                self.flush()
        flow = msg.flow
        flow.outstanding -= 1
        if flow.outstanding == 0:
            if flow.failed or flow.start < warmup:
                self._flow_ended(flow, now)
            else:  # :meth:`_flow_ended`'s common case, inlined: once per message
                self.flow_producer.append(flow.producer)
                self.flow_latency.append(now - flow.start)
                if len(self.flow_latency) >= self._flush_at:
                    self.flush()

    def record(self, queue: int, msg: Message, now: float) -> None:
        """``msg`` was processed in ``queue`` at ``now``: a record as :meth:`completed` makes,
        but its flow is left alone (a stream's readers end flow branches by their own rule).
        :meth:`completed` repeats this body rather than calling it: it runs once per message."""
        if now >= self.warmup:
            self.window_completions[queue] += 1
        published = msg.published_at
        if published >= self.warmup:
            self.queue.append(queue)
            self.producer.append(msg.producer)
            self.published_at.append(published)
            self.wait.append(msg.started_at - published)
            self.latency.append(now - published)
            if len(self.latency) >= self._flush_at:
                self.flush()

    def end_branch(self, flow: Flow, ok: bool, now: float) -> None:
        """One message of ``flow`` ended (``ok``: acked; otherwise lost, refused or dropped)."""
        if not ok:
            flow.failed = True
        flow.outstanding -= 1
        if flow.outstanding == 0:
            self._flow_ended(flow, now)

    def _flow_ended(self, flow: Flow, now: float) -> None:
        if flow.start < self.warmup:
            return
        if flow.failed:
            self.flows_failed[flow.producer] += 1
        else:
            self.flow_producer.append(flow.producer)
            self.flow_latency.append(now - flow.start)
            if len(self.flow_latency) >= self._flush_at:
                self.flush()

    def arrays(self) -> dict[str, np.ndarray]:
        """The message records as numpy arrays, one entry per completed message."""
        return {
            "queue": np.frombuffer(self.queue, dtype=np.uint16).copy(),
            "producer": np.frombuffer(self.producer, dtype=np.int16).copy(),
            "published_at": np.frombuffer(self.published_at, dtype=np.float64).copy(),
            "wait": np.frombuffer(self.wait, dtype=np.float64).copy(),
            "latency": np.frombuffer(self.latency, dtype=np.float64).copy(),
        }

    def flow_arrays(self) -> dict[str, np.ndarray]:
        """Completed flows: producer index and end-to-end latency, one entry per flow."""
        return {
            "producer": np.frombuffer(self.flow_producer, dtype=np.int16).copy(),
            "latency": np.frombuffer(self.flow_latency, dtype=np.float64).copy(),
        }

    def window_series(self, samples: int) -> Series:
        """Latency percentiles per sample window of ``step`` (:mod:`qsim.engine.windows`)."""
        queues = len(self.window_completions)
        if self.windows is not None:
            return self.windows.series(queues, samples)
        return window_series(self.arrays(), queues, self.step, samples)

    def flush(self) -> None:
        """Streaming: move the records held so far into the sketches and forget them."""
        if self.sketches is None:
            return
        records, flows = self.arrays(), self.flow_arrays()
        assert self.windows is not None
        self.windows.add(records)
        for by in ("queue", "producer"):
            for field in ("latency", "wait"):
                self._add(field, by, records[by], records[field])
        self._add("flow", "producer", flows["producer"], flows["latency"])
        for buffer in (self.queue, self.producer, self.published_at, self.wait, self.latency):
            del buffer[:]
        del self.flow_producer[:]
        del self.flow_latency[:]

    def _add(self, field: str, by: str, groups: np.ndarray, values: np.ndarray) -> None:
        """Each group's ``values`` into its sketch, in record order (one stable sort, not a
        mask per group: a thousand producers make a thousand)."""
        assert self.sketches is not None and self.stream is not None
        order = np.argsort(groups, kind="stable")
        ordered = groups[order]
        for start, end in runs(ordered):
            key = (field, by, int(ordered[start]))
            if key not in self.sketches:
                self.sketches[key] = LogSketch(self.stream)
            self.sketches[key].add(values[order[start:end]])
