"""The broker as a whole: availability (outages) and the network to its clients.

An outage is a broker restart (RabbitMQ semantics, confirms.md#automatic-requeueing, ttl.md,
queues.md): every connection drops, so each consumer's unacked deliveries are requeued; then the
broker stops, and non-durable queues lose everything, durable ones their transient messages
(``lost_in_outage``). While it is down, publishes fail (the publisher's ``on_unavailable``
decides). When it is back, consumers reconnect and held publishes are sent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from qsim.engine import clock
from qsim.engine.paths import Paths

if TYPE_CHECKING:
    import simpy

    from qsim.engine.protocols import DeliveryModel, Subscription
    from qsim.engine.publisher import Publisher


class Broker:
    """Whether the broker is up, the one-way network delay, and who to tell about outages.
    ``outages``: whether the scenario has any (else ``up`` never changes); ``paths``: the
    model's fast-path choices, which its components make as they are built
    (:mod:`qsim.engine.paths`)."""

    def __init__(
        self,
        env: simpy.Environment,
        delay: Callable[[], float] | None,
        *,
        outages: bool = False,
        paths: Paths | None = None,
    ) -> None:
        self.env = env
        self.delay = delay
        self.outages = outages
        self.paths = Paths() if paths is None else paths
        self.up = True
        self.queues: list[DeliveryModel] = []
        self.consumers: list[Subscription] = []  # every connection to tell about outages
        self.publishers: list[Publisher] = []
        self._outages_open = 0
        self.down_periods: list[tuple[float, float]] = []

    def after(self, delay: float, action: Callable[[Any], None], arg: Any) -> None:
        """Call ``action(arg)`` after ``delay`` simulated seconds."""
        clock.call_at(self.env, self.env._now + delay, action, arg)

    def hop(self, action: Callable[[Any], None], arg: Any) -> None:
        """Carry ``arg`` across the network to ``action``: after a drawn delay, or at once when
        the delay is zero (so a zero-latency network is exactly no network)."""
        assert self.delay is not None
        delay = self.delay()
        if delay > 0:
            self.after(delay, action, arg)
        else:
            action(arg)

    def begin_outage(self) -> None:
        """An outage starts (outages may overlap: the broker is down while any is open)."""
        assert self.outages, "an outage in a broker built without any"
        self._outages_open += 1
        if self._outages_open > 1:
            return
        self.up = False
        self.down_periods.append((self.env.now, float("inf")))
        for consumer in self.consumers:
            consumer.connection_lost()
        for queue in self.queues:
            queue.restart()

    def end_outage(self) -> None:
        """An outage ends; when none is open the broker is back."""
        self._outages_open -= 1
        if self._outages_open > 0:
            return
        self.up = True
        self.down_periods[-1] = (self.down_periods[-1][0], self.env.now)
        for publisher in self.publishers:
            publisher.flush()
        for consumer in self.consumers:
            consumer.open()

    def report(self, start: float, end: float) -> dict[str, float]:
        """The broker's own figures over the run: outages, and seconds down within the window."""
        return {"outages": len(self.down_periods), "downtime_s": self.downtime(start, end)}

    def downtime(self, start: float, end: float) -> float:
        """Seconds the broker was down within ``[start, end]``."""
        return sum(max(0.0, min(b, end) - max(a, start)) for a, b in self.down_periods)
