"""``qsim import``: a scenario from a running RabbitMQ, read through its management HTTP API.

One module per step: :mod:`~qsim.importer.client` (HTTP, one-line errors) ->
:mod:`~qsim.importer.snapshot` (the raw answers for one vhost over a window) ->
:mod:`~qsim.importer.topology` (queues with their arguments, exchanges, bindings) and
:mod:`~qsim.importer.traffic` (publish, deliver and ack rates; producers, consumer pools,
service-time estimates) -> :mod:`~qsim.importer.writer` (the scenario YAML, every guessed value
commented). ``docs/import.md`` describes what is read and what is guessed.
"""

from qsim.importer.client import ManagementClient
from qsim.importer.snapshot import Snapshot, take_snapshot
from qsim.importer.writer import import_scenario, scenario_yaml

__all__ = ["ManagementClient", "Snapshot", "import_scenario", "scenario_yaml", "take_snapshot"]
