"""qsim: a discrete-event simulator of message-queue systems with RabbitMQ semantics.

Describe producers, queues and consumer pools in a YAML scenario, simulate it on SimPy, and read
latency percentiles, throughput and backlog with confidence intervals::

    from qsim import load_scenario, run_scenario
    summary = run_scenario(load_scenario("scenarios/food-delivery.yaml"))
"""

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from qsim.engine import RunResult, simulate
from qsim.errors import QsimError, ScenarioError
from qsim.scenario import Scenario

if TYPE_CHECKING:
    from qsim.runner import run_scenario
    from qsim.scenario import load_scenario

DISTRIBUTION = "qsim-mq"
"""qsim's distribution name (``import qsim``, the ``qsim`` command): PyPI's ``qsim`` is an
unrelated quantum-circuit simulator, so ``pip install qsim`` would install the wrong thing."""

try:
    __version__ = version(DISTRIBUTION)
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"


def __getattr__(name: str) -> Any:
    """Loading (YAML) and running (statistics) are imported when first used, so that importing
    the engine, as every worker process does, stays light."""
    if name == "load_scenario":
        from qsim.scenario import load_scenario

        return load_scenario
    if name == "run_scenario":
        from qsim.runner import run_scenario

        return run_scenario
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DISTRIBUTION",
    "QsimError",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "__version__",
    "load_scenario",
    "run_scenario",
    "simulate",
]
