"""Scenario files: YAML -> frozen, validated, unit-resolved objects.

:func:`load_scenario` is the only way in. It loads YAML safely, validates every key with its
location, checks references between sections, and returns a :class:`Scenario` whose numbers are
plain floats in seconds, messages per second and bytes. Defaults live in the models:

- :mod:`~qsim.scenario.producer` producers and arrival processes
- :mod:`~qsim.scenario.queue` queues
- :mod:`~qsim.scenario.topology` exchanges, bindings, pipeline publish steps
- :mod:`~qsim.scenario.keys` key spaces: routing keys constant, weighted, uniform or Zipf
- :mod:`~qsim.scenario.consumer` consumer pools, failures, crashes
- :mod:`~qsim.scenario.retry` consumer-side retry with back-off (retry and parking queues)
- :mod:`~qsim.scenario.scaling` fixed replicas or an autoscaler (KEDA/HPA)
- :mod:`~qsim.scenario.broker` outages and network delay
- :mod:`~qsim.scenario.prices` prices: what the system costs in money
- :mod:`~qsim.scenario.model` the whole scenario and cross-section checks
- :mod:`~qsim.scenario.load` loading with located errors
"""

from typing import TYPE_CHECKING, Any

from qsim.scenario.broker import Network, Outage
from qsim.scenario.consumer import ConsumerPool, Crash, Failures
from qsim.scenario.model import Scenario, Slo, check_scenario
from qsim.scenario.prices import PoolPrices, Prices
from qsim.scenario.producer import Producer, ScheduleStep, Trace
from qsim.scenario.queue import Queue
from qsim.scenario.retry import Retry
from qsim.scenario.scaling import Behavior, RateLimit, Scaling, ScalingRules, ScheduledReplicas
from qsim.scenario.topology import Binding, Exchange, PublishStep

if TYPE_CHECKING:
    from qsim.scenario.load import load_scenario, parse_scenario, with_overrides

_LAZY = {"load_scenario", "parse_scenario", "with_overrides"}


def __getattr__(name: str) -> Any:
    """Loading needs YAML; the engine, which imports the models, must not (it loads lazily)."""
    if name in _LAZY:
        from qsim.scenario import load

        return getattr(load, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Behavior",
    "Binding",
    "ConsumerPool",
    "Crash",
    "Exchange",
    "Failures",
    "Network",
    "Outage",
    "PoolPrices",
    "Prices",
    "Producer",
    "PublishStep",
    "Queue",
    "RateLimit",
    "Retry",
    "Scaling",
    "ScalingRules",
    "Scenario",
    "ScheduleStep",
    "ScheduledReplicas",
    "Slo",
    "Trace",
    "check_scenario",
    "load_scenario",
    "parse_scenario",
    "with_overrides",
]
