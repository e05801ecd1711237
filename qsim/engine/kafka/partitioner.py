"""Which partition a Kafka producer sends a record to: the Java client's built-in partitioner.

Apache Kafka's Java producer (clients/src/main/java/org/apache/kafka/clients/producer/internals/
``BuiltInPartitioner.java``, KIP-794; ``DefaultPartitioner`` before it):

- A record with a key goes to ``toPositive(murmur2(keyBytes)) % numPartitions``
  (``BuiltInPartitioner.partitionForKey``): :func:`partition_for_key`. ``murmur2`` is
  ``org.apache.kafka.common.utils.Utils.murmur2`` (seed ``0x9747b28c``, 32-bit signed
  arithmetic) and ``toPositive`` masks the sign bit (``number & 0x7fffffff``), so every record of
  one key lands on one partition for as long as the partition count stays the same.
- A record without a key goes to the *sticky* partition (:class:`StickyPartitioner`): one
  partition takes every unkeyed record until at least ``batch.size`` (16384) bytes have been
  produced to it and its batch is closed, then the producer picks the next one at random
  (KIP-794's uniform sticky partitioner; KIP-480's older one switched at every new batch).

Key bytes: qsim's key spaces (:mod:`qsim.scenario.keys`) draw keys as strings (``order.17``);
the producer serialises them as the Java ``StringSerializer`` does, UTF-8
(``StringSerializer.java``: "String encoding defaults to UTF8"): :func:`key_bytes`.

Not the librdkafka default: librdkafka-based clients (confluent-kafka-python, -go, -dotnet,
node-rdkafka) default to ``partitioner=consistent_random``, a CRC32 hash of the key with
unkeyed records spread at random (librdkafka CONFIGURATION.md, ``partitioner``). Their
``murmur2_random`` is "functionally equivalent to the default partitioner in the Java Producer".
A Java producer and a librdkafka producer therefore put one key on different partitions: qsim
models the Java client.

What qsim simplifies in the sticky rule: KIP-794's *adaptive* partitioning
(``partitioner.adaptive.partitioning.enable``, default true) weights the next partition by the
inverse of each partition's queue of unsent batches, and ``partitioner.availability.timeout.ms``
skips slow brokers. qsim has no per-broker send queue, so every switch draws uniformly, as the
client does when all queues are equal (``updatePartitionLoadStats``: "All queue lengths are the
same, not using adaptive").

Defaults the producer uses (``ProducerConfig.java``): ``batch.size`` 16384 bytes; ``linger.ms``
5 ms since Kafka 4.0 (KIP-1030 "Change constraints and default values for various
configurations": linger.ms 0 -> 5), 0 ms before.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_LINGER",
    "RECORD_OVERHEAD",
    "StickyPartitioner",
    "key_bytes",
    "murmur2",
    "partition_for_key",
    "to_positive",
]

DEFAULT_BATCH_SIZE = 16384
"""``batch.size``: bytes per partition batch (ProducerConfig.java)."""

DEFAULT_LINGER = 0.005
"""``linger.ms`` in seconds: 5 ms since Kafka 4.0 (KIP-1030), 0 before."""

RECORD_OVERHEAD = 7
"""Bytes a record takes in a batch besides its key and value (record format v2,
``DefaultRecord.sizeInBytes``): one byte each for the length, attributes, timestamp delta,
offset delta, key length, value length and header count varints, their least. It is what a
batch and the sticky partitioner count for an empty record: without it, records of size 0
never fill a batch and every unkeyed record would stay on one partition."""

_M32 = 0xFFFF_FFFF
_SEED = 0x9747_B28C
_M = 0x5BD1_E995
_R = 24


def _signed(value: int) -> int:
    """The 32-bit two's-complement reading of ``value`` (a Java ``int``)."""
    value &= _M32
    return value - (1 << 32) if value & 0x8000_0000 else value


def murmur2(data: bytes) -> int:
    """32-bit MurmurHash2 of ``data`` as Kafka's ``Utils.murmur2`` computes it: a Java ``int``.

    Unsigned 32-bit arithmetic gives the same bits as Java's wrapping ``int`` (``>>>`` is the
    logical shift of the unsigned value); the result is read back as signed."""
    length = len(data)
    h = (_SEED ^ length) & _M32
    whole = length - length % 4
    for i in range(0, whole, 4):
        k = data[i] | data[i + 1] << 8 | data[i + 2] << 16 | data[i + 3] << 24
        k = (k * _M) & _M32
        k ^= k >> _R
        k = (k * _M) & _M32
        h = ((h * _M) & _M32) ^ k
    tail = length % 4
    if tail == 3:
        h ^= data[whole + 2] << 16
    if tail >= 2:
        h ^= data[whole + 1] << 8
    if tail >= 1:
        h ^= data[whole]
        h = (h * _M) & _M32
    h ^= h >> 13
    h = (h * _M) & _M32
    h ^= h >> 15
    return _signed(h)


def to_positive(number: int) -> int:
    """Kafka's ``Utils.toPositive``: ``number & 0x7fffffff`` (not ``abs``: -1 -> 2147483647)."""
    return number & 0x7FFF_FFFF


def key_bytes(key: str) -> bytes:
    """A record key's bytes as the Java ``StringSerializer`` writes them: UTF-8."""
    return key.encode("utf-8")


def partition_for_key(key: bytes, partitions: int) -> int:
    """The partition of a keyed record: ``toPositive(murmur2(key)) % numPartitions``."""
    if partitions < 1:
        raise ValueError(f"a topic has at least one partition, not {partitions}")
    return to_positive(murmur2(key)) % partitions


class StickyPartitioner:
    """The partition of unkeyed records (KIP-794's uniform sticky partitioner), for one topic.

    Every unkeyed record goes to the current sticky partition (:meth:`partition`; the first
    call draws one). The producer reports what it appends there (:meth:`appended`) and when the
    partition's open batch closes, full or sent after ``linger`` (:meth:`batch_closed`). The
    partition switches, to one drawn uniformly (it may draw the same one again, as the client
    does), once ``batch_size`` bytes have been produced to it and its batch is closed, or at
    once when twice ``batch_size`` have been (``BuiltInPartitioner.updatePartitionInfo``, whose
    switch waits for the batch boundary to avoid fractional batches, capped at 2x)."""

    __slots__ = ("_batch_size", "_current", "_produced")

    def __init__(self, batch_size: int = DEFAULT_BATCH_SIZE) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, not {batch_size}")  # stickyBatchSize
        self._batch_size = batch_size
        self._current: int | None = None
        self._produced = 0

    def partition(self, partitions: int, rng: np.random.Generator) -> int:
        """The sticky partition of a topic of ``partitions``; a new one is drawn from ``rng``."""
        if self._current is None or self._current >= partitions:
            self._current = int(rng.integers(partitions))
            self._produced = 0
        return self._current

    def appended(self, size: int) -> None:
        """``size`` bytes were appended to the sticky partition; past twice ``batch_size``
        the partition switches even if its batch is still open."""
        self._produced += size
        if self._produced >= 2 * self._batch_size:
            self._switch()

    def batch_closed(self) -> None:
        """The sticky partition's open batch closed (full, or sent after ``linger``): switch if
        ``batch_size`` bytes have been produced to the partition."""
        if self._produced >= self._batch_size:
            self._switch()

    def _switch(self) -> None:
        self._current = None  # the next record draws, as nextPartition() is called lazily
        self._produced = 0
