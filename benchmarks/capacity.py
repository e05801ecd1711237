"""Where a capacity search's time goes: one line per simulated point, then the totals.

Runs the study ``qsim capacity`` runs (by default issue 12's target command: food-delivery's
delivery-service, ``p99 latency < 5s``, ``--load 1x..2x --steps 4``, 2 workers) and prints, per
(load, replicas) point as it finishes, the wall time since the start and since the previous
point; then wall time, CPU time (this process and its worker processes), points and
replications. ``--one-by-one`` searches the way qsim did before the search was made fast (a
fresh pool of workers per point, the levels and the headroom one after another), so the two can
be run in turn on the same machine; ``--json PATH`` writes the study's JSON, to check that both
give the same answer (``cmp``).

Run: ``python -m benchmarks.capacity [--one-by-one] [--json PATH]`` from the repository root.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from collections.abc import Sequence
from typing import Any

from qsim.capacity import CapacityStudy, Trial, capacity, level, parse_load_range
from qsim.scenario import load_scenario
from qsim.slo import parse_slo

__all__ = ["main"]


def one_by_one(study: CapacityStudy, loads: list[float]) -> dict[str, Any]:
    """The levels, then the headroom, each point in its own pool of workers (qsim before);
    then the study's JSON, from those points (each is simulated once, then reused)."""
    for load in loads:
        level(study, load)
    study.headroom()
    return capacity(study, loads)


def main(argv: Sequence[str] | None = None) -> None:
    """Time one capacity study and print where its time went."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="scenarios/food-delivery.yaml")
    parser.add_argument("--pool", default="delivery-service")
    parser.add_argument("--slo", default="p99 latency < 5s")
    parser.add_argument("--load", default="1x..2x")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--one-by-one", action="store_true", help="search as qsim did before")
    parser.add_argument("--json", metavar="PATH", help="write the study's JSON here")
    args = parser.parse_args(argv)
    start = last = time.perf_counter()

    def heard(trial: Trial) -> None:
        nonlocal last
        now = time.perf_counter()
        print(
            f"{now - start:7.1f} s  +{now - last:6.1f} s  {trial.load:g}x, "
            f"{trial.replicas} replicas: {trial.met} ({trial.count} replications)",
            flush=True,
        )
        last = now

    study = CapacityStudy(
        load_scenario(args.scenario), args.pool, [parse_slo(args.slo)], workers=args.workers,
        on_trial=heard,
    )  # fmt: skip
    loads = parse_load_range(args.load, args.steps)
    result = one_by_one(study, loads) if args.one_by_one else capacity(study, loads)
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(
        f"wall {time.perf_counter() - start:.1f} s, CPU {time.process_time():.1f} s here + "
        f"{workers.ru_utime + workers.ru_stime:.1f} s in workers; {len(study.trials)} points, "
        f"{sum(t.count for t in study.trials.values())} replications"
    )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as file:
            json.dump(result, file, indent=1)


if __name__ == "__main__":
    main()
