"""What every delivery model keeps of the call that built it (the :data:`~qsim.engine.protocols.
Build` signature), and the name routing and dead-letter wiring the queue-like ones share."""

from __future__ import annotations

from typing import TYPE_CHECKING, Self

if TYPE_CHECKING:
    from qsim.engine.broker import Broker
    from qsim.engine.protocols import DeliveryModel
    from qsim.engine.recorder import Recorder
    from qsim.engine.sampler import WorkDraw
    from qsim.scenario import Queue as QueueSpec

__all__ = ["NamedQueue", "Placed"]


class Placed:
    """A delivery model's broker, clock, scenario entry, index, recorder and work draw."""

    def __init__(
        self,
        broker: Broker,
        spec: QueueSpec,
        index: int,
        recorder: Recorder,
        work: WorkDraw,
    ) -> None:
        self.broker = broker
        self.env = broker.env
        self.spec = spec
        self.index = index
        self.name = spec.name
        self.recorder = recorder
        self.work = work  # gives each arriving message its work (see Message.work)

    def billed_requests_so_far(self) -> int | None:
        """Billable API requests in the measured window so far; None: its broker bills no
        requests (RabbitMQ, Kafka; :data:`qsim.scenario.prices.REQUEST_BILLED_QUEUE_TYPES`)."""
        return None


class NamedQueue(Placed):
    """A queue reached by its own name (the default exchange, an SQS queue URL) that may
    dead-letter to another model named in its spec."""

    dead_letter: DeliveryModel | None = None

    def route(self, key: str) -> tuple[Self, ...]:
        """Publishing to the queue by name reaches just this queue."""
        return (self,)

    def link(self, others: dict[str, DeliveryModel]) -> None:
        """Find the dead-letter target by name."""
        if self.spec.dead_letter is not None:
            self.dead_letter = others[self.spec.dead_letter]
