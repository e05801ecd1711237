"""How a live run is made, whichever broker it runs against."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from qsim.live.agreement import Band

__all__ = ["LiveSettings", "Measured"]


@dataclass(frozen=True)
class LiveSettings:
    """How to run live: the broker's URL, the time scale, the band, workers for the simulation."""

    url: str
    time_scale: float = 0.05
    band: Band = field(default_factory=Band)
    workers: int = 1


@dataclass(frozen=True)
class Measured:
    """What one live run measured (keys as in the run summary) and the name prefix it used."""

    figures: dict[str, Any]
    prefix: str
