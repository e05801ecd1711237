"""Key spaces: the routing key of each message, a constant or drawn from a distribution over keys
(qsim/scenario/keys.py, qsim/engine/keys.py)."""

from __future__ import annotations

import bisect
import itertools
import math
from collections import Counter
from typing import Any

import numpy as np
import pytest
from pydantic import TypeAdapter

from qsim.engine.keys import key_chooser
from qsim.engine.sampler import BATCH
from qsim.scenario.keys import RoutingKey

KEYS: TypeAdapter[Any] = TypeAdapter(RoutingKey)


def draws(form: Any, n: int, seed: int = 7) -> Counter[str]:
    """How often each key comes up in ``n`` draws of key space ``form`` (as written in YAML)."""
    choose = key_chooser(KEYS.validate_python(form), np.random.default_rng(seed))
    return Counter(choose() for _ in range(n))


def within(count: int, n: int, p: float, sigmas: float = 4) -> bool:
    """``count`` of ``n`` draws is within ``sigmas`` binomial standard deviations of ``n p``."""
    return abs(count - n * p) <= sigmas * math.sqrt(n * p * (1 - p))


def test_a_constant_key_is_every_message_key_and_draws_nothing():
    """``routing_key: eu.order``: the stream is left untouched."""
    rng = np.random.default_rng(1)
    choose = key_chooser(KEYS.validate_python("eu.order"), rng)
    assert ({choose() for _ in range(10)}, rng.random()) == (
        {"eu.order"},
        np.random.default_rng(1).random(),
    )


def test_weighted_keys_draw_exactly_as_they_always_did():
    """``{keys: {...}}`` maps each uniform draw by bisect on the cumulative weights, as qsim did
    before key spaces: the same keys in the same order, across a batch boundary."""
    weights = {"eu": 5.0, "us": 3.0, "apac": 2.0}
    rng = np.random.default_rng(3)
    cumulative = [w / 10.0 for w in itertools.accumulate(weights.values())]
    names = list(weights)
    before = [names[min(bisect.bisect_right(cumulative, u), 2)] for u in rng.random(BATCH + 10)]
    choose = key_chooser(KEYS.validate_python({"keys": weights}), np.random.default_rng(3))
    assert [choose() for _ in range(BATCH + 10)] == before


def test_uniform_keys_are_equally_likely():
    """``{uniform: 4}`` over 40,000 messages: keys 0 to 3, each a quarter within 4 sigma."""
    seen = draws({"uniform": 4}, 40_000)
    assert sorted(seen) == ["0", "1", "2", "3"]
    assert all(within(count, 40_000, 0.25) for count in seen.values())


def test_uniform_keys_carry_their_prefix():
    """``{uniform: {keys: 3, prefix: order.}}`` gives ``order.0``, ``order.1``, ``order.2``."""
    assert sorted(draws({"uniform": {"keys": 3, "prefix": "order."}}, 300)) == [
        "order.0",
        "order.1",
        "order.2",
    ]


def test_zipf_keys_make_a_few_keys_hot():
    """``{zipf: {keys: 100, s: 1.1}}``: key i comes up with probability (i + 1)^-1.1 / H, where
    H = sum of k^-1.1 for k = 1..100; key 0 about 23% and key 9 about 1.8%, within 4 sigma."""
    n = 50_000
    harmonic = sum(k**-1.1 for k in range(1, 101))
    seen = draws({"zipf": {"keys": 100, "s": 1.1}}, n)
    hot, tenth = seen["0"], seen["9"]
    assert within(hot, n, 1 / harmonic) and within(tenth, n, 10**-1.1 / harmonic)


def test_zipf_with_exponent_zero_is_uniform():
    """s = 0 gives every key weight 1: four keys, a quarter each within 4 sigma."""
    seen = draws({"zipf": {"keys": 4, "s": 0}}, 40_000)
    assert all(within(seen[str(i)], 40_000, 0.25) for i in range(4))


@pytest.mark.parametrize(
    "form",
    [
        "eu.order",
        {"keys": {"eu.order": 7.0, "us.order": 3.0}},
        {"uniform": 1000},
        {"uniform": {"keys": 10, "prefix": "order."}},
        {"zipf": {"keys": 1000, "s": 1.1}},
        {"zipf": 50},
    ],
    ids=["constant", "weighted", "uniform", "uniform-prefix", "zipf", "zipf-default-s"],
)
def test_every_key_space_dumps_to_a_form_that_loads_back_the_same(form):
    """A resolved scenario written out reloads to the same key space."""
    space = KEYS.validate_python(form)
    assert KEYS.validate_python(KEYS.dump_python(space, mode="json")) == space
