"""Fan-out: qsim's cost per message as producers and queues multiply, at the same total messages.

Issue 12's target: from 1 to 1,000 producers and from 1 to 100 queues, publishing the same total
number of messages, the time per message grows by at most 25%. Two series of scenarios, each
publishing ``--messages`` in all (default 200,000) at 72 messages per second in all:

- ``producers-N``: N Poisson producers of equal rate, all to one queue, one pool of 8 replicas
  with exponential service of mean 100 ms (M/M/8 at rho 0.9, as the bench's ``mm8``).
- ``queues-N``: N queues, each with its own Poisson producer and its own pool of one replica,
  exponential service at rho 0.9 on every queue (N copies of an M/M/1 queue, N times slower).

Each point runs in a fresh process (:func:`benchmarks.measure.in_subprocess`, the bench's own
measurement: ``qsim``'s full model plus the per-replication figures ``qsim run`` computes), the
points taking turns run by run (seed = run), so machine noise hits them alike. Reported per
point: time per message (median, min-max over runs), its growth over the series' first point
(median over runs of the run's time over the same run's first point), and peak RSS.

Run: ``python -m benchmarks.fanout [--messages 200000] [--runs 3] [--quick]`` from the repository
root. Writes ``benchmarks/results/fanout.json`` and ``fanout.md``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from benchmarks.bench import RESULTS, environment, run_suite
from benchmarks.measure import Job, Measurement, add_measurement_options, in_subprocess, measure
from benchmarks.workloads import Workload, scenario_from_data
from qsim.scenario import Scenario

__all__ = ["SERIES", "Point", "main", "point", "points", "table"]

SERIES: dict[str, tuple[int, ...]] = {"producers": (1, 10, 100, 1000), "queues": (1, 10, 100)}
"""Each series and its fan-outs: producers to one queue, queues each with a producer and pool."""
MESSAGES = 200_000
RUNS = 3
QUICK_MESSAGES = 10_000
QUICK_RUNS = 1
RATE = 72.0  # messages per second, all producers together
REPLICAS = 8  # of the one pool of the producers series
SERVICE_MEAN = 0.1  # seconds, the producers series (rho = 72 * 0.1 / 8 = 0.9)
RHO = 0.9  # utilisation of every queue of the queues series
SLACK = 3.0
"""Runs last 3x the expected time to publish every message: at 10 messages per producer (the
smoke run's 1,000 producers) all 1,000 finish in time but with odds of about 1 in 150."""
GROWTH_TARGET = 1.25
"""Issue 12: time per message at the widest fan-out at most 1.25x the series' first point."""


def _exponential(mean: float) -> dict[str, Any]:
    return {"dist": "exponential", "mean": mean}


def _producers(n: int) -> Callable[[int, int], Scenario]:
    def build(messages: int, seed: int) -> Scenario:
        return scenario_from_data({
            "name": f"fanout-producers-{n}",
            "seed": seed,
            "duration": messages / RATE * SLACK,
            "producers": [
                {"name": f"p{i}", "to": "q", "rate": RATE / n, "count": messages // n}
                for i in range(n)
            ],
            "queues": [{"name": "q"}],
            "consumers": [{
                "name": "c", "queue": "q", "replicas": REPLICAS, "prefetch": 1,
                "service_time": _exponential(SERVICE_MEAN),
            }],
        })  # fmt: skip

    return build


def _queues(n: int) -> Callable[[int, int], Scenario]:
    def build(messages: int, seed: int) -> Scenario:
        rate = RATE / n
        return scenario_from_data({
            "name": f"fanout-queues-{n}",
            "seed": seed,
            "duration": messages / RATE * SLACK,
            "producers": [
                {"name": f"p{i}", "to": f"q{i}", "rate": rate, "count": messages // n}
                for i in range(n)
            ],
            "queues": [{"name": f"q{i}"} for i in range(n)],
            "consumers": [
                {"name": f"c{i}", "queue": f"q{i}", "replicas": 1, "prefetch": 1,
                 "service_time": _exponential(RHO / rate)}
                for i in range(n)
            ],
        })  # fmt: skip

    return build


BUILDERS: dict[str, Callable[[int], Callable[[int, int], Scenario]]] = {
    "producers": _producers,
    "queues": _queues,
}


def point(key: str) -> Workload:
    """The fan-out workload named ``key``: ``producers-N`` or ``queues-N``."""
    series, _, fanout = key.partition("-")
    if series not in BUILDERS or not fanout.isdigit():
        raise KeyError(f"not a fan-out point: {key!r} (expected producers-N or queues-N)")
    n = int(fanout)
    title = f"{n:,} producer(s) to 1 queue" if series == "producers" else f"{n:,} queue(s)"
    return Workload(key, title, BUILDERS[series](n), None)


def points(series: Sequence[str]) -> list[str]:
    """The keys of every point of ``series``, in order."""
    return [f"{name}-{n}" for name in series for n in SERIES[name]]


@dataclass(frozen=True)
class Point:
    """One fan-out point over its runs: time per message, growth over the first point, RSS."""

    series: str
    fanout: int
    messages: int
    runs: int
    median_us: float
    min_us: float
    max_us: float
    growth: float  # median over runs of (this point's time / the series' first point's)
    peak_rss_mb: float  # the highest over runs
    rss_growth: float  # peak RSS over the first point's peak RSS


def _us(m: Measurement) -> float:
    return m.seconds / m.messages * 1e6


def table(measured: Sequence[Measurement]) -> list[Point]:
    """The points of every series measured, growth taken run by run against the first point."""
    by_key: dict[str, list[Measurement]] = {}
    for m in measured:
        by_key.setdefault(m.workload, []).append(m)
    found = []
    for series, fanouts in SERIES.items():
        keys = [f"{series}-{n}" for n in fanouts if f"{series}-{n}" in by_key]
        if not keys:
            continue
        first = {m.seed: m for m in by_key[keys[0]]}
        first_rss = max(m.peak_rss_mb for m in first.values())
        for key in keys:
            runs = by_key[key]
            times = [_us(m) for m in runs]
            rss = max(m.peak_rss_mb for m in runs)
            growth = statistics.median(m.seconds / first[m.seed].seconds for m in runs)
            found.append(
                Point(
                    series, int(key.partition("-")[2]), runs[0].messages, len(runs),
                    statistics.median(times), min(times), max(times), growth, rss,
                    rss / first_rss,
                )
            )  # fmt: skip
    return found


def markdown(found: Sequence[Point]) -> str:
    """The fan-out table in Markdown."""
    lines = [
        "| series | fan-out | messages | us per message, median (min-max) | growth | peak RSS "
        "| RSS growth |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for p in found:
        lines.append(
            f"| {p.series} | {p.fanout:,} | {p.messages:,} | {p.median_us:.2f} "
            f"({p.min_us:.2f}-{p.max_us:.2f}) | {p.growth:.2f} | {p.peak_rss_mb:,.0f} MB "
            f"| {p.rss_growth:.2f} |"
        )
    return "\n".join(lines) + "\n"


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 10k messages, 1 run")
    parser.add_argument("--messages", type=int, help=f"total messages (default {MESSAGES:,})")
    parser.add_argument("--runs", type=int, help=f"runs per point (default {RUNS})")
    parser.add_argument("--series", nargs="+", choices=list(SERIES), default=list(SERIES))
    add_measurement_options(parser, RESULTS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> str:
    """Measure every point, write the results, print and return the Markdown table."""
    args = _arguments(argv)
    runs = args.runs or (QUICK_RUNS if args.quick else RUNS)
    messages = args.messages or (QUICK_MESSAGES if args.quick else MESSAGES)
    started = time.perf_counter()
    todo = [
        Job(key, "qsim", messages, seed)
        for seed in range(1, runs + 1)
        for key in points(args.series)
    ]
    measured = run_suite(todo, measure if args.in_process else in_subprocess)
    found = table(measured)
    meta = environment(runs, [messages], not args.in_process)
    text = (
        f"{runs} run(s) per point (seeds 1-{runs}), {messages:,} messages in all, "
        f"{meta['cpus']} CPUs, Python {meta['python']}; {meta['date']}\n\n" + markdown(found)
    )
    args.results.mkdir(parents=True, exist_ok=True)
    report = {
        "environment": meta,
        "points": [asdict(p) for p in found],
        "measurements": [asdict(m) for m in measured],
    }
    (args.results / "fanout.json").write_text(json.dumps(report, indent=2) + "\n", "utf-8")
    (args.results / "fanout.md").write_text(text, encoding="utf-8")
    print(text)
    print(f"({time.perf_counter() - started:.0f} s; written to {args.results})", file=sys.stderr)
    return text


if __name__ == "__main__":
    main()
