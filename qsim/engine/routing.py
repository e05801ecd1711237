"""Routing: exchanges and the default exchange, as RabbitMQ routes (exchanges.md).

A target is anything a message can be published ``to``: a queue (the default exchange routes by
queue name) or an exchange. ``route(key)`` returns the queues a message with that routing key
reaches; an empty tuple means unroutable (dropped without an alternate exchange).
Exchange types are looked up in :data:`ROUTERS`: a router is built from the exchange's bindings
and maps a routing key to its queues. Direct, fanout and topic test each binding on its own
(a predicate per binding, :data:`MATCHERS`); ``x-consistent-hash`` picks one queue among them
(:mod:`qsim.engine.consistent_hash`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from qsim.engine.consistent_hash import consistent_hash
from qsim.scenario import Exchange as ExchangeSpec

if TYPE_CHECKING:
    from qsim.engine.protocols import DeliveryModel


class Target(Protocol):
    """Something a message can be published to."""

    name: str

    def route(self, key: str) -> tuple[DeliveryModel, ...]: ...


def _direct(binding_key: str) -> Callable[[str], bool]:
    return lambda key: key == binding_key


def _fanout(_binding_key: str) -> Callable[[str], bool]:
    return lambda key: True


def _words(key: str) -> tuple[str, ...]:
    return tuple(key.split(".")) if key else ()


def topic_matches(pattern: tuple[str, ...], words: tuple[str, ...]) -> bool:
    """Whether topic ``pattern`` matches routing-key ``words``: ``*`` is exactly one word,
    ``#`` zero or more."""

    @functools.cache
    def match(i: int, j: int) -> bool:
        if i == len(pattern):
            return j == len(words)
        if pattern[i] == "#":
            return match(i + 1, j) or (j < len(words) and match(i, j + 1))
        if j == len(words):
            return False
        return pattern[i] in ("*", words[j]) and match(i + 1, j + 1)

    return match(0, 0)


def _topic(binding_key: str) -> Callable[[str], bool]:
    pattern = _words(binding_key)
    return lambda key: topic_matches(pattern, _words(key))


MATCHERS: dict[str, Callable[[str], Callable[[str], bool]]] = {
    "direct": _direct,
    "fanout": _fanout,
    "topic": _topic,
}
"""Exchange types that test each binding on its own -> a function from a binding key to a
routing-key predicate."""

Router = Callable[[str], tuple["DeliveryModel", ...]]
Bindings = Sequence[tuple[str, "DeliveryModel"]]


def matching(make: Callable[[str], Callable[[str], bool]]) -> Callable[[Bindings], Router]:
    """The router of an exchange type that routes to every queue whose binding matches (each
    queue once, in binding order)."""

    def build(bindings: Bindings) -> Router:
        tests = [(make(key), queue) for key, queue in bindings]

        def route(key: str) -> tuple[DeliveryModel, ...]:
            matched: list[DeliveryModel] = []
            for matches, queue in tests:
                if matches(key) and queue not in matched:
                    matched.append(queue)
            return tuple(matched)

        return route

    return build


ROUTERS: dict[str, Callable[[Bindings], Router]] = {
    **{name: matching(make) for name, make in MATCHERS.items()},
    "x-consistent-hash": consistent_hash,
}
"""Exchange types by name -> a function from the bindings ``(key, queue)`` to a router."""


CACHE_LIMIT = 1_000_000
"""Routing keys an exchange remembers; past it the cache starts afresh (a key space of
millions of keys would otherwise hold every key it ever routed)."""


class Exchange:
    """Routes a routing key to queues by its type's router (cached per key)."""

    def __init__(self, spec: ExchangeSpec, queues: dict[str, DeliveryModel]) -> None:
        self.name = spec.name
        build = ROUTERS[spec.type]
        self._router = build([(b.key, queues[b.queue]) for b in spec.bindings])
        self._cache: dict[str, tuple[DeliveryModel, ...]] = {}

    def route(self, key: str) -> tuple[DeliveryModel, ...]:
        """The queues (each once) that a message with ``key`` reaches."""
        hit = self._cache.get(key)
        if hit is None:
            if len(self._cache) >= CACHE_LIMIT:
                self._cache.clear()
            hit = self._cache[key] = self._router(key)
        return hit
