"""The log delivery model: records appended to partitions and read at offsets.

A RabbitMQ stream is one partition read by every consumer (:mod:`~qsim.engine.log.stream`); a
Kafka topic would be several partitions read by consumer groups that share them out and commit
offsets. Both are built from the same parts:

- :mod:`~qsim.engine.log.partition` an append-only log in segments, with retention
- :mod:`~qsim.engine.log.reader` a reader: a position and a credit window (the Subscription)
- :mod:`~qsim.engine.log.group` the readers of one pool: their books, lag and flow branches
- :mod:`~qsim.engine.log.level` a time-weighted level (lag, records waiting)
- :mod:`~qsim.engine.log.stream` the RabbitMQ stream (the DeliveryModel)
"""

from qsim.engine.log.group import ReaderGroup
from qsim.engine.log.partition import Delivery, Partition, Segment
from qsim.engine.log.reader import Reader
from qsim.engine.log.stream import Stream

__all__ = ["Delivery", "Partition", "Reader", "ReaderGroup", "Segment", "Stream"]
