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
Headroom is the largest load multiplier today's replica count sustains: a bracket on the load
from 1x by doubling or halving, then bisection to :data:`HEADROOM_PRECISION`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qsim.analytic import Model, build_model
from qsim.cost import tariff
from qsim.errors import QsimError
from qsim.loadscale import pool_index, scale_load, with_fixed_replicas
from qsim.precision import Precision
from qsim.runner import run_scenario
from qsim.scenario import Scenario
from qsim.slo import Objective
from qsim.summary import figure_at

__all__ = ["MAX_REPLICAS", "CapacityStudy", "parse_load_range"]

MAX_REPLICAS = 1024
"""The largest replica count the search tries."""
HEADROOM_PRECISION = 0.05
"""Headroom bisection stops when the failing load is within 5% of the sustained one."""
HEADROOM_LIMITS = (1 / 64, 64.0)
"""Loads beyond which the headroom search stops."""


MAX_LOAD = 1000.0
"""The largest load multiplier ``--load`` accepts."""


def parse_load_range(text: str, steps: int) -> list[float]:
    """``"0.5x..3x"`` with ``steps`` 6 -> ``[0.5, 1.0, ..., 3.0]``; ``"2x"`` -> ``[2.0]``."""
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
    return [round(float(x), 6) for x in np.linspace(low, high, steps)]


@dataclass
class Trial:
    """One (load, replicas) point: its replication ``count``, run summary and, per SLO, the
    verdict."""

    load: float
    replicas: int
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
    precision: Precision | None = None
    trials: dict[tuple[float, int], Trial] = field(default_factory=dict)

    def __post_init__(self) -> None:
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
        self.model: Model | None = build_model(self.scenario, index)
        if self.max_replications is None:
            self.max_replications = (
                self.precision.max_replications
                if self.precision
                else 4 * self.scenario.replications
            )

    # -- simulation ----------------------------------------------------------------------------
    def _judge(
        self, trial: Trial, scenario: Scenario, count: int, precision: Precision | None = None
    ) -> None:
        """Run ``count`` replications of ``scenario`` (replications 0..count-1, as every
        count does; with ``precision``, more until its headline figures are that precise) and
        judge each SLO on their summary."""
        runs = scenario.model_copy(update={"replications": count})
        trial.summary = run_scenario(runs, workers=self.workers, precision=precision)
        trial.count = trial.summary["replications"]
        trial.verdicts = [
            o.verdict(*o.read(trial.summary, self.queue, self.pool)) for o in self.objectives
        ]

    def trial(self, load: float, replicas: int) -> Trial:
        """Simulate ``replicas`` at ``load`` (once; later calls reuse it); while an SLO is
        undecided, run again with ``max_replications``."""
        key = (load, replicas)
        if key in self.trials:
            return self.trials[key]
        scenario = with_fixed_replicas(scale_load(self.scenario, load), self.pool, replicas)
        trial = Trial(load, replicas)
        self._judge(trial, scenario, self.scenario.replications, self.precision)
        cap = self.max_replications or trial.count
        if trial.met is None and trial.count < cap:
            self._judge(trial, scenario, cap)
        self.trials[key] = trial
        if self.on_trial is not None:
            self.on_trial(trial)
        return trial

    def meets(self, load: float, replicas: int) -> bool:
        """Whether ``replicas`` decidedly meets every SLO at ``load``."""
        return self.trial(load, replicas).met is True

    # -- search --------------------------------------------------------------------------------
    def smallest(self, load: float, start: int) -> int | None:
        """The smallest replica count meeting every SLO at ``load``, searched from ``start``."""
        start = max(1, min(start, MAX_REPLICAS))
        if self.meets(load, start):
            low, high, stride = 0, start, 1
            while high - stride >= 1:
                if not self.meets(load, high - stride):
                    low = high - stride
                    break
                high, stride = high - stride, stride * 2
        else:
            low, stride = start, 1
            while not self.meets(load, min(low + stride, MAX_REPLICAS)):
                if low + stride >= MAX_REPLICAS:
                    return None
                low, stride = low + stride, stride * 2
            high = min(low + stride, MAX_REPLICAS)
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (low, middle) if self.meets(load, middle) else (middle, high)
        return high

    def headroom(self) -> tuple[float | None, float | None]:
        """(Largest load found sustained, smallest found failing) with today's replica count."""
        return bracket_load(lambda load: self.meets(load, self.today))

    def analytic_headroom(self, objectives: list[Objective]) -> float | None:
        """The same for theory (None without a model)."""
        model = self.model
        if model is None:
            return None
        test = model.meets(objectives)

        def sustains(load: float) -> bool:
            station = model.station(load, self.today)
            return station.stable and test(station)

        return bracket_load(sustains)[0]


def bracket_load(sustains: Callable[[float], bool]) -> tuple[float | None, float | None]:
    """Largest load sustained and smallest failing, from 1x by doubling or halving, then
    bisection (geometric) until they are within :data:`HEADROOM_PRECISION`."""
    low_limit, high_limit = HEADROOM_LIMITS
    if sustains(1.0):
        low, high = 1.0, 2.0
        while sustains(high):
            low, high = high, high * 2
            if high > high_limit:
                return low, None
    else:
        low, high = 0.5, 1.0
        while not sustains(low):
            low, high = low / 2, low
            if low < low_limit:
                return None, high
    while high / low > 1 + HEADROOM_PRECISION:
        middle = round(float(np.sqrt(low * high)), 6)
        low, high = (middle, high) if sustains(middle) else (low, middle)
    return low, high


def _slo_rows(study: CapacityStudy, trial: Trial, analytic: int | None) -> list[dict[str, Any]]:
    """Per SLO: the simulated figure, its interval and verdict, and theory's figure at the
    analytic count (None where theory has none)."""
    rows = []
    model = study.model
    for objective, verdict in zip(study.objectives, trial.verdicts, strict=True):
        value, interval = objective.read(trial.summary, study.queue, study.pool)
        theory = model.figure(trial.load, analytic, objective) if model and analytic else None
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


def _analytic_figures(study: CapacityStudy, load: float, analytic: int | None) -> dict[str, Any]:
    model = study.model
    if model is None or analytic is None:
        return {"analytic_latency_p99_s": None, "analytic_utilization": None}
    station = model.station(load, analytic)
    from qsim.theory import FIGURES

    return {
        "analytic_latency_p99_s": FIGURES["latency", "p99"](station),
        "analytic_utilization": station.utilization,
    }


def level(study: CapacityStudy, load: float) -> dict[str, Any]:
    """The capacity of one load level: simulated and analytic replica counts and figures."""
    model = study.model
    unreachable = model.unreachable(load, study.objectives) if model else []
    if unreachable:
        return _unreachable_level(load, unreachable)
    analytic = model.replicas(load, study.objectives) if model else None
    start = analytic or max(1, round(study.today * load))
    replicas = study.smallest(load, start)
    tried = {n: t for (x, n), t in study.trials.items() if x == load}
    chosen = tried[replicas] if replicas else tried[max(tried)]
    p99, p99_interval = figure_at(chosen.summary, ("queues", study.queue, "latency_s", "p99"))
    busy, busy_interval = figure_at(chosen.summary, ("consumers", study.pool, "utilization"))
    cost, cost_interval = figure_at(chosen.summary, ("cost", "per_day"))
    return {
        "load": load,
        "replicas": replicas,
        "analytic_replicas": analytic,
        "latency_p99_s": p99,
        "latency_p99_ci95": p99_interval,
        "utilization": busy,
        "utilization_ci95": busy_interval,
        "cost_per_day": cost,
        "cost_per_day_ci95": cost_interval,
        "met": chosen.met if replicas is None else True,
        "replications": chosen.count,
        "slos": _slo_rows(study, chosen, analytic),
        "undecided": sorted(n for n, t in tried.items() if t.met is None),
        "tried": {str(n): tried[n].met for n in sorted(tried)},
        **_analytic_figures(study, load, analytic),
        "disagreement": _disagreement(study, replicas, analytic),
        "unreachable": [],
    }


def _unreachable_level(load: float, reasons: list[str]) -> dict[str, Any]:
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
    }  # fmt: skip


def capacity(study: CapacityStudy, loads: list[float]) -> dict[str, Any]:
    """The whole study as a plain dict (the ``--json`` form)."""
    model = study.model
    levels = [level(study, load) for load in loads]
    hopeless = model is not None and bool(model.unreachable(1.0, study.objectives))
    sustained, failing = (None, None) if hopeless else study.headroom()
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
        "headroom": sustained,
        "headroom_fails_at": failing,
        "analytic_headroom": study.analytic_headroom(study.objectives),
        "analytic": None if model is None else {
            **model.as_dict(),
            "slos_not_assessed": [o.text for o in study.objectives if o not in assessable],
        },
    }  # fmt: skip
