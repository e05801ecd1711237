"""The broker as a whole: outages and the network between clients and broker."""

from __future__ import annotations

from pydantic import Field, model_validator

from qsim.scenario.fields import TimeDistribution
from qsim.spec import Duration, PositiveDuration, Spec, fail

__all__ = ["Network", "Outage"]


class Outage(Spec):
    """The broker is down: once ``at`` a time ``for`` a duration, or repeatedly with up-times
    drawn from ``mtbf`` and down-times from ``mttr``. An outage is a restart: connections drop,
    and transient messages and non-durable queues lose their contents."""

    at: Duration | None = None
    for_: PositiveDuration | None = Field(default=None, alias="for")
    mtbf: TimeDistribution | None = None
    mttr: TimeDistribution | None = None

    @model_validator(mode="after")
    def _one_form(self) -> Outage:
        once = self.at is not None and self.for_ is not None
        repeated = self.mtbf is not None and self.mttr is not None
        others = [self.at, self.for_] if repeated else [self.mtbf, self.mttr]
        if once == repeated or any(value is not None for value in others):
            raise fail("give either {at, for} or {mtbf, mttr}")
        return self


class Network(Spec):
    """One-way delay between any client and the broker, for publishes, deliveries and acks."""

    latency: TimeDistribution
