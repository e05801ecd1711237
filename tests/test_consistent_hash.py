"""The consistent-hash exchange's hashing, reproduced from the plugin bit for bit.

Expected values were computed with Erlang/OTP 25 (Debian's erlang-base): ``erlang:phash2/1`` of
each binary, and the plugin's ``jump_consistent_hash/2`` (``rand:seed_s(exs1024, {H, H, H})``
then Lamping and Veach's jump) copied from rabbit_exchange_type_consistent_hash.erl.
tests/test_live.py checks the same against a running RabbitMQ.
"""

from __future__ import annotations

import pytest

from qsim.engine.consistent_hash import bucket, phash2, ring

ERLANG = [
    # key, phash2, bucket of 2, 4, 37 and 10,000 buckets
    ("", 13708901, 0, 0, 18, 8427),
    ("0", 107350362, 1, 3, 3, 3664),
    ("1", 59054609, 1, 2, 33, 7707),
    ("2", 19175561, 0, 2, 12, 8725),
    ("eu.order", 65406448, 0, 3, 12, 5080),
    ("hé", 5896221, 0, 3, 19, 5456),  # UTF-8 bytes, as AMQP carries them
    ("customer-000123456789", 95442563, 0, 0, 16, 1930),  # longer than one 12-byte block
]


@pytest.mark.parametrize(("key", "hashed", *(f"of_{n}" for n in (2, 4, 37, 10000))), ERLANG)
def test_phash2_and_the_jump_hash_give_what_erlang_gives(key, hashed, of_2, of_4, of_37, of_10000):
    """Same 27-bit phash2, same bucket for every ring size."""
    buckets = tuple(bucket(key, n) for n in (2, 4, 37, 10000))
    assert (phash2(key.encode()), buckets) == (hashed, (of_2, of_4, of_37, of_10000))


def test_a_single_bucket_takes_every_key_without_hashing():
    """jump_consistent_hash(_Key, 1) -> 0."""
    assert {bucket(str(i), 1) for i in range(100)} == {0}


def test_each_binding_takes_weight_consecutive_buckets_in_binding_order():
    """Weights a: 1, b: 3, c: 2 give buckets [a, b, b, b, c, c]."""
    assert ring([("1", "a"), ("3", "b"), ("2", "c")]) == ["a", "b", "b", "b", "c", "c"]


def test_a_second_binding_of_a_queue_leaves_the_ring_as_it_was():
    """Only a queue's first binding updates the ring (README "One Binding Per Queue")."""
    assert ring([("1", "a"), ("1", "b"), ("5", "a")]) == ["a", "b"]
