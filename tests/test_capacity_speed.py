"""A capacity search made fast changes no figure: one shared pool of workers, replications reused
when a count re-runs with more, and the load levels and headroom searched side by side give
byte for byte the JSON of one search after the other in this process."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence

import pytest
from conftest import scenario_from

from qsim.capacity import CapacityStudy, SearchStopped, capacity, side_by_side
from qsim.loadscale import with_fixed_replicas
from qsim.runner import (
    BACKENDS,
    Replication,
    Settings,
    Simulated,
    replicate,
    run_scenario,
    worker_pool,
)
from qsim.scenario import Scenario
from qsim.slo import parse_slo

# M/M/2 at 6/s x load, 250 ms service: at 1x rho 0.75, p99 latency about 1.4 s with 2 replicas;
# the 1.5 s SLO sits near it, so some counts stay undecided and re-run with more replications.
SMALL = """
name: small
seed: 5
duration: 150s
warmup: 10s
replications: 3
producers: [{name: p, to: q, rate: 6/s}]
queues: [{name: q}]
consumers:
  - {name: c, queue: q, replicas: 2, prefetch: 1, service_time: {dist: exponential, mean: 250ms}}
"""


def study(workers: int, seen: list | None = None) -> CapacityStudy:
    """A capacity study of SMALL's pool against p99 latency < 1.5 s, at most 6 replications."""
    return CapacityStudy(
        scenario_from(SMALL), "c", [parse_slo("p99 latency < 1.5s")], workers=workers,
        max_replications=6, on_trial=None if seen is None else seen.append,
    )  # fmt: skip


@pytest.fixture(scope="module")
def serial() -> tuple[str, list]:
    """The serial search's JSON and the points it simulated, in order."""
    seen: list = []
    return json.dumps(capacity(study(1, seen), [1.0, 1.5])), seen


def test_two_workers_side_by_side_give_the_serial_json_byte_for_byte(serial):
    """Two shared workers, the levels and the headroom searched in parallel: the same JSON, and
    the same points simulated (each once), only perhaps in another order."""
    seen: list = []
    assert json.dumps(capacity(study(2, seen), [1.0, 1.5])) == serial[0]
    key = lambda t: (t.load, t.replicas)  # noqa: E731
    assert sorted(map(key, seen)) == sorted(map(key, serial[1]))
    assert len(set(map(key, seen))) == len(seen)


def test_the_serial_search_re_runs_an_undecided_count_with_the_cap(serial):
    """The scenario is chosen so that the reuse of replications is exercised: some count was
    undecided with 3 replications and ran again with 6."""
    assert any(t.count == 6 for t in serial[1])


class Counting:
    """A backend that simulates in this process and counts each replication it simulates."""

    def __init__(self) -> None:
        self.simulated: list[int] = []

    def __call__(
        self, scenario: Scenario, replications: Sequence[int], settings: Settings
    ) -> Iterator[tuple[int, Replication]]:
        for r in replications:
            self.simulated.append(r)
            yield r, replicate(scenario, r, settings.stream)


def test_a_re_run_with_more_replications_simulates_only_the_new_ones(monkeypatch):
    """Replications 0-2 simulated once are reused by a run of 6, whose summary is that of a
    fresh run of 6, byte for byte."""
    backend = Counting()
    monkeypatch.setitem(BACKENDS, "counting", backend)
    scenario = scenario_from(SMALL)
    six = scenario.model_copy(update={"replications": 6})
    known = Simulated()
    run_scenario(scenario, backend="counting", simulated=known)
    reused = run_scenario(six, backend="counting", simulated=known)
    assert backend.simulated == [0, 1, 2, 3, 4, 5]
    assert json.dumps(reused) == json.dumps(run_scenario(six))


def test_another_scenario_never_takes_a_replication_of_the_first(monkeypatch):
    """Known replications are kept per scenario: 3 replicas simulate their own."""
    backend = Counting()
    monkeypatch.setitem(BACKENDS, "counting", backend)
    scenario = scenario_from(SMALL)
    three = with_fixed_replicas(scenario, "c", 3)
    known = Simulated()
    run_scenario(scenario, backend="counting", simulated=known)
    run_scenario(three, backend="counting", simulated=known)
    assert backend.simulated == [0, 1, 2, 0, 1, 2]


def test_a_shared_pool_serves_several_runs_with_the_serial_summaries():
    """One pool of two workers for two runs: each summary is the serial one."""
    scenario = scenario_from(SMALL)
    other = scenario.model_copy(update={"seed": 6})
    with worker_pool(2) as pool:
        shared = [json.dumps(run_scenario(s, workers=2, pool=pool)) for s in (scenario, other)]
    assert shared == [json.dumps(run_scenario(s)) for s in (scenario, other)]


def test_side_by_side_raises_the_first_error_without_waiting_for_the_rest():
    """A task that fails ends the wait at once, though another is still blocked."""
    release = threading.Event()

    def blocked() -> int:
        release.wait(30)
        return 1

    def failing() -> int:
        raise ValueError("bad point")

    try:
        with pytest.raises(ValueError, match="bad point"):
            side_by_side([blocked, failing], threads=True)
        assert not release.is_set()
    finally:
        release.set()
    assert side_by_side([lambda: 1, lambda: 2], threads=True) == [1, 2]


def test_a_comparison_shares_one_pool_and_gives_the_serial_json():
    """``qsim compare --workers 2``: its variants run in one pool of two workers, and the JSON
    is the one-process JSON, byte for byte."""
    from qsim.compare import compare
    from qsim.scenario.variants import Variant

    base = scenario_from(SMALL)
    variants = [Variant("two", base), Variant("three", with_fixed_replicas(base, "c", 3))]
    assert json.dumps(compare(variants, workers=2)) == json.dumps(compare(variants))


def test_a_search_still_running_when_the_command_stops_starts_no_new_point():
    """A Ctrl-C ends the shared workers; a search thread that then asks for its next point
    gets SearchStopped instead of a fresh pool of workers (which would keep the command alive
    until that point's simulation ended)."""
    stopped = study(2)
    with pytest.raises(KeyboardInterrupt), stopped.sharing_workers():
        raise KeyboardInterrupt
    with pytest.raises(SearchStopped):
        stopped.trial(1.0, 3)
    assert stopped.trials == {}
