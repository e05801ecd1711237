"""The pull-with-lease delivery model (SQS, SQS FIFO, Pub/Sub, Service Bus, JetStream):

- :mod:`~qsim.engine.lease.queue` the queue: delays, receives, leases, deletes, dead-letters,
  retention and its books;
- :mod:`~qsim.engine.lease.visible` what can be received now (in order, or by message group);
- :mod:`~qsim.engine.lease.poller` a replica's receive loop (its subscription);
- :mod:`~qsim.engine.lease.metrics` what a scaler reads (visible, in flight, delayed).
"""

from qsim.engine.lease.metrics import DelayedMetrics, LeaseMetrics
from qsim.engine.lease.poller import Poller
from qsim.engine.lease.queue import LeaseQueue

__all__ = ["DelayedMetrics", "LeaseMetrics", "LeaseQueue", "Poller"]
