"""Start-up cost: the CPU time a fresh interpreter spends importing qsim, over simpy + numpy.

Every worker process pays it before its first replication. Each module is imported in a fresh
interpreter ``--runs`` times, the modules taking turns so machine noise hits them alike; the
figure is the median of ``time.process_time()`` after the import (CPU, so a busy machine
inflates it less than wall time). ``qsim.runner`` is what a worker imports to run
``replicate``; the target (issue 12) is at most 0.2 s over simpy + numpy.

Run: ``python -m benchmarks.startup [--runs 9]`` from the repository root.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from collections.abc import Sequence

__all__ = ["BASELINE", "MODULES", "import_cpu", "main"]

BASELINE = "simpy, numpy"
"""What qsim cannot do without: the baseline the target is measured over."""
MODULES = (BASELINE, "qsim.engine", "qsim.runner", "qsim.cli")
"""The imports measured: the baseline, the engine, a worker's imports, the command line."""
TARGET_S = 0.2
"""Issue 12's target for ``import qsim.engine`` over the baseline, in CPU seconds."""


def import_cpu(module: str) -> float:
    """CPU seconds a fresh interpreter spends to ``import module`` (and start)."""
    code = f"import time; import {module}; print(time.process_time())"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return float(done.stdout)


def measure(runs: int) -> dict[str, list[float]]:
    """``runs`` import times of every module in :data:`MODULES`, taking turns."""
    times: dict[str, list[float]] = {module: [] for module in MODULES}
    for _ in range(runs):
        for module in MODULES:
            times[module].append(import_cpu(module))
    return times


def main(argv: Sequence[str] | None = None) -> None:
    """Print each import's median CPU time, and its excess over the baseline."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="fresh interpreters per module")
    args = parser.parse_args(argv)
    times = measure(args.runs)
    base = statistics.median(times[BASELINE])
    print(f"median CPU of {args.runs} fresh interpreters each (target: <= {TARGET_S} s over")
    print(f"{BASELINE})")
    for module, values in times.items():
        median = statistics.median(values)
        print(
            f"  import {module:<14} {median:.3f} s (min {min(values):.3f}, max "
            f"{max(values):.3f}), over {BASELINE}: {median - base:+.3f} s"
        )


if __name__ == "__main__":
    main()
