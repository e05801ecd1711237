"""Field types shared by scenario sections: distributions in units, and routing keys (key
spaces, :mod:`qsim.scenario.keys`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from qsim.distributions import Distribution, distribution_of
from qsim.scenario.keys import RoutingKey
from qsim.spec import Duration, Number, Size

__all__ = ["NumberDistribution", "RoutingKey", "SizeDistribution", "TimeDistribution"]

if TYPE_CHECKING:
    TimeDistribution = Distribution[float]
    SizeDistribution = Distribution[float]
    NumberDistribution = Distribution[float]
else:
    TimeDistribution = distribution_of(Duration, "Duration")
    SizeDistribution = distribution_of(Size, "Size")
    NumberDistribution = distribution_of(Number, "Number")
