"""Kafka's partitioner: murmur2 bit for bit, the key -> partition rule, the sticky partitioner.

The murmur2 values are Apache Kafka's own test cases (clients/src/test/java/org/apache/kafka/
common/utils/UtilsTest.java, ``testMurmur2``), computed by the Java ``Utils.murmur2``.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qsim.engine.kafka.partitioner import (
    StickyPartitioner,
    key_bytes,
    murmur2,
    partition_for_key,
    to_positive,
)

KAFKA_UTILS_TEST = [
    (b"21", -973932308),
    (b"foobar", -790332482),
    (b"a-little-bit-long-string", -985981536),
    (b"a-little-bit-longer-string", -1486304829),
    (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
    (bytes([ord("a"), ord("b"), ord("c")]), 479470107),
]


@pytest.mark.parametrize(("data", "expected"), KAFKA_UTILS_TEST)
def test_murmur2_gives_what_kafkas_utils_test_expects(data, expected):
    """Every tail length (0 to 3 bytes after the 4-byte blocks) is among the cases."""
    assert murmur2(data) == expected


def test_the_cases_cover_every_tail_length():
    """2, 6, 24, 26, 48 and 3 bytes: tails of 2, 2, 0, 2, 0, 3; "21" alone has no block."""
    assert {len(data) % 4 for data, _ in KAFKA_UTILS_TEST} >= {0, 2, 3}


def test_a_one_byte_tail_is_hashed_like_the_java_fallthrough():
    """length % 4 == 1: the switch falls through to ``h ^= data[..] & 0xff; h *= m`` only.
    "a" + "abcd" shares the 4-byte block with "abcd" but differs by the tail, so the hashes
    differ; the one-byte hash is a signed 32-bit int."""
    one = murmur2(b"abcda")
    assert one != murmur2(b"abcd") and -(2**31) <= one < 2**31


def test_to_positive_masks_the_sign_bit_rather_than_negating():
    """Utils.toPositive(-1) is 0x7fffffff, not 1; MIN_VALUE becomes 0."""
    assert (to_positive(-1), to_positive(-(2**31)), to_positive(5)) == (2**31 - 1, 0, 5)


def test_a_key_goes_to_to_positive_of_murmur2_mod_partitions():
    """Key "foobar": murmur2 -790332482, & 0x7fffffff 1357151166, mod 12 = 6, mod 48 = 30."""
    assert (partition_for_key(b"foobar", 12), partition_for_key(b"foobar", 48)) == (6, 30)


def test_key_bytes_are_utf8_as_the_string_serializer_writes_them():
    """StringSerializer's default encoding is UTF-8: "hé" is three bytes."""
    assert key_bytes("hé") == b"h\xc3\xa9"


@given(st.binary(max_size=64), st.integers(min_value=1, max_value=1000))
def test_every_key_lands_on_an_existing_partition(key, partitions):
    """0 <= partition < partitions for any bytes."""
    assert 0 <= partition_for_key(key, partitions) < partitions


def test_a_topic_without_partitions_is_refused():
    """numPartitions >= 1."""
    with pytest.raises(ValueError, match="at least one partition"):
        partition_for_key(b"k", 0)


def _sticky_run(batch_size: int, sizes: list[int], close_every: int, partitions: int = 6):
    """Partitions chosen for records of ``sizes``, the batch closing after every
    ``close_every`` records."""
    sticky, rng, chosen = StickyPartitioner(batch_size), np.random.default_rng(7), []
    for i, size in enumerate(sizes, start=1):
        chosen.append(sticky.partition(partitions, rng))
        sticky.appended(size)
        if i % close_every == 0:
            sticky.batch_closed()
    return chosen


def _runs(chosen: list[int]) -> list[int]:
    """Lengths of the runs of one partition (a switch may redraw the same partition, which
    merges two runs: the lengths stay multiples of the switch size)."""
    runs, length = [], 1
    for before, after in itertools.pairwise(chosen):
        if before == after:
            length += 1
        else:
            runs.append(length)
            length = 1
    return [*runs, length]


def test_unkeyed_records_stick_until_batch_size_bytes_and_a_closed_batch():
    """1000-byte records, batch.size 4000, a batch closing every 4 records: each partition
    takes exactly 4 records (4000 bytes reached at the close) before the next draw, so every run
    of equal partitions is a multiple of 4."""
    chosen = _sticky_run(4000, [1000] * 400, close_every=4)
    assert all(run % 4 == 0 for run in _runs(chosen)) and len(set(chosen)) > 1


def test_a_batch_closed_by_linger_before_batch_size_does_not_switch():
    """KIP-794, unlike KIP-480: 1000-byte records, batch.size 4000, linger closing the batch
    after every record: still 4 records per partition before a draw."""
    chosen = _sticky_run(4000, [1000] * 400, close_every=1)
    assert all(run % 4 == 0 for run in _runs(chosen)) and len(set(chosen)) > 1


def test_an_open_batch_switches_anyway_at_twice_batch_size():
    """The batch never closes: the switch happens after 8000 bytes (2 x batch.size)."""
    chosen = _sticky_run(4000, [1000] * 400, close_every=10**9)
    assert all(run % 8 == 0 for run in _runs(chosen)) and len(set(chosen)) > 1


def test_sticky_switches_spread_unkeyed_records_uniformly():
    """Over many switches each of 6 partitions gets about 1/6 of the batches: 3000 batches,
    500 expected each, binomial sd ~20; within 5 sd."""
    sticky, rng = StickyPartitioner(1), np.random.default_rng(11)
    counts = np.zeros(6, dtype=int)
    for _ in range(3000):
        counts[sticky.partition(6, rng)] += 1
        sticky.appended(1)
        sticky.batch_closed()
    assert np.all(np.abs(counts - 500) < 5 * np.sqrt(3000 * (1 / 6) * (5 / 6)))


def test_empty_unkeyed_records_still_fill_batches_and_move_between_partitions():
    """A record without key or value still takes RECORD_OVERHEAD (7) bytes of a batch, so the
    sticky partition moves on after ceil(16384 / 7) = 2341 of them: 20 records/s for 20 min
    (24,000 records, ~10 stints) reach every one of 4 partitions (found: all on one before)."""
    from conftest import run_once

    result = run_once(
        """
        name: empty-records
        seed: 3
        duration: 20m
        producers: [{name: p, to: t, rate: 20/s}]
        queues: [{name: t, type: kafka, partitions: 4}]
        consumers: [{name: c, queue: t, replicas: 4, service_time: {dist: constant, value: 10ms}}]
        """
    )
    kafka = next(q for q in result.queues if q.name == "t").kafka
    assert kafka is not None
    produced = [partition.produced for partition in kafka.partitions]
    assert all(count > 0 for count in produced), produced
    assert max(produced) < 24_000 * 0.6, produced
