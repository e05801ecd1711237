"""The run summary: per-replication figures, combined into means with 95% confidence intervals.

The shape of :func:`summarize`'s result is the users' contract (``qsim run --json``): keys may be
added, never renamed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from qsim.cost import Cost, Tariff, bill, tariff, window_amounts
from qsim.engine import RunResult
from qsim.engine.results import (
    FunctionRun,
    GroupRun,
    LevelRun,
    PartitionRun,
    PoolRun,
    QueueRun,
    ReaderRun,
    ResourceRun,
    RetryRun,
)
from qsim.engine.windows import WINDOW_PERCENTILES
from qsim.scenario import Scenario, Slo
from qsim.sketch import LogSketch
from qsim.stats import (
    Groups,
    distribution_summaries,
    distribution_summary,
    mean_interval,
    quantile_grid,
    sketch_quantiles,
    sketch_summary,
)

if TYPE_CHECKING:  # a worker's figures need neither: the summary is made in the command
    from qsim.warmup import Detected

__all__ = [
    "Figures", "cost_figures", "figure_at", "half_width", "lookup", "replication_figures",
    "summarize",
]  # fmt: skip

Figures = dict[str, Any]


def lookup(node: Any, path: Iterable[str]) -> Any:
    """``node[path[0]][path[1]]...`` in a summary, or None where a key is missing."""
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return node


def figure_at(summary: Figures, path: tuple[str, ...]) -> tuple[Any, Any]:
    """The figure at ``path`` of a run summary and its 95% interval (the ``ci95`` mirror); None
    where either is absent."""
    return lookup(summary, path), lookup(summary.get("ci95"), path)


def half_width(summary: Figures, path: tuple[str, ...]) -> float | None:
    """Half-width of the 95% interval of the figure at ``path``, if there is one."""
    interval = lookup(summary.get("ci95"), path)
    return (interval[1] - interval[0]) / 2 if isinstance(interval, list) else None


class _Grouped:
    """One replication's message records (and flows) split by queue and by producer: one
    stable sort per grouping, made on first use, instead of a mask over every record per
    group (:class:`qsim.stats.Groups`: the same values in the same order, so the same
    figures)."""

    def __init__(self, run: RunResult) -> None:
        self._tables = {"records": run.records, "flows": run.flows}
        self._groups: dict[tuple[str, str], Groups] = {}
        self._summaries: dict[tuple[str, str, str], list[dict[str, float | None]]] = {}

    def values(self, field: str, by: str, index: int, table: str = "records") -> np.ndarray:
        """``field`` of the entries of ``table`` whose ``by`` is ``index``, in record order."""
        picked: np.ndarray = self._tables[table][field][self._grouping(table, by).of(index)]
        return picked

    def _grouping(self, table: str, by: str) -> Groups:
        groups = self._groups.get((table, by))
        if groups is None:
            groups = self._groups[(table, by)] = Groups(self._tables[table][by])
        return groups

    def summary(self, field: str, by: str, index: int, table: str = "records") -> Figures:
        """:func:`~qsim.stats.distribution_summary` of :meth:`values`, computed for every
        group of ``by`` at once on first use (:func:`~qsim.stats.distribution_summaries`)."""
        key = (table, by, field)
        summaries = self._summaries.get(key)
        if summaries is None:
            groups = self._grouping(table, by)
            summaries = distribution_summaries(self._tables[table][field], groups)
            self._summaries[key] = summaries
        if 0 <= index < len(summaries):
            return summaries[index]
        return distribution_summary(self._tables[table][field][:0])


def _latency_figures(run: RunResult, grouped: _Grouped, by: str, index: int) -> Figures:
    """Latency and wait of the messages of one queue or producer: exact, or from sketches."""
    if run.sketches is not None:
        empty = LogSketch()
        return {
            f"{field}_s": sketch_summary(run.sketches.get((field, by, index), empty))
            for field in ("latency", "wait")
        }
    return {
        "latency_s": grouped.summary("latency", by, index),
        "wait_s": grouped.summary("wait", by, index),
    }


def _latency_grid(run: RunResult, grouped: _Grouped, index: int) -> dict[str, float | None]:
    """A queue's latency at each level of :data:`QUANTILE_GRID` (for CDF plots)."""
    if run.sketches is not None:
        return sketch_quantiles(run.sketches.get(("latency", "queue", index), LogSketch()))
    return quantile_grid(grouped.values("latency", "queue", index))


def _completed(run: RunResult, grouped: _Grouped, by: str, index: int) -> int:
    """How many messages of a queue or producer completed (published after the warm-up)."""
    if run.sketches is not None:
        sketch = run.sketches.get(("latency", by, index))
        return sketch.count if sketch else 0
    return int(grouped.values("latency", by, index).size)


def _flow_latency(
    run: RunResult, grouped: _Grouped, index: int
) -> tuple[int, dict[str, float | None]]:
    """Completed flows of one producer and their latency figures."""
    if run.sketches is not None:
        sketch = run.sketches.get(("flow", "producer", index), LogSketch())
        return sketch.count, sketch_summary(sketch)
    latencies = grouped.values("latency", "producer", index, table="flows")
    return int(latencies.size), grouped.summary("latency", "producer", index, table="flows")


def _slo_attainment(run: RunResult, grouped: _Grouped, index: int, latency: float) -> float | None:
    """Fraction of a queue's completed messages whose latency is within ``latency``."""
    if run.sketches is not None:
        sketch = run.sketches.get(("latency", "queue", index))
        return sketch.fraction_at_most(latency) if sketch and sketch.count else None
    values = grouped.values("latency", "queue", index)
    return float((values <= latency).mean()) if values.size else None


def _longest_excursion(time: np.ndarray, level: np.ndarray, above: float) -> float:
    """The longest stretch (seconds, from the samples) with ``level`` above ``above``."""
    longest, start = 0.0, None
    for t, value in zip(time.tolist(), level.tolist(), strict=True):
        if value > above and start is None:
            start = t
        elif value <= above and start is not None:
            longest, start = max(longest, t - start), None
    if start is not None:
        longest = max(longest, float(time[-1]) - start)
    return longest


def _slo_figures(run: RunResult, grouped: _Grouped, slo: Slo | None) -> Figures:
    """Per queue: SLO attainment and, with a backlog level, the longest time to drain below it."""
    if slo is None:
        return {}
    figures: Figures = {}
    for index, queue in enumerate(run.queues):
        if not slo.covers(queue.name):
            continue
        entry: Figures = {"attainment": _slo_attainment(run, grouped, index, slo.latency)}
        if slo.backlog is not None:
            ready = run.timeseries[f"{queue.name}:ready"]
            entry["drain_time_s"] = _longest_excursion(run.timeseries["time"], ready, slo.backlog)
        figures[queue.name] = entry
    return {"slo": figures}


def _line_figures(cost: Cost) -> Figures:
    """One item of a pool or queue, from its lines (one, or one per kind of request)."""
    first = cost.lines[0]
    entry: Figures = {
        "quantity": sum(line.quantity for line in cost.lines),
        "price": first.price,
        "amount": None if first.price is None else cost.total,
        "per_day": None if first.price is None else cost.per_day,
    }
    if first.kind is not None:
        entry["by_kind"] = {line.kind: line.quantity for line in cost.lines}
    return entry


def _owner_figures(cost: Cost, owner: str) -> Figures:
    """Per pool (or queue): its total, rate per day and each item billed."""
    names = dict.fromkeys(line.name for line in cost.lines if line.owner == owner)
    figures: Figures = {}
    for name in names:
        share = cost.only(owner=owner, name=name)
        items = {line.item: share.only(item=line.item) for line in share.lines}
        figures[name] = {
            "total": share.total,
            "per_day": share.per_day,
            **{item: _line_figures(part) for item, part in items.items()},
        }
    return figures


def cost_figures(cost: Cost | None) -> Figures | None:
    """The ``cost`` block of one replication: totals over the measured window, per hour and per
    day at its rate, per pool and per queue, and what has a quantity but no price."""
    if cost is None:
        return None
    unpriced = dict.fromkeys(f"{ln.owner} {ln.name}: {ln.item}" for ln in cost.unpriced)
    return {
        "currency": cost.currency,
        "window_s": cost.window,
        "total": cost.total,
        "per_hour": cost.per_hour,
        "per_day": cost.per_day,
        "pools": _owner_figures(cost, "pool"),
        "queues": _owner_figures(cost, "queue"),
        "unpriced": list(unpriced),
    }


def _stream_figures(queue: QueueRun) -> Figures:
    """A stream's log at the end of the run (nothing for other queue types)."""
    if queue.stream is None:
        return {}
    return {"segments": queue.stream.segments, "retained_bytes": queue.stream.retained_bytes}


def _reader_figures(reader: ReaderRun) -> Figures:
    """What one pool's readers did on a stream."""
    lag = reader.lag
    return {
        "delivered": reader.delivered,
        "redelivered": reader.redelivered,
        "acked": reader.acked,
        "failed": reader.failed,
        "interrupted": reader.interrupted,
        "lost_to_retention": reader.lost_to_retention,
        "lag": {"mean": lag.mean, "max": lag.max, "final": lag.final},
    }


def _level(level: LevelRun) -> Figures:
    return {"mean": level.mean, "max": level.max, "final": level.final}


def _partition_figures(partition: PartitionRun) -> Figures:
    return {
        "produced": partition.produced,
        "consumed": partition.consumed,
        "committed": partition.committed,
        "duplicates": partition.duplicates,
        "lost_to_retention": partition.lost_to_retention,
        "lag": _level(partition.lag),
        "lag_s": {"mean": partition.lag_s_mean, "max": partition.lag_s_max},
    }


def _kafka_figures(queue: QueueRun) -> Figures:
    """A kafka topic's ``kafka`` block: per partition and in total (nothing for other types)."""
    if queue.kafka is None:
        return {}
    partitions = [_partition_figures(p) for p in queue.kafka.partitions]
    total = {
        key: sum(p[key] for p in partitions)
        for key in ("produced", "consumed", "committed", "duplicates", "lost_to_retention")
    }
    lag = _level(queue.kafka.lag)
    lag_s = {
        "mean": float(np.mean([p["lag_s"]["mean"] for p in partitions])),
        "max": max(p["lag_s"]["max"] for p in partitions),
    }
    block = {
        **total, "lag": lag, "lag_s": lag_s, "skew": queue.kafka.skew,
        "lingering": queue.kafka.lingering, "partitions": partitions,
    }  # fmt: skip
    return {"kafka": block}


LEASE_COUNTS = (
    "receives", "received", "empty_receives", "deleted", "duplicates", "redelivered",
    "lease_expiries", "returned", "heartbeats", "late_deletes", "stale_deletes",
    "dead_lettered", "exhausted", "expired", "resends", "deduplicated", "duplicate_sends",
)  # fmt: skip
"""A lease queue's counters, as ``queues.<q>.lease`` gives them (LeaseRun's fields)."""


def _lease_figures(queue: QueueRun, window: float) -> Figures:
    """A lease queue's ``lease`` block: receives, leases, ends, levels, the oldest age (nothing
    for other types)."""
    run = queue.lease
    if run is None:
        return {}
    block: Figures = {key: getattr(run, key) for key in LEASE_COUNTS}
    block["empty_receives_per_s"] = run.empty_receives / window
    block["duplicate_fraction"] = run.redelivered / run.deleted if run.deleted else 0.0
    block["visible"] = _level(run.visible)
    block["in_flight"] = _level(run.in_flight)
    block["delayed"] = _level(run.delayed)
    block["oldest_age_s"] = {"mean": run.oldest_age_mean, "max": run.oldest_age_max}
    return {"lease": block}


def _group_figures(group: GroupRun, pool: PoolRun) -> Figures:
    """What one pool did as a consumer group on a kafka topic."""
    return {
        "rebalances": group.rebalances,
        "idle_consumers": _level(group.idle_consumers),
        "paused_partition_seconds": group.paused_partition_seconds,
        "replica_seconds": pool.replica_seconds,
        "retries": group.retries,
        "dead_lettered": group.dead_lettered,
        "skipped": group.skipped,
        "kicked": group.kicked,
        "interrupted": group.interrupted,
    }


def _queue_figures(run: RunResult, grouped: _Grouped) -> Figures:
    return {
        queue.name: {
            **queue.counts,
            **_stream_figures(queue),
            **_kafka_figures(queue),
            **_lease_figures(queue, run.window),
            "ready_final": queue.backlog_final,
            "unacked_final": queue.unacked_final,
            "throughput_per_s": queue.completions / run.window,
            **_latency_figures(run, grouped, "queue", index),
            "latency_quantiles_s": _latency_grid(run, grouped, index),
            "backlog": {
                "mean": queue.backlog_mean,
                "max": queue.backlog_max,
                "final": queue.backlog_final,
            },
        }
        for index, queue in enumerate(run.queues)
    }


def _producer_figures(run: RunResult, grouped: _Grouped) -> Figures:
    producers: Figures = {}
    for index, producer in enumerate(run.producers):
        states = {k: v for k, v in producer.counts.items() if k != "produced"}
        producers[producer.name] = {
            "published": producer.published,
            **states,
            "acked": _completed(run, grouped, "producer", index),
            **_latency_figures(run, grouped, "producer", index),
        }
    return producers


def _flow_figures(run: RunResult, grouped: _Grouped) -> Figures:
    """End to end, per producer: flows started after the warm-up and how they ended."""
    flows: Figures = {}
    for index, producer in enumerate(run.producers):
        completed, latency = _flow_latency(run, grouped, index)
        flows[producer.name] = {
            "started": producer.flows_started,
            "completed": completed,
            "failed": producer.flows_failed,
            "open": producer.flows_started - completed - producer.flows_failed,
            "latency_s": latency,
        }
    return flows


def _consumer_figures(run: RunResult) -> Figures:
    consumers: Figures = {}
    readers = {
        name: reader
        for queue in run.queues
        if queue.stream is not None
        for name, reader in queue.stream.readers.items()
    }
    groups = {
        name: group
        for queue in run.queues
        if queue.kafka is not None
        for name, group in queue.kafka.groups.items()
    }
    for pool in run.pools:
        consumers[pool.name] = {
            "utilization": pool.utilization,
            "replica_seconds": pool.replica_seconds,
            "replicas_mean": pool.replicas_mean,
            "replicas_max": pool.replicas_max,
            "scale_ups": pool.scale_ups,
            "scale_downs": pool.scale_downs,
            "crashes": pool.crashes,
            "channel_closures": pool.channel_closures,
            "consumer_timeouts": pool.consumer_timeouts,
            "lost_in_crash": pool.lost_in_crash,
        }
        if pool.publish:  # the pool publishes onward (a pipeline stage)
            consumers[pool.name]["publish"] = dict(pool.publish)
        if pool.name in readers:  # the pool reads a stream
            consumers[pool.name]["stream"] = _reader_figures(readers[pool.name])
        if pool.name in groups:  # the pool is a consumer group on a kafka topic
            consumers[pool.name]["group"] = _group_figures(groups[pool.name], pool)
        if pool.function is not None:  # an AWS Lambda pool: what it is billed for
            consumers[pool.name]["lambda"] = _function_figures(pool.function)
        if pool.retry is not None:  # the pool retries failed messages with back-off
            consumers[pool.name]["retry"] = _retry_figures(pool.retry)
    return consumers


def _retry_figures(retry: RetryRun) -> Figures:
    """A pool's consumer-side retry: per level its wait and the messages sent to it, the
    parked, and deliveries per message (``amplification``)."""
    return {
        "delays_s": list(retry.delays_s),
        "retried": list(retry.retried),
        "parked": retry.parked,
        "messages": retry.messages,
        "deliveries": retry.deliveries,
        "amplification": retry.amplification,
    }


def _function_figures(function: FunctionRun) -> Figures:
    """An AWS Lambda pool's bill: invocations and GB-seconds (run plus INIT time)."""
    return {
        "invocations": function.invocations,
        "gb_seconds": function.gb_seconds,
        "billed_seconds": function.billed_seconds,
        "init_seconds": function.init_seconds,
        "cold_starts": function.cold_starts,
        "timeouts": function.timeouts,
        "concurrency_max": function.concurrency_max,
        "memory_mb": function.memory_mb,
    }


def _resource_figures(resource: ResourceRun) -> Figures:
    """One shared limit: how much of it was used, how long jobs waited for it and how many
    waited at once (``docs/resources.md``)."""
    sketch = resource.sketch
    wait = distribution_summary(resource.waits) if sketch is None else sketch_summary(sketch)
    requests = resource.requests
    entry: Figures = {
        "kind": resource.kind,
        "capacity": resource.capacity,
        "utilization": resource.utilization,
        "requests": requests,
        "waited": resource.waited,
        "waited_fraction": resource.waited / requests if requests else None,
        "wait_s": wait,
        "queue": _level(resource.queue),
    }
    if resource.held is not None:
        entry["held"] = _level(resource.held)
    return entry


def replication_figures(
    run: RunResult, slo: Slo | None = None, prices: Tariff | None = None
) -> Figures:
    """The headline figures of one replication, nested as in the JSON summary (with ``slo``,
    a section of SLO figures per queue; ``cost`` is priced with ``prices``, None without)."""
    grouped = _Grouped(run)
    return {
        "queues": _queue_figures(run, grouped),
        "producers": _producer_figures(run, grouped),
        "consumers": _consumer_figures(run),
        "flows": _flow_figures(run, grouped),
        "broker": dict(run.broker),
        "resources": {r.name: _resource_figures(r) for r in run.resources},
        **_slo_figures(run, grouped, slo),
        "cost": cost_figures(None if prices is None else bill(run, prices)),
    }


def _combine(items: list[Any]) -> tuple[Any, Any]:
    """Mean and interval of the same figure across replications, recursively through dicts
    and lists."""
    first = items[0]
    if isinstance(first, str):  # a label (a currency): the same in every replication
        return first, None
    if isinstance(first, dict):
        means, intervals = {}, {}
        for key in first:
            means[key], intervals[key] = _combine([item[key] for item in items])
        return means, intervals
    if isinstance(first, list):  # one entry per element (a topic's partitions)
        pairs = [_combine([item[i] for item in items]) for i in range(len(first))]
        return [mean for mean, _ in pairs], [interval for _, interval in pairs]
    mean, interval = mean_interval(items)
    if mean is not None and len(items) == 1 and isinstance(first, int):
        mean = first
    return mean, list(interval) if interval else None


def _rate(time: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Per-second rate over the interval ending at each sample (0 at the first sample)."""
    rate = np.zeros_like(counts)
    spans = np.diff(time)
    rate[1:] = np.divide(np.diff(counts), spans, out=np.zeros_like(spans), where=spans > 0)
    return rate


def _queue_series(series: list[dict[str, np.ndarray]], name: str, length: int) -> Figures:
    """One queue's sampled series: mean over replications, the backlog's range across them, and
    publish and ack rates per second, latency percentiles per sample window
    (:mod:`qsim.engine.windows`: mean over the replications that completed a message in it),
    ``duplicates`` per window starting at each sample (the summary's ``redelivered``, a kafka
    topic's ``kafka.duplicates``: :func:`qsim.engine.simulation.per_window`); a kafka topic's
    ``kafka`` and a lease queue's ``lease`` block of series."""
    ready = np.array([s[f"{name}:ready"][:length] for s in series])
    entry = {
        "ready": ready.mean(axis=0).tolist(),
        "unacked": np.mean([s[f"{name}:unacked"][:length] for s in series], axis=0).tolist(),
        "ready_min": ready.min(axis=0).tolist(),
        "ready_max": ready.max(axis=0).tolist(),
    }
    for field, key in (("published", "publish_rate"), ("acked", "ack_rate")):
        rates = [_rate(s["time"][:length], s[f"{name}:{field}"][:length]) for s in series]
        entry[key] = np.mean(rates, axis=0).tolist()
    for key in (k for k in WINDOW_PERCENTILES if f"{name}:{k}" in series[0]):  # not live runs
        entry[key] = _nanmean_list([s[f"{name}:{key}"][:length] for s in series])
    if f"{name}:duplicates" in series[0]:  # per window from each sample: not live runs
        entry["duplicates"] = np.mean(
            [s[f"{name}:duplicates"][:length] for s in series], axis=0
        ).tolist()
    lease = _lease_series(series, name, length)
    return {**entry, **_partition_series(series, name, length), **lease}


def _nanmean_list(runs: list[np.ndarray]) -> list[float | None]:
    """Sample by sample, the mean over the runs that have a value (None where none has)."""
    stacked = np.array(runs)
    have = ~np.isnan(stacked)
    counts = have.sum(axis=0)
    sums = np.where(have, stacked, 0.0).sum(axis=0)
    return [float(t / c) if c else None for t, c in zip(sums, counts, strict=True)]


def _lease_series(series: list[dict[str, np.ndarray]], name: str, length: int) -> Figures:
    """A lease queue's ``lease`` block of series: the oldest message's age in seconds at each
    sample, mean over replications (nothing for other queue types)."""
    key = f"{name}:oldest_age_s"
    if key not in series[0]:
        return {}
    return {"lease": {"oldest_age_s": np.mean([s[key][:length] for s in series], axis=0).tolist()}}


def _partition_series(series: list[dict[str, np.ndarray]], name: str, length: int) -> Figures:
    """A kafka topic's ``kafka`` block of series: per partition (a list in partition order)
    its lag in records and in seconds at each sample, mean over replications (nothing for
    other queue types)."""
    blocks: dict[str, list[list[float]]] = {"lag": [], "lag_s": []}
    p = 0
    while f"{name}:partition:{p}:lag" in series[0]:
        for field in blocks:
            key = f"{name}:partition:{p}:{field}"
            blocks[field].append(np.mean([s[key][:length] for s in series], axis=0).tolist())
        p += 1
    return {"kafka": blocks} if p else {}


def _mean_timeseries(
    runs: Iterable[dict[str, np.ndarray]], queues: list[str], prices: Tariff | None
) -> Figures:
    series = list(runs)
    length = min(len(s["time"]) for s in series)
    mean = {key: np.mean([s[key][:length] for s in series], axis=0) for key in series[0]}
    pools = [
        key.removeprefix("pool:").removesuffix(":replicas")
        for key in series[0]
        if key.startswith("pool:") and key.endswith(":replicas")
    ]
    return {
        "time_s": mean["time"].tolist(),
        "pools": {
            name: {field: mean[f"pool:{name}:{field}"].tolist() for field in ("replicas", "busy")}
            for name in pools
        },
        "queues": {name: _queue_series(series, name, length) for name in queues},
        **_cost_series(series, length, prices),
    }


BILLED_SERIES = (":replica_seconds", ":gb_seconds", ":invocations", ":requests")
"""How the keys of the engine's billed quantities per window end
(:meth:`qsim.engine.simulation.Model._timeseries`)."""


def _cost_series(
    series: list[dict[str, np.ndarray]], length: int, prices: Tariff | None
) -> Figures:
    """The ``cost`` block of series: ``amount``, money per sample window (the window starting
    at each sample, :func:`qsim.engine.simulation.per_window`), mean over replications, so
    the windows add up to the summary's ``cost.total``; nothing without prices or for runs
    that bill nothing per window (live runs)."""
    if prices is None or not any(key.endswith(BILLED_SERIES) for key in series[0]):
        return {}
    amounts = [window_amounts(s, prices)[:length] for s in series]
    return {"cost": {"currency": prices.currency, "amount": np.mean(amounts, axis=0).tolist()}}


def summarize(
    scenario: Scenario,
    figures: list[Figures],
    timeseries: list[dict[str, np.ndarray]],
    detected: Detected | None = None,
) -> Figures:
    """The JSON summary of ``len(figures)`` replications of ``scenario``; ``detected`` is the
    warm-up found when the scenario says ``warmup: auto`` (``scenario`` then still says auto).

    ``warmup_s`` is the warm-up used; the ``warmup`` section says how it was chosen."""
    from qsim import __version__
    from qsim.warmup import section as warmup_section

    means, intervals = _combine(figures)
    used = detected.warmup_s if detected is not None else scenario.fixed_warmup
    return {
        "scenario": scenario.name,
        "seed": scenario.seed,
        "duration_s": scenario.duration,
        "warmup_s": used,
        "warmup": warmup_section(used, detected, len(figures)),
        "replications": len(figures),
        **means,
        "ci95": intervals,
        "qsim_version": __version__,
        "resolved_scenario": scenario.model_dump(mode="json", by_alias=True),
        "timeseries": _mean_timeseries(
            timeseries, [q.name for q in scenario.queues], tariff(scenario)
        ),
    }
