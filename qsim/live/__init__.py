"""Replay a scenario against a real RabbitMQ and set the live figures beside the simulated ones.

Phases, one module each:

- :mod:`~qsim.live.support` refuses scenario features a live run cannot reproduce
- :mod:`~qsim.live.topology` queue arguments, and declaring and deleting the run's topology
- :mod:`~qsim.live.clock` scaled time: scenario seconds <-> wall-clock seconds
- :mod:`~qsim.live.tally` what the clients observed (thread-safe), turned into figures
- :mod:`~qsim.live.clients` producer, consumer and backlog-sampler threads (pika)
- :mod:`~qsim.live.agreement` the side-by-side rows and the agreement band
- :mod:`~qsim.live.session` one live run from start to clean-up, plus the simulation
"""

from qsim.live.agreement import Band, Row, agreement_rows
from qsim.live.session import LiveSettings, run_live
from qsim.live.support import check_supported
from qsim.live.topology import queue_arguments

__all__ = [
    "Band",
    "LiveSettings",
    "Row",
    "agreement_rows",
    "check_supported",
    "queue_arguments",
    "run_live",
]
