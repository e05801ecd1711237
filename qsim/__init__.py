"""qsim: a discrete-event simulator of message-queue systems with RabbitMQ semantics.

Describe producers, queues and consumer pools in a YAML scenario, simulate it on SimPy, and read
latency percentiles, throughput and backlog with confidence intervals::

    from qsim import load_scenario, run_scenario
    summary = run_scenario(load_scenario("scenarios/food-delivery.yaml"))
"""

from importlib.metadata import PackageNotFoundError, version

from qsim.engine import RunResult, simulate
from qsim.errors import QsimError, ScenarioError
from qsim.runner import run_scenario
from qsim.scenario import Scenario, load_scenario

try:
    __version__ = version("qsim")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = [
    "QsimError",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "__version__",
    "load_scenario",
    "run_scenario",
    "simulate",
]
