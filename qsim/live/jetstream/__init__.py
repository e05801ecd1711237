"""The JetStream live backend: a scenario's ``type: jetstream`` queues on a real NATS server
(nats-py, asyncio), beside the simulation.

- :mod:`~qsim.live.jetstream.topology` a stream and a durable pull consumer per queue
- :mod:`~qsim.live.jetstream.pull` pull requests shaped as the model's receive
- :mod:`~qsim.live.jetstream.clients` producer, replica, advisory and backlog tasks
- :mod:`~qsim.live.jetstream.session` one run from connecting to deleting the streams
"""

from qsim.live.jetstream.session import QUEUE_TYPES, measure
from qsim.live.jetstream.support import check_supported

__all__ = ["QUEUE_TYPES", "check_supported", "measure"]
