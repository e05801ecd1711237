"""Speed of qsim's full model against a minimal raw-SimPy model of the same queue.

Workload: M/M/c with c = 8 at rho = 0.9 (and M/M/1 at rho 0.9), N messages. The raw-SimPy
baseline is the smallest honest model: one ``simpy.Store``, a Poisson producer process and c
consumer processes that get, wait the service time and record the wait. Both run in this process,
on the same machine, alternately, so the ratio is what counts. The mean wait of each is printed
next to the exact Erlang C value, so a fast wrong answer cannot pass.

Run: ``make bench`` (or ``.venv/bin/python benchmarks/bench.py --messages 200000 --runs 5``).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from pathlib import Path

import numpy as np
import simpy

from qsim.engine import simulate
from qsim.scenario import parse_scenario
from qsim.yamlsource import load_yaml

RESULTS = Path(__file__).parent / "results"


def erlang_c_wait(lam: float, mu: float, c: int) -> float:
    """Exact M/M/c mean wait in queue."""
    a = lam / mu
    top = a**c / math.factorial(c) * c / (c - a)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top) / (c * mu - lam)


def raw_simpy(lam: float, mu: float, c: int, messages: int, seed: int) -> tuple[float, int]:
    """Minimal raw-SimPy M/M/c: returns (mean wait, messages served)."""
    rng = np.random.default_rng(seed)
    gaps = rng.exponential(1 / lam, messages).tolist()
    services = rng.exponential(1 / mu, messages).tolist()
    env = simpy.Environment()
    store = simpy.Store(env)
    waits: list[float] = []

    def producer():
        for gap in gaps:
            yield env.timeout(gap)
            store.put(env.now)

    def consumer():
        while True:
            published = yield store.get()
            waits.append(env.now - published)
            yield env.timeout(services[len(waits) - 1])

    env.process(producer())
    for _ in range(c):
        env.process(consumer())
    env.run()
    return statistics.fmean(waits), len(waits)


def qsim_model(lam: float, mu: float, c: int, messages: int, seed: int) -> tuple[float, int]:
    """qsim's full model (prefetch 1, manual acks, all metrics on): (mean wait, messages)."""
    text = f"""
        name: bench
        seed: {seed}
        duration: {messages / lam * 1.5}
        producers: [{{name: p, to: q, rate: {lam}, count: {messages}}}]
        queues: [{{name: q}}]
        consumers:
          - {{name: c, queue: q, replicas: {c}, prefetch: 1,
             service_time: {{dist: exponential, mean: {1 / mu}}}}}
        """
    scenario = parse_scenario(load_yaml("bench.yaml", text))
    result = simulate(scenario)
    waits = result.records["wait"]
    return float(waits.mean()), int(waits.size)


def measure(fn, *args) -> tuple[float, float, int]:
    """(seconds, mean wait, messages) of one call."""
    start = time.perf_counter()
    wait, n = fn(*args)
    return time.perf_counter() - start, wait, n


def main() -> None:
    """Run the workloads and print a Markdown table; write results/latest.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    workloads = {"M/M/1 rho 0.9": (9.0, 10.0, 1), "M/M/8 rho 0.9": (72.0, 10.0, 8)}
    rows = []
    for name, (lam, mu, c) in workloads.items():
        timings: dict[str, list[float]] = {"qsim": [], "raw SimPy": []}
        waits: dict[str, list[float]] = {"qsim": [], "raw SimPy": []}
        for run in range(args.runs):
            for label, fn in (("raw SimPy", raw_simpy), ("qsim", qsim_model)):
                seconds, wait, n = measure(fn, lam, mu, c, args.messages, run + 1)
                timings[label].append(n / seconds)
                waits[label].append(wait)
        exact = erlang_c_wait(lam, mu, c)
        for label in timings:
            rows.append({
                "workload": name, "model": label, "messages": args.messages,
                "median_msgs_per_s": statistics.median(timings[label]),
                "min_msgs_per_s": min(timings[label]), "max_msgs_per_s": max(timings[label]),
                "mean_wait_s": statistics.fmean(waits[label]), "exact_wait_s": exact,
            })  # fmt: skip
        ratio = statistics.median(timings["raw SimPy"]) / statistics.median(timings["qsim"])
        rows[-1]["time_ratio_qsim_over_raw"] = ratio
        rows[-2]["time_ratio_qsim_over_raw"] = ratio
    print(
        "| workload | model | msgs/s median (min-max) | qsim time / raw time | mean wait | exact |"
    )
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['workload']} | {r['model']} | {r['median_msgs_per_s']:,.0f} "
            f"({r['min_msgs_per_s']:,.0f}-{r['max_msgs_per_s']:,.0f}) | "
            f"{r['time_ratio_qsim_over_raw']:.2f} | {r['mean_wait_s']:.4f} s | "
            f"{r['exact_wait_s']:.4f} s |"
        )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
