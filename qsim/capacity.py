"""Capacity planning: the smallest replica count of a pool that meets every SLO, per load level.

For each load multiplier (every producer's rate scaled, :mod:`qsim.loadscale`) the pool runs a
fixed replica count (autoscaling is replaced) and the search starts from the analytic estimate
(:mod:`qsim.analytic`), or from today's count where theory has none:

1. From the start count, step down (if it meets the SLOs) or up (if not) by doubling strides
   until the answer is bracketed between a count that fails and one that meets them.
2. Bisect the bracket: the result is the smallest count that meets them.

A count meets the SLOs only if, for every SLO, the conservative end of the figure's 95%
interval meets it (:meth:`qsim.slo.Objective.verdict`). When an interval straddles a threshold,
the count runs again with ``max_replications`` (4x the scenario's by default); a count still
undecided counts as not meeting them, and is listed under ``undecided`` of its level (it may
also suffice). Each point is a plain :func:`qsim.runner.run_scenario`, so whatever a run does
(the warm-up, the backend) a capacity point does too.

Every count runs the same replication indices with the scenario's seed, so replication r of
each count draws the same random streams (common random numbers): counts are compared paired.

How it is made fast, without changing a figure (:func:`capacity`): all its runs share one pool
of worker processes (:func:`qsim.runner.worker_pool`); a count re-run with more replications
simulates only the new ones (:class:`qsim.runner.Simulated`); and, with more than one worker,
the load levels and the headroom search run side by side (one thread each, all feeding the same
workers, so no worker waits for the last replication of a count), each point simulated once
however many searches ask for it. A point's result depends only on its (load, count), so the
order in which they finish changes nothing.
Headroom is the largest load multiplier today's replica count sustains, on a lattice of loads
``2 ** (k / 16)`` (:func:`bracket_load`): searched from theory's headroom where there is one (a
good estimate costs two points: it holds, the next load fails), else from 1x by doubling or
halving, then bisection to adjacent lattice loads, :data:`HEADROOM_PRECISION` apart.
A progress bar is told the points simulated and the points the searches still expect
(:attr:`CapacityStudy.on_plan`), so it can show the time left of a total found as it goes.

A pool reading a kafka topic has at most one busy consumer per partition (the others sit idle),
so its replica search stops at the partition count; a level where one consumer per partition
still fails says it needs more partitions (``needs_more_partitions``). With ``vary="partitions"``
the search varies the partition count P instead, each P with P replicas (one consumer per
partition), finds the smallest P meeting every SLO and then the fewest replicas on it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from qsim.analytic import Model, build_model
from qsim.cost import tariff
from qsim.errors import QsimError
from qsim.loadscale import pool_index, scale_load, with_fixed_replicas, with_partitions
from qsim.precision import Precision
from qsim.runner import Simulated, run_scenario, worker_pool
from qsim.scenario import Scenario
from qsim.slo import Objective
from qsim.summary import figure_at

__all__ = ["MAX_PARTITIONS", "MAX_REPLICAS", "VARY", "CapacityStudy", "parse_load_range"]

MAX_REPLICAS = 1024
"""The largest replica count the search tries."""
MAX_PARTITIONS = 256
"""The largest partition count ``vary="partitions"`` tries (each with as many consumers)."""
VARY = ("replicas", "partitions")
"""What a capacity search may vary: the pool's replicas, or a kafka topic's partitions (with
the replicas)."""
HEADROOM_STEPS = 16
"""The headroom search tries loads ``2 ** (k / 16)`` for whole k: 16 points per doubling."""
HEADROOM_PRECISION = 2 ** (1 / HEADROOM_STEPS) - 1
"""The headroom's failing load is within 4.4% of the sustained one (adjacent lattice points)."""
HEADROOM_RANGE = (-6 * HEADROOM_STEPS, 6 * HEADROOM_STEPS)
"""The lattice points the headroom search stays within."""
HEADROOM_LIMITS = (
    2.0 ** (HEADROOM_RANGE[0] / HEADROOM_STEPS), 2.0 ** (HEADROOM_RANGE[1] / HEADROOM_STEPS),
)  # fmt: skip
"""Loads beyond which the headroom search stops: the range's ends, 1/64x and 64x."""


MAX_LOAD = 1000.0
"""The largest load multiplier ``--load`` accepts."""


def parse_load_range(text: str, steps: int) -> list[float]:
    """``"0.5x..3x"`` with ``steps`` 6 -> ``[0.5, 1.0, ..., 3.0]``; ``"2x"`` -> ``[2.0]``. A
    range around 1x always has 1x among its levels (``0.5x..2x`` in 6 steps adds it to 0.5,
    0.8, 1.1, ...)."""
    parts = text.split("..")
    try:
        ends = [float(part.strip().removesuffix("x")) for part in parts]
    except ValueError:
        ends = []
    if len(ends) not in (1, 2) or not all(np.isfinite(e) and e > 0 for e in ends):
        raise QsimError(f"--load {text!r}: expected LOW..HIGH multipliers above 0, e.g. 0.5x..3x")
    if max(ends) > MAX_LOAD:
        raise QsimError(
            f"--load {text!r}: at most {MAX_LOAD:g}x today's load (a load beyond it is no "
            "forecast, and its rates overflow the simulation)"
        )
    if len(ends) == 1:
        return ends
    low, high = ends
    if high < low:
        raise QsimError(f"--load {text!r}: the low end must not exceed the high end")
    if low == high or steps == 1:
        return [low] if low == high else [low, high][: max(steps, 1)]
    levels = {round(float(x), 6) for x in np.linspace(low, high, steps)}
    if low < 1.0 < high:
        levels.add(1.0)  # today's load is always a level: "what does today need?"
    return sorted(levels)


@dataclass
class Trial:
    """One (load, replicas) point (on ``partitions``, when a search varies a kafka topic's):
    its replication ``count``, run summary and, per SLO, the verdict."""

    load: float
    replicas: int
    partitions: int | None = None
    count: int = 0
    summary: dict[str, Any] = field(default_factory=dict)
    verdicts: list[bool | None] = field(default_factory=list)

    @property
    def met(self) -> bool | None:
        """True if every SLO is met, False if any fails, None if none fails but one is undecided."""
        if all(v is True for v in self.verdicts):
            return True
        return False if any(v is False for v in self.verdicts) else None


@dataclass
class CapacityStudy:
    """A capacity study of pool ``pool`` of ``scenario`` against ``objectives``."""

    scenario: Scenario
    pool: str
    objectives: list[Objective]
    workers: int = 1
    max_replications: int | None = None
    on_trial: Callable[[Trial], None] | None = None
    on_step: Callable[[str], None] | None = None
    """Called as each step of :func:`capacity` ends: ``"1.5x"`` for a load level, and
    ``"headroom"`` (with more than one worker the steps run side by side and end in any
    order)."""
    on_plan: Callable[[int, int], None] | None = None
    """Called with (points simulated, points expected in all) as each point is simulated and
    as a search's expectation changes (:meth:`expect`): a progress bar's done and total."""
    precision: Precision | None = None
    vary: str = "replicas"
    trials: dict[tuple[float, int, int | None], Trial] = field(default_factory=dict)
    processes: ProcessPoolExecutor | None = None
    """The worker processes every run shares (set by :meth:`sharing_workers`)."""

    def __post_init__(self) -> None:
        if self.vary not in VARY:
            raise QsimError(f"vary {self.vary!r}: expected one of {', '.join(VARY)}")
        for objective in self.objectives:
            if not objective.helped_by_replicas:
                raise QsimError(
                    f"SLO {objective.text!r}: more replicas make it harder to meet; capacity "
                    "searches bounds that replicas help (latency, wait, backlog, utilization "
                    "below; throughput above)"
                )
        scale_load(self.scenario, 1.0)  # refuses what capacity cannot scale (a trace), up front
        index = pool_index(self.scenario, self.pool)
        self.queue = self.scenario.consumers[index].queue
        if any(q.name == self.queue and q.type == "stream" for q in self.scenario.queues):
            raise QsimError(
                f"pool {self.pool!r} reads the stream {self.queue!r}: each replica processes "
                "every message, so replicas do not share the work and capacity has nothing to "
                "search (give the pool more concurrency instead)"
            )
        self.today = self.scenario.consumers[index].replicas
        topic = next(q for q in self.scenario.queues if q.name == self.queue)
        self.partitions = topic.partitions if topic.type == "kafka" else None
        """Today's partition count of the pool's kafka topic (None for a RabbitMQ queue)."""
        if self.vary == "partitions" and self.partitions is None:
            raise QsimError(
                f"--vary partitions: pool {self.pool!r} reads {self.queue!r}, a {topic.type} "
                "queue; only a kafka topic has partitions"
            )
        self._lock = threading.Lock()
        self.reporting = threading.Lock()
        """Held while :attr:`on_trial` or :attr:`on_step` reports (searches run side by side)."""
        self._running: dict[tuple[float, int, int | None], Future[Trial]] = {}
        self._stopped = threading.Event()
        self._expected: dict[str, int] = {}  # per search, the probes it still expects
        self._analytic_headroom: dict[tuple[str, ...], float | None] = {}
        self.model: Model | None = build_model(self.scenario, index)
        if self.max_replications is None:
            self.max_replications = (
                self.precision.max_replications
                if self.precision
                else 4 * self.scenario.replications
            )

    # -- simulation ----------------------------------------------------------------------------
    def _judge(
        self, trial: Trial, scenario: Scenario, count: int, known: Simulated,
        precision: Precision | None = None,
    ) -> None:  # fmt: skip
        """Run ``count`` replications of ``scenario`` (replications 0..count-1, as every
        count does; with ``precision``, more until its headline figures are that precise;
        those ``known`` already are not simulated again) and judge each SLO on their summary."""
        if self._stopped.is_set():  # the command is stopping: start nothing new
            raise SearchStopped(f"{trial.load:g}x, {trial.replicas} replicas: not simulated")
        runs = scenario.model_copy(update={"replications": count})
        trial.summary = run_scenario(
            runs, workers=self.workers, precision=precision, pool=self.processes,
            simulated=known,
        )  # fmt: skip
        trial.count = trial.summary["replications"]
        trial.verdicts = [
            o.verdict(*o.read(trial.summary, self.queue, self.pool)) for o in self.objectives
        ]

    def trial(self, load: float, replicas: int, partitions: int | None = None) -> Trial:
        """Simulate ``replicas`` at ``load`` (on ``partitions``, else today's) once; later
        calls reuse it; while an SLO is undecided, run again with ``max_replications``."""
        key = (load, replicas, partitions)
        with self._lock:  # searches side by side may ask for the same point: simulate it once
            running = self._running.get(key)
            if running is not None:
                mine = False
            else:
                running, mine = self._running.setdefault(key, Future()), True
        if not mine:
            return running.result()
        try:
            trial = self._simulate(key)
        except BaseException as error:
            running.set_exception(error)
            raise
        with self._lock:
            self.trials[key] = trial
        running.set_result(trial)
        if self.on_trial is not None:
            with self.reporting:  # one line at a time
                self.on_trial(trial)
        return trial

    def expect(self, search: str, probes: int) -> None:
        """Note that ``search`` (a load level's, or the headroom's) expects ``probes`` more
        points (:func:`smallest_count`'s ``left``), and tell :attr:`on_plan`. Points that
        searches share, or that are already simulated, make the total an overestimate until
        they are reached."""
        with self._lock:
            self._expected[search] = probes
            done, total = len(self.trials), len(self.trials) + sum(self._expected.values())
        if self.on_plan is not None:
            with self.reporting:
                self.on_plan(done, total)

    def points(self) -> list[tuple[tuple[float, int, int | None], Trial]]:
        """Every point simulated so far, as ``((load, replicas, partitions), trial)``."""
        with self._lock:
            return list(self.trials.items())

    def _simulate(self, key: tuple[float, int, int | None]) -> Trial:
        load, replicas, partitions = key
        scenario = with_fixed_replicas(scale_load(self.scenario, load), self.pool, replicas)
        if partitions is not None:
            scenario = with_partitions(scenario, self.queue, partitions)
        trial = Trial(load, replicas, partitions)
        known = Simulated()  # a re-run reuses these; each point is simulated once, so no other
        self._judge(trial, scenario, self.scenario.replications, known, self.precision)
        cap = self.max_replications or trial.count
        if trial.met is None and trial.count < cap:
            self._judge(trial, scenario, cap, known)
        return trial

    @contextmanager
    def sharing_workers(self) -> Iterator[None]:
        """Every run inside shares one pool of :attr:`workers` processes."""
        with worker_pool(self.workers) as pool:
            self.processes = pool
            try:
                yield
            except BaseException:
                self._stopped.set()  # searches still running side by side start no new point
                raise
            finally:
                self.processes = None

    def meets(self, load: float, replicas: int, partitions: int | None = None) -> bool:
        """Whether ``replicas`` (on ``partitions``) decidedly meets every SLO at ``load``."""
        return self.trial(load, replicas, partitions).met is True

    @property
    def replica_cap(self) -> int:
        """The most replicas worth trying: a kafka topic's partition count (a consumer beyond
        it sits idle), else :data:`MAX_REPLICAS`."""
        return min(self.partitions or MAX_REPLICAS, MAX_REPLICAS)

    # -- search --------------------------------------------------------------------------------
    def smallest(self, load: float, start: int) -> int | None:
        """The smallest replica count meeting every SLO at ``load``, searched from ``start``
        up to :attr:`replica_cap`."""
        return smallest_count(
            lambda n: self.meets(load, n), start, self.replica_cap,
            left=partial(self.expect, f"{load:g}x"),
        )  # fmt: skip

    def smallest_partitions(self, load: float, start: int) -> tuple[int, int] | None:
        """The smallest partition count meeting every SLO at ``load`` with one replica per
        partition, searched from ``start``, and the fewest replicas that meet them on it."""
        left = partial(self.expect, f"{load:g}x")
        found = smallest_count(lambda p: self.meets(load, p, p), start, MAX_PARTITIONS, left=left)
        if found is None:
            return None
        fewest = smallest_count(lambda n: self.meets(load, n, found), found, found, left=left)
        return found, fewest or found

    def headroom(self) -> tuple[float | None, float | None]:
        """(Largest load found sustained, smallest found failing) with today's replica count,
        searched from theory's headroom where there is one (:func:`bracket_load`)."""
        estimate = self.analytic_headroom(self.objectives)
        return bracket_load(
            lambda load: self.meets(load, self.today), estimate, partial(self.expect, "headroom")
        )

    def analytic_headroom(self, objectives: list[Objective]) -> float | None:
        """The same for theory (None without a model)."""
        model = self.model
        if model is None:
            return None
        key = tuple(o.text for o in objectives)
        if key not in self._analytic_headroom:
            test = model.meets(objectives)

            def sustains(load: float) -> bool:
                station = model.station(load, self.today)
                return station.stable and test(station)

            self._analytic_headroom[key] = bracket_load(sustains)[0]
        return self._analytic_headroom[key]


class SearchStopped(Exception):
    """Raised in a search still running when the command stops (an error elsewhere, a Ctrl-C):
    a point it asks for is not simulated, so its thread ends instead of starting workers."""


def smallest_count(
    meets: Callable[[int], bool], start: int, cap: int, *, stride: int = 1,
    left: Callable[[int], None] | None = None,
) -> int | None:  # fmt: skip
    """The smallest count in 1..``cap`` for which ``meets`` holds (assumed to hold from some
    count on), searched from ``start``: strides ``stride``, twice that, ... down from a count
    that meets or up from one that fails, then bisection. None if even ``cap`` fails.

    ``left``, if given, is told before each probe how many probes the search still expects
    (this one included: a bracket's bisection takes the ceiling of log2 of its width), and 0
    at the end; a progress bar sums these over searches side by side."""
    tell = left or _ignore
    start = max(1, min(start, cap))
    tell(1 + _bisections(stride) + 1)  # the start, a neighbour at ``stride``, the bisection
    if meets(start):
        low, high = 0, start
        while high - stride >= 1:
            tell(1 + _bisections(stride))
            if not meets(high - stride):
                low = high - stride
                break
            high, stride = high - stride, stride * 2
    else:
        low = start
        while True:
            tell(1 + _bisections(stride))
            if meets(min(low + stride, cap)):
                break
            if low + stride >= cap:
                tell(0)
                return None
            low, stride = low + stride, stride * 2
        high = min(low + stride, cap)
    while high - low > 1:
        tell(_bisections(high - low))
        middle = (low + high) // 2
        low, high = (low, middle) if meets(middle) else (middle, high)
    tell(0)
    return high


def _bisections(width: int) -> int:
    """Probes a bisection takes to narrow a bracket ``width`` wide to adjacent counts."""
    return (width - 1).bit_length()


def _ignore(_left: int) -> None:
    """Told how many probes are left, and ignores it."""


def headroom_load(step: int) -> float:
    """The load multiplier of lattice point ``step``: ``2 ** (step / HEADROOM_STEPS)``, rounded
    to 6 decimals (a load is printed as written, :func:`parse_load_range`)."""
    return round(2 ** (step / HEADROOM_STEPS), 6)


def headroom_step(load: float) -> int:
    """The lattice point at or below ``load`` (within the lattice's limits)."""
    low, high = HEADROOM_RANGE
    exact = float(np.log2(load)) * HEADROOM_STEPS
    near = round(exact)
    step = near if abs(exact - near) < 1e-3 else int(np.floor(exact))  # a rounded lattice load
    return max(low, min(high, step))


def bracket_load(
    sustains: Callable[[float], bool], estimate: float | None = None,
    left: Callable[[int], None] | None = None,
) -> tuple[float | None, float | None]:  # fmt: skip
    """Largest load sustained and smallest failing, adjacent points of the lattice
    :func:`headroom_load` (at most :data:`HEADROOM_PRECISION` apart), or None beyond its
    limits :data:`HEADROOM_LIMITS`.

    Searched like :func:`smallest_count` on the lattice (assuming a load fails from some point
    on): from ``estimate`` by strides of one point, twice that, ... (a good estimate needs two
    probes: it holds, the next point fails), else from 1x by doubling or halving the load (a
    stride of :data:`HEADROOM_STEPS` points) and then bisection. Both reach the same pair
    wherever failing starts at one load and goes on: the lattice is the points bisection from
    doubling visits."""
    low, high = HEADROOM_RANGE
    offset = low - 1  # count n stands for lattice point n + offset: 1 is the lowest
    start, stride = (0, HEADROOM_STEPS) if estimate is None else (headroom_step(estimate), 1)
    fails = smallest_count(
        lambda n: not sustains(headroom_load(n + offset)), start - offset, high - offset,
        stride=stride, left=left,
    )  # fmt: skip
    if fails is None:
        return headroom_load(high), None
    if fails == 1:
        return None, headroom_load(low)
    return headroom_load(fails - 1 + offset), headroom_load(fails + offset)


WAKE_EVERY = 0.2
"""Seconds between the main thread's checks while searches run side by side. A Ctrl-C that the
kernel hands to another thread only sets Python's flag; a main thread blocked on a lock without
a timeout would never see it (the search would go on, the workers running)."""


def side_by_side(tasks: Sequence[Callable[[], Any]], threads: bool) -> list[Any]:
    """Each task's result, in order: with ``threads``, one thread each (a task that waits for
    worker processes leaves the others the workers), else one after the other. The first
    error, or a Ctrl-C, is raised at once, without waiting for the other tasks.

    The threads are daemons: a search left waiting on workers that a Ctrl-C ended (their
    futures may never resolve) does not keep the command alive once it has said so."""
    if not threads or len(tasks) < 2:
        return [task() for task in tasks]
    futures: list[Future[Any]] = [Future() for _ in tasks]
    for index, (task, future) in enumerate(zip(tasks, futures, strict=True)):
        threading.Thread(
            target=_settle, args=(task, future), name=f"qsim-search-{index}", daemon=True
        ).start()
    while wait(futures, timeout=WAKE_EVERY, return_when=FIRST_EXCEPTION).not_done:
        if any(f.done() and f.exception() is not None for f in futures):
            break
    for future in futures:
        error = future.exception() if future.done() else None
        if error is not None:
            raise error
    return [future.result() for future in futures]


def _settle(task: Callable[[], Any], future: Future[Any]) -> None:
    """Run ``task`` in this thread and settle ``future`` with its result or error."""
    try:
        future.set_result(task())
    except BaseException as error:  # the caller raises it
        future.set_exception(error)


def _slo_rows(
    study: CapacityStudy, trial: Trial, analytic: int | None, partitions: int | None = None
) -> list[dict[str, Any]]:
    """Per SLO: the simulated figure, its interval and verdict, and theory's figure at the
    analytic count (on ``partitions``; None where theory has none)."""
    rows = []
    model = study.model
    for objective, verdict in zip(study.objectives, trial.verdicts, strict=True):
        value, interval = objective.read(trial.summary, study.queue, study.pool)
        theory = (
            model.figure(trial.load, analytic, objective, partitions) if model and analytic
            else None
        )  # fmt: skip
        rows.append(
            {"slo": objective.text, "value": value, "ci95": interval, "met": verdict,
             "analytic": theory}
        )  # fmt: skip
    return rows


def _disagreement(study: CapacityStudy, replicas: int | None, analytic: int | None) -> Any:
    """Why simulation and theory differ at a level (None where they agree)."""
    if study.model is None or replicas == analytic:
        return None
    return list(study.model.notes) or [
        "sampling: nothing the model leaves out; sampling noise, a finite run, or the "
        "conservative rule (the interval's conservative end must meet the SLO)"
    ]


def _analytic_figures(
    study: CapacityStudy, load: float, analytic: int | None, partitions: int | None = None
) -> dict[str, Any]:
    model = study.model
    if model is None or analytic is None:
        return {"analytic_latency_p99_s": None, "analytic_utilization": None}
    station = model.station(load, analytic, partitions)
    from qsim.theory import FIGURES

    return {
        "analytic_latency_p99_s": FIGURES["latency", "p99"](station),
        "analytic_utilization": station.utilization,
    }


def _figures(study: CapacityStudy, chosen: Trial) -> dict[str, Any]:
    """The chosen trial's p99 latency and utilization with their intervals."""
    p99, p99_interval = figure_at(chosen.summary, ("queues", study.queue, "latency_s", "p99"))
    busy, busy_interval = figure_at(chosen.summary, ("consumers", study.pool, "utilization"))
    cost, cost_interval = figure_at(chosen.summary, ("cost", "per_day"))
    return {
        "latency_p99_s": p99,
        "latency_p99_ci95": p99_interval,
        "utilization": busy,
        "utilization_ci95": busy_interval,
        "cost_per_day": cost,
        "cost_per_day_ci95": cost_interval,
    }


def level(study: CapacityStudy, load: float) -> dict[str, Any]:
    """The capacity of one load level: simulated and analytic replica counts and figures (and
    partition counts, on a kafka topic)."""
    model = study.model
    unreachable = model.unreachable(load, study.objectives) if model else []
    if unreachable:
        return _unreachable_level(study, load, unreachable)
    if study.vary == "partitions":
        return _partition_level(study, load)
    analytic = model.replicas(load, study.objectives) if model else None
    start = analytic or max(1, round(study.today * load))
    tried: dict[int, Trial] = {}  # this search's own points (the headroom's may run beside it)

    def meets(count: int) -> bool:
        tried[count] = study.trial(load, count)
        return tried[count].met is True

    replicas = smallest_count(
        meets, start, study.replica_cap, left=partial(study.expect, f"{load:g}x")
    )
    chosen = tried[replicas] if replicas else tried[max(tried)]
    capped = study.partitions is not None and replicas is None
    return {
        "load": load,
        **_answer(study, chosen, replicas, analytic, tried),
        "slos": _slo_rows(study, chosen, analytic),
        **_analytic_figures(study, load, analytic),
        "disagreement": _disagreement(study, replicas, analytic),
        "unreachable": [],
        **_partition_keys(study, study.partitions, None, {}),
        "needs_more_partitions": capped and max(tried) >= study.replica_cap,
    }


def _partition_level(study: CapacityStudy, load: float) -> dict[str, Any]:
    """A level of a ``vary="partitions"`` search: the smallest partition count (one replica
    per partition) meeting every SLO, then the fewest replicas on it."""
    model = study.model
    analytic = model.partitions_needed(load, study.objectives) if model else None
    assert study.partitions is not None
    start = analytic or max(1, round(study.partitions * load))
    found = study.smallest_partitions(load, start)
    ours = [(n, p, t) for (x, n, p), t in study.points() if x == load and p is not None]
    full = {p: t for n, p, t in ours if n == p}  # one replica per partition
    partitions, replicas = found if found else (max(full), None)
    tried = {n: t for n, p, t in ours if p == partitions}
    chosen = tried[replicas] if replicas else full[partitions]
    return {
        "load": load,
        **_answer(study, chosen, replicas, analytic, tried),
        "slos": _slo_rows(study, chosen, analytic, analytic),
        **_analytic_figures(study, load, analytic, analytic),
        "disagreement": _disagreement(study, found and found[0], analytic),
        "unreachable": [],
        **_partition_keys(study, partitions if found else None, analytic, full),
        "needs_more_partitions": False,
    }


def _answer(
    study: CapacityStudy, chosen: Trial, replicas: int | None, analytic: int | None,
    tried: dict[int, Trial],
) -> dict[str, Any]:  # fmt: skip
    """A level's answer: the replicas found (None: none met), theory's, the chosen trial's
    figures and verdict, and the replica counts tried."""
    return {
        "replicas": replicas,
        "analytic_replicas": analytic,
        **_figures(study, chosen),
        "met": chosen.met if replicas is None else True,
        "replications": chosen.count,
        "undecided": sorted(n for n, t in tried.items() if t.met is None),
        "tried": {str(n): tried[n].met for n in sorted(tried)},
    }


def _partition_keys(
    study: CapacityStudy, partitions: int | None, analytic: int | None, full: dict[int, Trial]
) -> dict[str, Any]:
    """A level's partition keys: the partition count of its answer, theory's, the replica cap
    and (``vary="partitions"``) the partition counts tried with one replica each."""
    return {
        "partitions": partitions,
        "analytic_partitions": analytic,
        "replica_cap": study.partitions if study.vary == "replicas" else partitions,
        "tried_partitions": {str(p): full[p].met for p in sorted(full)},
    }


def _unreachable_level(study: CapacityStudy, load: float, reasons: list[str]) -> dict[str, Any]:
    """A level no replica count can meet (so none is simulated)."""
    empty = dict.fromkeys(
        ("latency_p99_s", "latency_p99_ci95", "utilization", "utilization_ci95", "cost_per_day",
         "cost_per_day_ci95")
    )  # fmt: skip
    return {
        "load": load, "replicas": None, "analytic_replicas": None, **empty, "met": False,
        "replications": 0, "slos": [], "undecided": [], "tried": {},
        "analytic_latency_p99_s": None, "analytic_utilization": None, "disagreement": None,
        "unreachable": reasons,
        **_partition_keys(study, None if study.vary == "partitions" else study.partitions,
                          None, {}),
        "needs_more_partitions": False,
    }  # fmt: skip


def _step_done(study: CapacityStudy, step: str) -> None:
    if study.on_step is not None:
        with study.reporting:  # steps side by side end one at a time
            study.on_step(step)


def capacity(study: CapacityStudy, loads: list[float]) -> dict[str, Any]:
    """The whole study as a plain dict (the ``--json`` form)."""
    model = study.model
    hopeless = model is not None and bool(model.unreachable(1.0, study.objectives))

    def search(load: float) -> dict[str, Any]:
        found = level(study, load)
        _step_done(study, f"{load:g}x")
        return found

    def headroom() -> tuple[float | None, float | None]:
        found = (None, None) if hopeless else study.headroom()
        _step_done(study, "headroom")
        return found

    for step in [f"{load:g}x" for load in loads] + ["headroom"]:
        study.expect(step, 2)  # until a search starts: a count that meets and one that fails
    with study.sharing_workers():
        searches: list[Callable[[], Any]] = [partial(search, load) for load in loads]
        *levels, (sustained, failing) = side_by_side([*searches, headroom], study.workers > 1)
    assessable = model.assessable(study.objectives) if model else []
    prices = tariff(study.scenario)
    return {
        "scenario": study.scenario.name,
        "seed": study.scenario.seed,
        "pool": study.pool,
        "queue": study.queue,
        "slos": [o.text for o in study.objectives],
        "currency": None if prices is None else prices.currency,
        "slo_details": [o.as_dict() for o in study.objectives],
        "replications": study.scenario.replications,
        "max_replications": study.max_replications,
        "levels": levels,
        "today_replicas": study.today,
        "vary": study.vary,
        "today_partitions": study.partitions,
        "headroom": sustained,
        "headroom_fails_at": failing,
        "analytic_headroom": study.analytic_headroom(study.objectives),
        "analytic": None if model is None else {
            **model.as_dict(),
            "slos_not_assessed": [o.text for o in study.objectives if o not in assessable],
        },
    }  # fmt: skip
