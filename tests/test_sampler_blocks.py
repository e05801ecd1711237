"""Draws in growing blocks are the draws of fixed blocks (qsim.engine.sampler).

A stream's blocks grow from 64 values to 4,096, which keeps every draw only where a family's
draws split: ``n`` values then ``m`` equal the ``n + m`` values drawn at once, and leave the
generator in the same state. Each family of ``tests/test_distributions.py`` is checked here,
both ways: a family marked ``split_invariant`` splits for every seed and split below, and a
family not marked fails to split for one of them (so the mark is not merely cautious). The
samplers, the queues' work draws, arrivals and key choosers are then checked against the fixed
blocks of 4,096 they replace.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import pytest
from conftest import scenario_from
from test_distributions import CASES, SERVICE_TIMES_CSV, scenario_text

from qsim.distributions import Constant, Distribution
from qsim.engine.arrivals import arrival_times
from qsim.engine.keys import key_chooser
from qsim.engine.sampler import (
    BATCH,
    FIRST_BLOCK,
    Sampler,
    ServiceWork,
    Work,
    block_sizes,
    sampler,
)
from qsim.scenario import load_scenario
from qsim.scenario.keys import UniformKeys

SEEDS = (1, 7, 20240601)
SPLITS = ((1, 1), (3, 5), (1, 63), (63, 65), (64, 128), (100, 4096), (4096, 37))
USED = FIRST_BLOCK + 2 * BATCH + 11
"""Draws taken from a sampler: across every growing block and two full ones."""

EXTRA = {  # composites whose splitting is their component's
    "shifted-hyperexponential": (
        "{dist: shifted, shift: 50ms, of: {dist: hyperexponential,"
        " phases: [{p: 0.25, mean: 2s}, {p: 0.75, mean: 667ms}]}}"
    ),
    "truncated-mixture": (
        "{dist: truncated, high: 1s, of: {dist: mixture, weights: [0.8, 0.2],"
        " of: [{dist: exponential, mean: 100ms}, {dist: lognormal, mean: 1s, cv: 0.5}]}}"
    ),
}
FAMILIES = {**CASES, **EXTRA}


@pytest.fixture(params=list(FAMILIES.values()), ids=list(FAMILIES))
def dist(request, tmp_path) -> Distribution[float]:
    """Each family, loaded from a scenario file next to ``service-times.csv``."""
    (tmp_path / "service-times.csv").write_text(SERVICE_TIMES_CSV, encoding="utf-8")
    path = tmp_path / "scenario.yaml"
    path.write_text(scenario_text(request.param), encoding="utf-8")
    return load_scenario(path).consumers[0].service_time


def splits_exactly(dist: Distribution[float], seed: int, n: int, m: int) -> bool:
    """Whether ``n`` draws then ``m`` are the ``n + m`` drawn at once, state included."""
    apart, together = np.random.default_rng(seed), np.random.default_rng(seed)
    blocks = np.concatenate([dist.sample(apart, n), dist.sample(apart, m)])
    whole = dist.sample(together, n + m)
    same_state = apart.bit_generator.state == together.bit_generator.state
    return bool(np.array_equal(blocks, whole) and same_state)


def in_fixed_blocks(draw: Callable[[np.random.Generator, int], np.ndarray], seed: int) -> list:
    """The first USED values of ``draw`` called on fixed blocks of BATCH, as before."""
    rng = np.random.default_rng(seed)
    blocks = [draw(rng, BATCH).tolist() for _ in range(-(-USED // BATCH))]
    return list(itertools.chain.from_iterable(blocks))[:USED]


def test_a_family_is_marked_split_invariant_exactly_when_its_draws_split(dist):
    """The mark lets a slow stream draw small blocks without changing a number; a family left
    unmarked (fixed blocks) fails to split for some seed and split below."""
    splits = all(splits_exactly(dist, seed, n, m) for seed in SEEDS for n, m in SPLITS)
    assert dist.split_invariant == splits


def test_every_ppf_maps_each_draw_on_its_own(dist):
    """A queue's work draws go through the only pool's ``ppf`` a block at a time."""
    for seed in SEEDS:
        u = np.random.default_rng(seed).uniform(0.0, 1.0, 4200)
        for n in (1, 63, 64, 65, 4096):
            parts = np.concatenate([dist.ppf(u[:n]), dist.ppf(u[n:])])
            assert np.array_equal(parts, dist.ppf(u))


def test_a_sampler_hands_out_what_fixed_blocks_did(dist):
    """Growing blocks where the family splits, fixed ones where not: the same numbers."""
    for seed in SEEDS:
        draw = sampler(dist, np.random.default_rng(seed))
        assert [draw() for _ in range(USED)] == in_fixed_blocks(dist.sample, seed)


def test_two_samplers_sharing_a_stream_take_turns_in_fixed_blocks():
    """An MMPP's exponential and uniform samplers share its stream: the first block of each is
    BATCH draws, so the uniforms start after 4,096 exponentials, as before."""
    exponential = scenario_from(scenario_text("{dist: exponential, mean: 1s}"))
    unit = exponential.consumers[0].service_time
    uniform = scenario_from(scenario_text("{dist: uniform, low: 0s, high: 1s}"))
    rng = np.random.default_rng(2)
    exps, uniforms = (
        Sampler(unit, rng, shared=True),
        Sampler(uniform.consumers[0].service_time, rng, shared=True),
    )
    drawn = [(exps(), uniforms()) for _ in range(10)]
    reference = np.random.default_rng(2)
    first = reference.exponential(1.0, BATCH)[:10].tolist()
    second = reference.uniform(0.0, 1.0, BATCH)[:10].tolist()
    assert drawn == list(zip(first, second, strict=True))


def test_blocks_grow_from_the_first_block_to_the_batch_by_doubling():
    sizes = list(itertools.islice(block_sizes(), 9))
    assert sizes == [64, 128, 256, 512, 1024, 2048, 4096, 4096, 4096]


def test_blocks_may_start_from_another_first_block():
    assert list(itertools.islice(block_sizes(first=300), 6)) == [300, 600, 1200, 2400, 4096, 4096]
    assert list(itertools.islice(block_sizes(first=9000), 2)) == [BATCH, BATCH]


def test_blocks_of_a_family_that_does_not_split_are_all_the_batch():
    assert list(itertools.islice(block_sizes(splits=False), 3)) == [BATCH] * 3


def test_a_constant_draws_nothing_from_its_stream():
    """``Constant.sample`` never touches its generator, so skipping the sampler keeps every
    other draw: the stream is left as it was."""
    constant = scenario_from(scenario_text("250ms")).consumers[0].service_time
    rng = np.random.default_rng(3)
    before = rng.bit_generator.state
    draw = sampler(constant, rng)
    assert [draw() for _ in range(5)] == [0.25] * 5
    assert rng.bit_generator.state == before
    assert constant.sample(rng, 5).tolist() == [0.25] * 5 and rng.bit_generator.state == before


def test_work_draws_are_the_uniforms_of_fixed_blocks():
    """A queue consumed by several pools gives each message its own uniform ``work``."""
    work = Work(np.random.default_rng(5)).next
    drawn = [work() for _ in range(USED)]
    assert [w for w, _ in drawn] == in_fixed_blocks(lambda rng, n: rng.uniform(0.0, 1.0, n), 5)
    assert {service for _, service in drawn} == {-1.0}  # not drawn: the pools map the work


def test_work_service_times_are_the_ppf_of_fixed_blocks(dist):
    """A queue with one pool gives each message its service time straight away."""
    work = ServiceWork(np.random.default_rng(5), dist).next
    drawn = [work() for _ in range(USED)]
    services = in_fixed_blocks(lambda rng, n: dist.ppf(rng.uniform(0.0, 1.0, n)), 5)
    assert [service for _, service in drawn] == services
    if not isinstance(dist, Constant):  # and each message's own uniform, as Work gives it
        uniforms = in_fixed_blocks(lambda rng, n: rng.uniform(0.0, 1.0, n), 5)
        assert [w for w, _ in drawn] == uniforms


PRODUCERS = {
    "rate": "rate: 50/s",
    "rate-with-a-count": "rate: 50/s, count: 300",
    "schedule-with-a-count": "schedule: [{at: 0s, rate: 40/s}, {at: 3s, rate: 5/s}], count: 150",
    "schedule": "schedule: [{at: 0s, rate: 40/s}, {at: 30s, rate: 5/s}, {at: 40s, rate: 90/s}]",
    "interarrival": "interarrival: {dist: gamma, mean: 20ms, cv: 0.5}",
}


@pytest.mark.parametrize("producer", PRODUCERS.values(), ids=list(PRODUCERS))
def test_arrival_times_are_the_running_sum_of_one_stream_of_draws(producer):
    """Poisson times are ``t += unit / rate`` over one stream (a schedule's crossing gap spent
    and the next piece started from its boundary); an interarrival's are its draws summed."""
    spec = scenario_from(
        f"""
        name: arrivals
        duration: 1h
        producers: [{{name: p, to: q, {producer}}}]
        queues: [{{name: q}}]
        consumers: [{{name: c, queue: q, service_time: 1ms}}]
        """
    ).producers[0]
    times = list(itertools.islice(arrival_times(spec, np.random.default_rng(9)), USED))
    used = USED if spec.count is None else spec.count  # the first block is the count
    rng = np.random.default_rng(9)
    if spec.interarrival is not None:
        gaps = iter(spec.interarrival.sample(rng, USED).tolist())
        expected = list(itertools.accumulate(gaps))
    else:
        expected = _poisson_reference(spec.schedule or [], spec.rate, rng)
    assert times == expected[:used]


def _poisson_reference(schedule, rate, rng) -> list[float]:
    """USED times of Poisson pieces, one unit draw at a time (a piece ends at the next start)."""
    units = iter(rng.exponential(1.0, 2 * USED).tolist())
    pieces = [(step.at, step.rate) for step in schedule] or [(0.0, rate)]
    ends = [start for start, _ in pieces[1:]] + [float("inf")]
    times: list[float] = []
    t = pieces[0][0]
    for (start, piece_rate), end in zip(pieces, ends, strict=True):
        t = max(t, start)
        while len(times) < USED:
            candidate = t + next(units) / piece_rate
            if candidate >= end:
                break
            times.append(t := candidate)
    return times


def test_keys_are_those_of_fixed_blocks():
    """A uniform key space maps one uniform draw per message, whatever the block."""
    space = UniformKeys.model_validate({"uniform": {"keys": 1000}})
    choose = key_chooser(space, np.random.default_rng(4))
    chosen = [choose() for _ in range(USED)]
    u = in_fixed_blocks(lambda rng, n: rng.uniform(0.0, 1.0, n), 4)
    assert chosen == [space.uniform.key(int(x * 1000)) for x in u]
