"""RabbitMQ's consistent-hash exchange (``x-consistent-hash``), routing as the plugin does.

The plugin (rabbitmq-server ``deps/rabbitmq_consistent_hash_exchange``, README "How It Works" and
"Implementation Details"; ``src/rabbit_exchange_type_consistent_hash.erl``):

- Each binding's key is its weight, an integer from 1 (``validate_binding``; the current source
  also caps it at 10,000). Binding a queue gives it ``weight`` consecutive bucket numbers after
  the buckets already taken (``chx_hash_ring_update_fun``): bindings ``[a: 1, b: 3]`` give
  buckets 0 -> a, 1-3 -> b. A second binding of the same queue changes nothing.
- A message is routed on its routing key (``mc:routing_keys``, first element): the key's
  ``erlang:phash2`` seeds an ``exs1024`` generator with ``{H, H, H}``, and Lamping and Veach's
  jump consistent hash over the number of buckets picks one (``jump_consistent_hash``). So every
  message with one key reaches one queue, and a queue's share of *keys* is its share of buckets.
- No bindings: unroutable. One bucket: bucket 0 without hashing.

This module reproduces those steps bit for bit (checked against Erlang/OTP 25 on 3,000 keys and
against RabbitMQ 3.10 in tests/test_live.py): ``phash2`` of a binary is Bob Jenkins' lookup2
``block_hash`` seeded with 13 x the golden ratio (OTP ``erts/emulator/beam/utils.c``,
``make_hash2``), masked to 27 bits; ``exs1024`` is xorshift1024* seeded through xorshift64*
with the old ``V / 2^64`` uniform (OTP ``lib/stdlib/src/rand.erl``). The assignment depends on
binding order: a real broker rebuilds the ring in sorted order after a restart (README "Node
Restart Effects"); qsim keeps the scenario's order, as a fresh broker declared by qsim live has.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qsim.engine.protocols import DeliveryModel

__all__ = ["bucket", "consistent_hash", "phash2", "ring"]

_M32 = 0xFFFF_FFFF
_M64 = (1 << 64) - 1
_GOLDEN = 0x9E37_79B9  # HCONST in utils.c
_PHASH2_RANGE = (1 << 27) - 1


def _mix(a: int, b: int, c: int) -> tuple[int, int, int]:
    """Bob Jenkins' lookup2 MIX on three 32-bit words."""
    a = ((a - b - c) & _M32) ^ (c >> 13)
    b = ((b - c - a) & _M32) ^ ((a << 8) & _M32)
    c = ((c - a - b) & _M32) ^ (b >> 13)
    a = ((a - b - c) & _M32) ^ (c >> 12)
    b = ((b - c - a) & _M32) ^ ((a << 16) & _M32)
    c = ((c - a - b) & _M32) ^ (b >> 5)
    a = ((a - b - c) & _M32) ^ (c >> 3)
    b = ((b - c - a) & _M32) ^ ((a << 10) & _M32)
    c = ((c - a - b) & _M32) ^ (b >> 15)
    return a, b, c


def _block_hash(data: bytes, initial: int) -> int:
    """``block_hash`` of OTP's utils.c: 12 bytes at a time, the length in the last word."""
    a = b = _GOLDEN
    c = initial
    whole = len(data) - len(data) % 12
    for i in range(0, whole, 12):
        a = (a + int.from_bytes(data[i : i + 4], "little")) & _M32
        b = (b + int.from_bytes(data[i + 4 : i + 8], "little")) & _M32
        c = (c + int.from_bytes(data[i + 8 : i + 12], "little")) & _M32
        a, b, c = _mix(a, b, c)
    rest = data[whole:]
    a = (a + int.from_bytes(rest[0:4], "little")) & _M32
    b = (b + int.from_bytes(rest[4:8], "little")) & _M32
    c = (c + len(data) + (int.from_bytes(rest[8:11], "little") << 8)) & _M32
    return _mix(a, b, c)[2]


def phash2(data: bytes) -> int:
    """``erlang:phash2(Binary)``: stable across Erlang versions and machines (0 to 2^27 - 1)."""
    initial = (_GOLDEN * 13) & _M32  # HCONST_13 + the (zero) hash so far
    return (_block_hash(data, initial) if data else initial) & _PHASH2_RANGE


class _Exs1024:
    """``rand:seed_s(exs1024, {K, K, K})`` and ``rand:uniform_s``: xorshift1024*."""

    __slots__ = ("_at", "_words")

    def __init__(self, key: int) -> None:
        m21 = (1 << 21) - 1
        b1 = (((key & m21) + 1) * 2097131) & m21
        b2 = (((key & m21) + 1) * 2097133) & m21
        b3 = (((key & m21) + 1) * 2097143) & m21
        state = (b1 << 43) | (b2 << 22) | (b3 << 1) | 1
        words = [0] * 16
        for i in range(15, -1, -1):  # exs1024_gen1024 prepends each xorshift64* output
            state ^= state >> 12
            state ^= (state << 25) & _M64
            state ^= state >> 27
            words[i] = (state * 2685821657736338717) & _M64
        self._words = words
        self._at = 0  # the Erlang state read as a ring of 16 words from here

    def uniform(self) -> float:
        """The next float in [0, 1): ``V / (Max + 1)`` with a 64-bit ``V``."""
        words, at = self._words, self._at
        following = (at + 1) & 15
        s0, s1 = words[at], words[following]
        s1 ^= (s1 << 31) & _M64
        s1 ^= s1 >> 11
        s0 ^= s0 >> 30
        words[following] = new = s0 ^ s1
        self._at = following
        return ((new * 1181783497276652981) & _M64) / 2.0**64


def bucket(key: str, buckets: int) -> int:
    """The bucket (0 to ``buckets`` - 1) that routing key ``key`` hashes to."""
    if buckets == 1:
        return 0
    generator = _Exs1024(phash2(key.encode("utf-8")))
    chosen, jump = -1, 0
    while jump < buckets:
        chosen = jump
        r = generator.uniform()
        jump = int((chosen + 1) / r) if r else buckets  # Erlang fails on 0.0 (p = 2^-64)
    return chosen


def ring(bindings: Sequence[tuple[str, DeliveryModel]]) -> list[DeliveryModel]:
    """The queue of each bucket: ``weight`` buckets per binding in binding order; a queue
    already on the ring keeps its first binding's buckets."""
    buckets: list[DeliveryModel] = []
    for weight, queue in bindings:
        if queue not in buckets:
            buckets.extend([queue] * int(weight))
    return buckets


def consistent_hash(
    bindings: Sequence[tuple[str, DeliveryModel]],
) -> Callable[[str], tuple[DeliveryModel, ...]]:
    """The router of an ``x-consistent-hash`` exchange: the one queue of the key's bucket."""
    buckets = ring(bindings)
    if not buckets:
        return lambda key: ()
    return lambda key: (buckets[bucket(key, len(buckets))],)
