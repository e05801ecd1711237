"""Replay a scenario against a real broker (RabbitMQ, or NATS JetStream for ``type: jetstream``
queues) and set the live figures beside the simulated ones.

Phases, one module each:

- :mod:`~qsim.live.backends` which broker runs a scenario: a registry of live backends
- :mod:`~qsim.live.draws` the random streams live clients share with the simulation
- :mod:`~qsim.live.support` refuses scenario features a live RabbitMQ run cannot reproduce
- :mod:`~qsim.live.topology` queue arguments, and declaring and deleting the run's topology
- :mod:`~qsim.live.clock` scaled time: scenario seconds <-> wall-clock seconds
- :mod:`~qsim.live.tally` what the clients observed (thread-safe), turned into figures
- :mod:`~qsim.live.clients` producer, consumer and backlog-sampler threads (pika)
- :mod:`~qsim.live.rabbitmq` the RabbitMQ backend: one run of those threads
- :mod:`~qsim.live.jetstream` the JetStream backend (nats-py, asyncio): its own phases
- :mod:`~qsim.live.agreement` the side-by-side rows and the agreement band
- :mod:`~qsim.live.session` one live run on its backend, plus the simulation
"""

from qsim.live.agreement import Band, Row, agreement_rows
from qsim.live.backends import BACKENDS, Backend, backend_for
from qsim.live.session import LiveSettings, run_live
from qsim.live.support import check_supported
from qsim.live.topology import queue_arguments

__all__ = [
    "BACKENDS",
    "Backend",
    "Band",
    "LiveSettings",
    "Row",
    "agreement_rows",
    "backend_for",
    "check_supported",
    "queue_arguments",
    "run_live",
]
