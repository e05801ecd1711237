"""One read of a vhost through the management API: the raw answers, kept as they came.

A snapshot holds the overview (the broker's version), the vhost's queues and exchanges with
their message statistics over the last ``window`` seconds, its bindings and its consumers.
The management plugin keeps rate and length history as samples (its
``sample_retention_policies``: every 5 s for the last 10 minutes, every 60 s for the last hour
by default; management.md "Statistics collection"); ``msg_rates_age`` / ``lengths_age`` ask for
the window, ``*_incr`` for the sample spacing, and each ``*_details`` then carries ``avg_rate``
(rates) or ``avg`` (lengths) over the samples. Queue and channel statistics are emitted every
``collect_statistics_interval`` (5 s by default). The raw form is what the tests record as a
fixture, so everything downstream runs without a broker.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from qsim.errors import QsimError
from qsim.importer.client import ManagementClient, NotFound

__all__ = ["FINE_HISTORY", "Snapshot", "sample_spacing", "take_snapshot"]

FINE_HISTORY = 600.0
"""Seconds of history kept at 5 s spacing by the default retention policy (605 s, then 60 s)."""


def sample_spacing(window: float) -> int:
    """The spacing (seconds) of samples to ask for over ``window``: 5 s within the fine history,
    else 60 s, and never fewer than about two samples."""
    spacing = 5 if window <= FINE_HISTORY else 60
    return max(1, min(spacing, int(window // 2) or 1))


@dataclass(frozen=True)
class Snapshot:
    """The management API's answers for one vhost (``raw``), read over ``window`` seconds."""

    raw: Mapping[str, Any]

    @property
    def vhost(self) -> str:
        """The vhost read."""
        return str(self.raw["vhost"])

    @property
    def window(self) -> float:
        """Seconds of history the rates and lengths average over."""
        return float(self.raw["window"])

    @property
    def source(self) -> str:
        """Where it was read (the API's address, no credentials)."""
        return str(self.raw["source"])

    @property
    def version(self) -> str:
        """The broker's ``rabbitmq_version``."""
        return str(self.raw["overview"].get("rabbitmq_version", "unknown"))

    def section(self, name: str) -> list[dict[str, Any]]:
        """The list of ``queues``, ``exchanges``, ``bindings`` or ``consumers``."""
        items: list[dict[str, Any]] = self.raw[name]
        return items


def take_snapshot(client: ManagementClient, vhost: str, window: float) -> Snapshot:
    """Read ``vhost`` (its queues, exchanges, bindings, consumers) with ``window`` seconds of
    rate and length history."""
    spacing = sample_spacing(window)
    age = max(spacing, round(window))
    history = {
        "msg_rates_age": age, "msg_rates_incr": spacing,
        "lengths_age": age, "lengths_incr": spacing,
    }  # fmt: skip
    quoted = urllib.parse.quote(vhost, safe="")
    try:
        client.get(f"vhosts/{quoted}")
    except NotFound:
        raise QsimError(f"no vhost {vhost!r} on the broker at {client.where}") from None
    raw = {
        "source": client.where,
        "vhost": vhost,
        "window": float(age),
        "overview": client.get("overview"),
        "queues": client.get(f"queues/{quoted}", **history),
        "exchanges": client.get(f"exchanges/{quoted}", **history),
        "bindings": client.get(f"bindings/{quoted}"),
        "consumers": client.get(f"consumers/{quoted}"),
    }
    return Snapshot(raw)
