"""The SimPy engine: one replication of a scenario -> raw results (:class:`RunResult`).

Per-message work is the whole cost of a run, so the hot path uses event callbacks rather than a
process per message, draws random numbers in batches and records figures in compact arrays.
"""

from qsim.engine.results import PoolRun, ProducerRun, QueueRun, RunResult
from qsim.engine.simulation import simulate

__all__ = ["PoolRun", "ProducerRun", "QueueRun", "RunResult", "simulate"]
