"""The engine's seams, written down: what a worker, a delivery model and a metrics source
promise each other (``docs/architecture.md`` draws who calls whom).

A broker model is a *delivery model*: how messages held by the broker reach a worker and how
the worker settles them. RabbitMQ's classic and quorum queues push with prefetch credit
(:mod:`qsim.engine.queue`, :mod:`qsim.engine.consumer`); a stream is a log read at offsets
(:mod:`qsim.engine.log`). Workers (:mod:`qsim.engine.worker`), pools, failures and autoscalers
are shared by all of them, the way SimPy's resources share ``BaseResource`` and differ only in
``_do_put`` / ``_do_get``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from qsim.engine.message import Message

if TYPE_CHECKING:
    from qsim.engine.broker import Broker
    from qsim.engine.metrics import MetricsSource
    from qsim.engine.recorder import Recorder
    from qsim.engine.results import QueueRun
    from qsim.engine.sampler import WorkDraw
    from qsim.engine.worker import Worker
    from qsim.scenario import ConsumerPool
    from qsim.scenario import Queue as QueueSpec


class Subscription(Protocol):
    """One worker's attachment to a delivery model: an AMQP channel with its consumer, a log
    reader at an offset, a lease poller. The worker calls only these."""

    epoch: int
    """Changes whenever the deliveries the worker holds are revoked (a channel closed, a lease
    lapsed): work started under an older epoch settles nothing."""

    def open(self) -> None:
        """Start (or resume) receiving, if the worker wants deliveries and the broker is up."""

    def cancel(self) -> None:
        """Receive nothing more; what the worker holds may still be settled (drain)."""

    def holds(self) -> bool:
        """Whether deliveries to the worker are still unsettled at the broker."""

    revokes_each: bool
    """Whether it can take back a single delivery (a quorum consumer timeout) besides moving
    its ``epoch``: only then does the worker ask :meth:`current` for each settlement."""

    def current(self, msg: Message, epoch: int) -> bool:
        """Whether the delivery of ``msg`` that work started under ``epoch`` is still the
        worker's to settle (not revoked by a closed channel, a lapsed lease, a timeout)."""

    def settle(self, msg: Message, ok: bool | None, epoch: int) -> None:
        """The worker finished ``msg``: ack (``ok`` True), reject with requeue (None) or
        without (False). ``epoch`` is the one the work started under (still current)."""

    def close(self, lost: list[Message] | None) -> None:
        """The connection is gone: the delivery model takes back what it had delivered, by its
        own rules. ``lost`` are the messages the process held and lost with it (a crash, a
        forced removal); None when the process survives (a timeout, the broker's restart)."""

    def connection_lost(self) -> None:
        """The broker went away (an outage): close, if open; the broker calls :meth:`open`
        when it is back."""


class DeliveryModel(Protocol):
    """One queue, stream or topic as the engine sees it: it takes published messages, serves
    the workers that subscribe to it, keeps its own books and reports its own results."""

    name: str
    index: int
    published: int
    """Messages it took so far (from publishers, or dead-lettered to it)."""
    dead_lettered: int
    """Messages it passed on to another delivery model (each counted there as published)."""

    def route(self, key: str) -> tuple[DeliveryModel, ...]:
        """Publishing to it by name: the default exchange reaches just this one."""

    def publish(self, msg: Message) -> None:
        """A message arrives from a publisher (or is dead-lettered here)."""

    def link(self, others: dict[str, DeliveryModel]) -> None:
        """Resolve what it refers to by name (a dead-letter target), once all are built."""

    def subscribe(self, worker: Worker, pool: ConsumerPool) -> Subscription:
        """Attach one replica of ``pool``; returns its subscription."""

    def metrics(self) -> MetricsSource:
        """What an autoscaler can observe of it (KEDA's view of a queue, a lag, ...)."""

    def pool_figures(self, pool: str) -> dict[str, int]:
        """What it counted for one pool (by summary name: ``channel_closures``, ...)."""

    def sample(self) -> list[float]:
        """Its state now, as :data:`qsim.engine.simulation.QUEUE_SERIES` lists it: waiting to
        be delivered, delivered and unsettled, published so far, settled so far."""

    def duplicates_so_far(self) -> int:
        """Deliveries so far of messages it had delivered before (RabbitMQ's ``redelivered``, a
        lease queue's receives after a message's first, a stream reader's re-reads); a kafka
        topic's successful processings of records already processed."""

    def billed_requests_so_far(self) -> int | None:
        """Billable API requests in the measured window so far (0 before it starts); None when
        its broker bills no requests."""

    def series(self) -> dict[str, list[float]]:
        """Series of its own sampled at the same instants as :meth:`sample`, by key (the
        model adds ``NAME:`` in front; a kafka topic's ``partition:P:lag`` and
        ``partition:P:lag_s``, a lease queue's ``oldest_age_s``); empty for most."""

    def restart(self) -> None:
        """The broker restarts: drop what does not survive."""

    def start_window(self) -> None:
        """The warm-up ended: time-weighted figures start again from here."""

    def settle_books(self) -> None:
        """End of run: check that every message it took ended in exactly one named state."""

    def report(self, window: float, completions: int) -> QueueRun:
        """Its figures, as a typed record."""


Build = Callable[["Broker", "QueueSpec", int, "Recorder", "WorkDraw"], DeliveryModel]
"""A delivery model's builder, registered per queue type (:data:`qsim.engine.kinds.QUEUE_TYPES`):
(broker, the queue's spec, its index, the recorder, its work draws) -> the model."""
