"""Explicit random streams: one ``numpy.random.Generator`` per named purpose and replication.

A stream's seed is ``SeedSequence(seed, spawn_key=(replication, crc32(name)))``, exactly the child
that ``SeedSequence(seed).spawn`` would give at those indices. Streams are independent across
replications and purposes, and a stream depends only on its own name, so adding a producer to a
scenario leaves the draws of every other producer and pool unchanged. Nothing touches global state.
"""

from __future__ import annotations

import zlib

import numpy as np

__all__ = ["stream"]


def stream(seed: int, replication: int, name: str) -> np.random.Generator:
    """The generator for ``name`` (e.g. ``"producer:orders:arrivals"``) in one replication."""
    key = zlib.crc32(name.encode("utf-8"))
    sequence = np.random.SeedSequence(seed, spawn_key=(replication, key))
    return np.random.Generator(np.random.PCG64(sequence))
