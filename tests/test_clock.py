"""The run loop (:mod:`qsim.engine.clock`): bare callback entries on SimPy's heap run exactly
where SimPy's own events would, and ``run(env, until)`` stops where ``env.run(until=...)``
stops. The engine's bit-identical goldens rest on both."""

from __future__ import annotations

from collections.abc import Callable
from heapq import heappush
from typing import Any

import pytest
import simpy
from simpy.events import NORMAL

from qsim.engine import clock

Schedule = Callable[[simpy.Environment, float, str, list[str]], None]


def as_timeout(env: simpy.Environment, delay: float, name: str, seen: list[str]) -> None:
    """What the engine did before: a Timeout whose callback records ``name``."""
    env.timeout(delay).callbacks.append(lambda _event: seen.append(name))


def as_entry(env: simpy.Environment, delay: float, name: str, seen: list[str]) -> None:
    """What it does now: a bare entry on SimPy's heap."""
    clock.call_at(env, env.now + delay, seen.append, name)


def ticker(env: simpy.Environment, seen: list[str], schedule: Schedule):
    """A process that, at each of several times, schedules entries at tied times."""
    for step in range(4):
        schedule(env, 1.0, f"a{step}", seen)
        as_timeout(env, 1.0, f"t{step}", seen)
        schedule(env, 0.0, f"now{step}", seen)
        yield env.timeout(1.0)
        seen.append(f"resumed{step}")


def trace(schedule: Schedule, loop: Callable[[simpy.Environment, float], None]) -> list[str]:
    env = simpy.Environment()
    seen: list[str] = []
    env.process(ticker(env, seen, schedule))
    as_timeout(env, 2.0, "x", seen)  # SimPy events made first: tied entries made later follow
    schedule(env, 2.0, "y", seen)
    as_timeout(env, 2.0, "w", seen)
    schedule(env, 3.5, "z", seen)
    loop(env, 3.0)
    seen.append(f"now={env.now}")
    return seen


def simpy_run(env: simpy.Environment, until: float) -> None:
    env.run(until=until)


def test_bare_entries_run_in_the_order_the_timeouts_they_replace_would():
    """Ties at equal times (entries, Timeouts and a process's resumption) keep SimPy's order."""
    assert trace(as_entry, clock.run) == trace(as_timeout, simpy_run)


def with_arrivals_heap() -> tuple[Schedule, Callable[[simpy.Environment, float], None]]:
    """Entries named ``a...`` and ``z`` on a heap of arrivals beside SimPy's (ids from SimPy's
    counter, as producers push them), the rest on SimPy's; the merging loop runs both."""
    arrivals: list[Any] = []

    def schedule(env: simpy.Environment, delay: float, name: str, seen: list[str]) -> None:
        heap = arrivals if name[0] in "az" else env._queue
        heappush(heap, (env.now + delay, NORMAL, next(env._eid), seen.append, name))

    def loop(env: simpy.Environment, until: float) -> None:
        clock.run(env, until, arrivals)

    return schedule, loop


def test_entries_split_over_a_heap_of_arrivals_run_in_the_order_of_one_heap():
    """Ties between the two heaps, and with Timeouts and a process's resumption, keep SimPy's
    order; the run stops at ``until`` on both heaps."""
    reference = trace(as_timeout, simpy_run)
    assert trace(*with_arrivals_heap()) == reference
    assert "a3" not in reference and "z" not in reference  # both heaps hold entries past until


def test_the_run_stops_where_simpys_stops_and_the_clock_ends_at_until():
    """Entries at exactly ``until`` scheduled before the run are not run (SimPy's stop event is
    urgent), later ones neither; the clock reads ``until``."""
    reference = trace(as_timeout, simpy_run)
    assert reference[-1] == "now=3.0" and "z" not in reference
    assert trace(as_entry, clock.run) == reference


def test_a_run_continues_where_the_last_stopped():
    def twice(env: simpy.Environment, until: float) -> None:
        clock.run(env, until / 2)
        clock.run(env, until)

    assert trace(as_entry, twice) == trace(as_timeout, simpy_run)


def test_a_process_that_fails_raises_as_env_step_does():
    def failing(env: simpy.Environment):
        yield env.timeout(1.0)
        raise KeyError("broken")

    env = simpy.Environment()
    env.process(failing(env))
    with pytest.raises(KeyError, match="broken"):
        clock.run(env, 5.0)


def test_until_not_after_now_is_refused():
    env = simpy.Environment()
    clock.run(env, 1.0)
    with pytest.raises(ValueError, match="must be greater"):
        clock.run(env, 1.0)
