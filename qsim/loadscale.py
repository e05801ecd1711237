"""Scenario transformations for capacity studies: more load, a fixed replica count.

:func:`scale_load` multiplies every producer's publish rate by a factor, by arrival process
(:data:`SCALERS`): a ``rate`` and each ``schedule`` step's rate are multiplied (step times stay);
an ``interarrival`` distribution is divided by the factor (every time parameter of it, so its cv
is kept); every ``mmpp`` state's rate and every ``profile`` point's rate are multiplied (stays
and times stay, so bursts are as long and as often, only denser). A ``batch`` keeps its sizes:
the arrivals come faster. A ``trace`` is refused: compressing recorded times would also shorten
the day they cover and move them against the scenario's schedules and outages, so there is no
one faithful reading of "twice the trace". Rates of pipeline stages follow from their input.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from qsim.errors import QsimError
from qsim.scenario import Producer, Scaling, Scenario
from qsim.scenario.model import unknown_name

__all__ = [
    "NESTED_TIMES",
    "SCALERS",
    "TIME_FIELDS",
    "WHOLE_COUNTS",
    "pool_index",
    "scale_load",
    "scaled_data",
    "scaled_distribution",
    "with_fixed_replicas",
    "with_partitions",
]

TIME_FIELDS: dict[str, tuple[str, ...]] = {
    "constant": ("value",),
    "exponential": ("mean",),
    "uniform": ("low", "high"),
    "lognormal": ("mean",),
    "gamma": ("mean",),
    "erlang": ("mean",),
    "weibull": ("scale",),
    "pareto": ("scale",),
    "normal": ("mean", "sd"),
    "empirical": ("values",),
    "triangular": ("low", "mode", "high"),
    "hypoexponential": ("means",),
    "loguniform": ("low", "high"),
    "loglogistic": ("scale",),
    "pmf": ("values",),
}
"""The parameters of each distribution that are times (scaled with it), by ``dist`` name."""

WHOLE_COUNTS: tuple[str, ...] = ("poisson", "geometric", "binomial")
"""Discrete families that cannot scale in their own family (a Poisson count of seconds divided
by 2 is no Poisson): a load multiplier refuses them, naming ``pmf``, which scales."""


def _branch_means(data: dict[str, Any], factor: float) -> dict[str, Any]:
    return {**data, "phases": [{**b, "mean": b["mean"] / factor} for b in data["phases"]]}


def _rates(data: dict[str, Any], factor: float) -> dict[str, Any]:
    return {**data, "generator": [[r * factor for r in row] for row in data["generator"]]}


def _components(data: dict[str, Any], factor: float) -> dict[str, Any]:
    return {**data, "of": [scaled_data(c, factor) for c in data["of"]]}


def _shifted(data: dict[str, Any], factor: float) -> dict[str, Any]:
    return {**data, "shift": data["shift"] / factor, "of": scaled_data(data["of"], factor)}


def _truncated(data: dict[str, Any], factor: float) -> dict[str, Any]:
    bounds = {k: data[k] / factor for k in ("low", "high") if data.get(k) is not None}
    return {**data, **bounds, "of": scaled_data(data["of"], factor)}


NESTED_TIMES: dict[str, Callable[[dict[str, Any], float], dict[str, Any]]] = {
    "hyperexponential": _branch_means,
    "hypererlang": _branch_means,
    "coxian": _branch_means,
    "phasetype": _rates,
    "mixture": _components,
    "shifted": _shifted,
    "truncated": _truncated,
}
"""Distributions whose times sit deeper (each phase's mean) or are rates (multiplied): the
written form divided by a factor, by ``dist`` name."""


def _divided(value: Any, factor: float) -> Any:
    if isinstance(value, tuple | list):
        return [v / factor for v in value]
    return value / factor


def scaled_data(data: dict[str, Any], factor: float) -> dict[str, Any]:
    """A distribution's written form (``model_dump``) with its times divided by ``factor``."""
    name = data["dist"]
    if name in NESTED_TIMES:
        return NESTED_TIMES[name](data, factor)
    if name in WHOLE_COUNTS:
        raise QsimError(
            f"cannot scale a {name} interarrival distribution: its values divided by a load"
            " factor are not of its family; write the gaps as a pmf, which scales"
        )
    fields = TIME_FIELDS.get(name)
    if fields is None:
        raise QsimError(f"cannot scale a {name} interarrival distribution")
    return {**data, **{key: _divided(data[key], factor) for key in fields}}


def scaled_distribution(distribution: Any, factor: float) -> Any:
    """``distribution`` of times divided by ``factor`` (same shape and cv)."""
    data = scaled_data(distribution.model_dump(by_alias=True), factor)
    return type(distribution).model_validate(data)


def _rate(producer: Producer, factor: float) -> Producer:
    assert producer.rate is not None
    return producer.model_copy(update={"rate": producer.rate * factor})


def _schedule(producer: Producer, factor: float) -> Producer:
    steps = tuple(s.model_copy(update={"rate": s.rate * factor}) for s in producer.schedule or ())
    return producer.model_copy(update={"schedule": steps})


def _interarrival(producer: Producer, factor: float) -> Producer:
    scaled = scaled_distribution(producer.interarrival, factor)
    return producer.model_copy(update={"interarrival": scaled})


def _mmpp(producer: Producer, factor: float) -> Producer:
    assert producer.mmpp is not None
    return producer.model_copy(update={"mmpp": producer.mmpp.scaled(factor)})


def _profile(producer: Producer, factor: float) -> Producer:
    assert producer.profile is not None
    return producer.model_copy(update={"profile": producer.profile.scaled(factor)})


def _trace(producer: Producer, _factor: float) -> Producer:
    raise QsimError(
        f"producer {producer.name!r} replays a trace, which capacity cannot scale; "
        "give it a rate or schedule for capacity studies"
    )


SCALERS: dict[str, Callable[[Producer, float], Producer]] = {
    "rate": _rate,
    "schedule": _schedule,
    "interarrival": _interarrival,
    "trace": _trace,
    "mmpp": _mmpp,
    "profile": _profile,
}
"""How each arrival process is scaled, by its key."""


def scale_load(scenario: Scenario, factor: float) -> Scenario:
    """``scenario`` with every producer publishing ``factor`` times as fast."""
    producers = tuple(SCALERS[p.arrival_key](p, factor) for p in scenario.producers)
    return scenario.model_copy(update={"producers": producers})


def pool_index(scenario: Scenario, pool: str) -> int:
    """Index of consumer pool ``pool``; an unknown name is a one-line error with a hint."""
    names = [p.name for p in scenario.consumers]
    if pool not in names:
        raise QsimError(unknown_name("pool", pool, names))
    return names.index(pool)


def with_fixed_replicas(scenario: Scenario, pool: str, replicas: int) -> Scenario:
    """``scenario`` with pool ``pool`` running exactly ``replicas`` (any autoscaling removed)."""
    index = pool_index(scenario, pool)
    pools = list(scenario.consumers)
    pools[index] = pools[index].model_copy(update={"replicas": replicas, "scaling": Scaling()})
    return scenario.model_copy(update={"consumers": tuple(pools)})


def with_partitions(scenario: Scenario, queue: str, partitions: int) -> Scenario:
    """``scenario`` with kafka topic ``queue`` cut into ``partitions`` partitions (keys are
    placed by murmur2 modulo the new count, as a topic created with it would place them)."""
    queues = tuple(
        q.model_copy(update={"partitions": partitions}) if q.name == queue else q
        for q in scenario.queues
    )
    return scenario.model_copy(update={"queues": queues})
