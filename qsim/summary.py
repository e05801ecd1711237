"""The run summary: per-replication figures, combined into means with 95% confidence intervals.

The shape of :func:`summarize`'s result is the users' contract (``qsim run --json``): keys may be
added, never renamed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from qsim.engine import RunResult
from qsim.scenario import Scenario
from qsim.stats import distribution_summary, mean_interval

__all__ = ["replication_figures", "summarize"]

Figures = dict[str, Any]


def _latency_figures(records: dict[str, np.ndarray], mask: np.ndarray) -> Figures:
    return {
        "latency_s": distribution_summary(records["latency"][mask]),
        "wait_s": distribution_summary(records["wait"][mask]),
    }


def _queue_figures(run: RunResult) -> Figures:
    records = run.records
    return {
        queue.name: {
            **queue.counts,
            "ready_final": queue.backlog_final,
            "unacked_final": queue.unacked_final,
            "throughput_per_s": queue.completions / run.window,
            **_latency_figures(records, records["queue"] == index),
            "backlog": {
                "mean": queue.backlog_mean,
                "max": queue.backlog_max,
                "final": queue.backlog_final,
            },
        }
        for index, queue in enumerate(run.queues)
    }


def _producer_figures(run: RunResult) -> Figures:
    producers: Figures = {}
    for index, producer in enumerate(run.producers):
        mask = run.records["producer"] == index
        states = {k: v for k, v in producer.counts.items() if k != "produced"}
        producers[producer.name] = {
            "published": producer.published,
            **states,
            "acked": int(mask.sum()),
            **_latency_figures(run.records, mask),
        }
    return producers


def _flow_figures(run: RunResult) -> Figures:
    """End to end, per producer: flows started after the warm-up and how they ended."""
    flows: Figures = {}
    for index, producer in enumerate(run.producers):
        latencies = run.flows["latency"][run.flows["producer"] == index]
        ended = latencies.size + producer.flows_failed
        flows[producer.name] = {
            "started": producer.flows_started,
            "completed": int(latencies.size),
            "failed": producer.flows_failed,
            "open": producer.flows_started - ended,
            "latency_s": distribution_summary(latencies),
        }
    return flows


def _consumer_figures(run: RunResult) -> Figures:
    consumers: Figures = {}
    for pool in run.pools:
        consumers[pool.name] = {
            "utilization": pool.utilization,
            "replica_seconds": pool.replica_seconds,
            "replicas_mean": pool.replicas,
            "replicas_max": pool.replicas,
            "crashes": pool.crashes,
            "channel_closures": pool.channel_closures,
            "lost_in_crash": pool.lost_in_crash,
        }
        if pool.publish:  # the pool publishes onward (a pipeline stage)
            consumers[pool.name]["publish"] = dict(pool.publish)
    return consumers


def replication_figures(run: RunResult) -> Figures:
    """The headline figures of one replication, nested as in the JSON summary."""
    return {
        "queues": _queue_figures(run),
        "producers": _producer_figures(run),
        "consumers": _consumer_figures(run),
        "flows": _flow_figures(run),
        "broker": dict(run.broker),
    }


def _combine(items: list[Any]) -> tuple[Any, Any]:
    """Mean and interval of the same figure across replications, recursively through dicts."""
    first = items[0]
    if isinstance(first, dict):
        means, intervals = {}, {}
        for key in first:
            means[key], intervals[key] = _combine([item[key] for item in items])
        return means, intervals
    mean, interval = mean_interval(items)
    if mean is not None and len(items) == 1 and isinstance(first, int):
        mean = first
    return mean, list(interval) if interval else None


def _mean_timeseries(runs: Iterable[dict[str, np.ndarray]], queues: list[str]) -> Figures:
    series = list(runs)
    length = min(len(s["time"]) for s in series)
    mean = {key: np.mean([s[key][:length] for s in series], axis=0) for key in series[0]}
    return {
        "time_s": mean["time"].tolist(),
        "queues": {
            name: {
                "ready": mean[f"{name}:ready"].tolist(),
                "unacked": mean[f"{name}:unacked"].tolist(),
            }
            for name in queues
        },
    }


def summarize(
    scenario: Scenario, figures: list[Figures], timeseries: list[dict[str, np.ndarray]]
) -> Figures:
    """The JSON summary of ``len(figures)`` replications of ``scenario``."""
    from qsim import __version__

    means, intervals = _combine(figures)
    return {
        "scenario": scenario.name,
        "seed": scenario.seed,
        "duration_s": scenario.duration,
        "warmup_s": scenario.warmup,
        "replications": len(figures),
        **means,
        "ci95": intervals,
        "qsim_version": __version__,
        "resolved_scenario": scenario.model_dump(mode="json", by_alias=True),
        "timeseries": _mean_timeseries(timeseries, [q.name for q in scenario.queues]),
    }
