"""The fast paths (shortcuts chosen as the model is built, :mod:`qsim.engine.paths`) give
exactly the results of the general paths, on scenarios where both apply: every record, flow,
count and series bit for bit. Each scenario runs twice, once as built and once with
``general_paths=True``; the path counts show the general path was really taken."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import SCENARIOS, scenario_from

from qsim.engine.paths import SHORTCUTS
from qsim.engine.results import RunResult
from qsim.engine.simulation import Model
from qsim.scenario import Scenario, load_scenario, parse_scenario
from qsim.yamlsource import load_yaml

MM1 = """
name: mm1
seed: 11
duration: 30m
warmup: 2m
producers: [{name: p, to: q, rate: 9/s}]
queues: [{name: q}]
consumers:
  - {name: c, queue: q, replicas: 1, prefetch: 1, service_time: {dist: exponential, mean: 100ms}}
"""

MM8 = """
name: mm8
seed: 12
duration: 6m
warmup: 30s
producers: [{name: p, to: q, rate: 72/s}]
queues: [{name: q}]
consumers:
  - {name: c, queue: q, replicas: 8, prefetch: 1, service_time: {dist: exponential, mean: 100ms}}
"""

FANOUT = """
name: fanout
seed: 13
duration: 10m
producers: [{name: p, to: events, rate: 20/s, size: 1KB}]
exchanges:
  - name: events
    type: fanout
    bindings: [{queue: billing}, {queue: audit}]
queues: [{name: billing}, {name: audit, max_length: 50}, {name: receipts}]
consumers:
  - name: biller
    queue: billing
    replicas: 3
    prefetch: 1
    service_time: {dist: lognormal, mean: 120ms, cv: 0.7}
    publish: [{to: receipts, probability: 0.5}]
  - {name: auditor, queue: audit, replicas: 1, prefetch: 1,
     service_time: {dist: exponential, mean: 45ms}}
  - {name: mailer, queue: receipts, replicas: 1, prefetch: 1,
     service_time: {dist: constant, value: 50ms}}
"""

PREFETCH = """
name: prefetch
seed: 14
duration: 10m
warmup: 1m
producers: [{name: p, to: jobs, rate: 30/s}]
queues: [{name: jobs, dead_letter: parked}, {name: parked}]
consumers:
  - name: fast
    queue: jobs
    replicas: 2
    prefetch: 10
    concurrency: 3
    service_time: {dist: gamma, mean: 150ms, cv: 0.5}
    failures: {nack_probability: 0.05, requeue: true}
  - {name: slow, queue: jobs, replicas: 2, prefetch: 4,
     service_time: {dist: exponential, mean: 400ms}}
  - {name: parking, queue: parked, replicas: 1, prefetch: 1,
     service_time: {dist: constant, value: 10ms}}
"""

TIES = """
name: ties
seed: 15
duration: 10m
warmup: 30s
producers:
  - {name: a, to: q, rate: 10/s, arrivals: constant}
  - {name: b, to: q, rate: 10/s, arrivals: constant}
  - {name: c, to: q, rate: 5/s, arrivals: constant}
queues: [{name: q}]
consumers:
  - {name: w, queue: q, replicas: 3, prefetch: 1, service_time: {dist: constant, value: 110ms}}
"""
"""Constant arrivals that tie exactly (a and b at every tenth of a second): the order of equal
times is the order of their heap ids, across the heap of arrivals and SimPy's."""


def food_delivery(tmp_path: Path) -> Scenario:
    """The shipped food-delivery scenario, cut to its first 100 minutes (the rush starts at 90)."""
    data = load_scenario(SCENARIOS / "food-delivery.yaml").model_dump(
        mode="json", by_alias=True, exclude_none=True
    )
    data["producers"][0]["schedule"] = data["producers"][0]["schedule"][:3]
    data.update(duration=6000.0, replications=1)
    return parse_scenario(load_yaml("food-delivery.yaml", _dump(data)), tmp_path)


def _dump(data: dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(data, sort_keys=False)


def _run(scenario: Scenario, general: bool) -> tuple[RunResult, Model]:
    model = Model(scenario, 0, general_paths=general)
    return model.run(), model


def _same(fast: Any, general: Any, where: str = "result") -> None:
    """Equal bit for bit: arrays by dtype, shape and bytes; floats by their bits."""
    if isinstance(fast, np.ndarray):
        assert isinstance(general, np.ndarray), where
        assert fast.dtype == general.dtype and fast.shape == general.shape, where
        assert fast.tobytes() == general.tobytes(), where
    elif dataclasses.is_dataclass(fast) and not isinstance(fast, type):
        assert type(fast) is type(general), where
        for field in dataclasses.fields(fast):
            name = field.name
            _same(getattr(fast, name), getattr(general, name), f"{where}.{name}")
    elif isinstance(fast, dict):
        assert isinstance(general, dict) and list(fast) == list(general), where
        for key in fast:
            _same(fast[key], general[key], f"{where}[{key!r}]")
    elif isinstance(fast, (list, tuple)):
        assert type(fast) is type(general) and len(fast) == len(general), where
        for i, (a, b) in enumerate(zip(fast, general, strict=True)):
            _same(a, b, f"{where}[{i}]")
    elif isinstance(fast, float):
        assert isinstance(general, float), where
        assert np.float64(fast).tobytes() == np.float64(general).tobytes(), where
    else:
        assert fast == general, where


CASES = {"mm1": MM1, "mm8": MM8, "fanout": FANOUT, "prefetch": PREFETCH, "ties": TIES}


def _scenario(case: str, tmp_path: Path) -> Scenario:
    return food_delivery(tmp_path) if case == "food-delivery" else scenario_from(CASES[case])


@pytest.mark.parametrize("case", [*CASES, "food-delivery"])
def test_fast_and_general_paths_give_identical_results(case: str, tmp_path: Path) -> None:
    """Records, flows, counts, series and every figure of the run are the same bits whichever
    path each component takes; forced, every component took the general path."""
    scenario = _scenario(case, tmp_path)
    fast, fast_model = _run(scenario, general=False)
    general, general_model = _run(scenario, general=True)
    assert len(fast.records["latency"]) > 1000  # the runs did real work
    _same(fast, general)
    built, forced = fast_model.paths.taken, general_model.paths.taken
    assert set(built) == set(forced) == set(SHORTCUTS)
    for name in SHORTCUTS:
        assert forced[name].fast == 0, name
        assert forced[name].general == built[name].fast + built[name].general, name


def test_every_shortcut_is_taken_by_some_scenario_here(tmp_path: Path) -> None:
    """So the comparison above pins every shortcut: run as built, the components of these
    scenarios take every shortcut (those of M/M/1 all of them, refusing none)."""
    taken = {name: 0 for name in SHORTCUTS}
    for case in CASES:
        for name, count in _run(_scenario(case, tmp_path), general=False)[1].paths.taken.items():
            taken[name] += count.fast
    assert all(taken.values()), taken
    mm1 = _run(scenario_from(MM1), general=False)[1].paths.taken
    assert all(count.general == 0 and count.fast > 0 for count in mm1.values()), mm1


def test_a_network_delay_or_outages_refuse_the_publisher_shortcut() -> None:
    """The shortcut's conditions, checked as the model is built: a publisher with a network
    between it and the broker, or a broker that can go down, takes the general path."""
    net = _run(scenario_from(MM1 + "network: {latency: {dist: constant, value: 1ms}}\n"), False)
    down = _run(scenario_from(MM1 + "outages: [{at: 1m, for: 10s}]\n"), False)
    assert net[1].paths.taken["publisher.direct"] == (0, 1)
    assert net[1].paths.taken["consumer.deliver"] == (0, 1)
    assert down[1].paths.taken["publisher.direct"] == (0, 1)
    assert down[1].paths.taken["consumer.deliver"] == (1, 0)  # an outage does not reach it


def test_tied_arrivals_keep_the_order_of_one_heap() -> None:
    """The ties case really ties, and a queue (FIFO) serves tied arrivals in the order they
    were scheduled, as on one heap: at each shared tick a's message before b's (a, made
    first, draws the lower heap id), so a's latency is never the larger, and often smaller
    (with no replica free, b's waits behind a's)."""
    result, _model = _run(scenario_from(TIES), general=False)
    records = result.records
    published = records["published_at"]
    assert len(np.unique(published)) < len(published) * 0.7  # most ticks are shared
    order = np.lexsort((records["producer"], published))  # by time, then producer index
    ticks = published[order]
    tied = np.flatnonzero(ticks[1:] == ticks[:-1])
    first, second = order[tied], order[tied + 1]
    pairs = records["producer"][first] * 10 + records["producer"][second]
    a_then_b = pairs == 1
    assert a_then_b.sum() > 1000
    a, b = records["latency"][first[a_then_b]], records["latency"][second[a_then_b]]
    assert np.all(a <= b) and np.sum(a < b) > 100  # b often waits behind a
