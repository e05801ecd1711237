"""Start-up cost: the CPU time a fresh interpreter spends importing qsim, over simpy + numpy.

Every worker process pays it before its first replication. Each module is imported in a fresh
interpreter ``--runs`` times, the modules taking turns so machine noise hits them alike; the
figure is the median of ``time.process_time()`` after the import (CPU, so a busy machine
inflates it less than wall time). ``qsim.runner`` is what a worker imports to run
``replicate``; the target (issue 12) is at most 0.2 s over simpy + numpy.

A worker is also measured as it really starts: a parent started like the installed ``qsim``
script spawns one process of :func:`qsim.runner.process_pool`, which re-runs that script (as
``__mp_main__``, multiprocessing's ``spawn``), imports ``qsim.runner`` and reports its CPU when
it can take its first replication; the baseline is a spawned worker of a bare parent that
imports simpy and numpy.

``--against DIR`` measures another qsim source tree too (e.g. ``git worktree add ../before
main``), the trees taking turns, for a before/after comparison. Python compiles every module
it has no cached bytecode for at each start; the output says, per tree, whether qsim's is
cached (``python -m compileall qsim`` writes it; ``PYTHONDONTWRITEBYTECODE`` keeps an
interpreter from writing it).

Run: ``python -m benchmarks.startup [--runs 9] [--against DIR]`` from the repository root.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from importlib.metadata import entry_points
from pathlib import Path

__all__ = ["BASELINE", "MODULES", "WORKERS", "import_cpu", "main", "worker_cpu"]

BASELINE = "simpy, numpy"
"""What qsim cannot do without: the baseline the target is measured over."""
MODULES = (BASELINE, "qsim.engine", "qsim.runner", "qsim.cli")
"""The imports measured: the baseline, the engine, a worker's imports, the command line."""
WORKER_BASELINE = "worker: simpy, numpy"
"""A spawned worker of a bare parent that imports simpy and numpy."""
WORKER = "worker: qsim run"
"""A spawned worker of ``qsim run --workers N``."""
WORKERS = (WORKER_BASELINE, WORKER)
"""The workers measured."""
TARGET_S = 0.2
"""Issue 12's target for ``import qsim.engine`` over the baseline, in CPU seconds."""
HERE = Path(__file__).resolve().parent.parent
"""This qsim source tree."""

_POOL = {
    WORKER_BASELINE: (
        "import multiprocessing\n"
        "from concurrent.futures import ProcessPoolExecutor\n"
        "pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context('spawn'))\n"
    ),
    WORKER: "from qsim.runner import process_pool\npool = process_pool(1)\n",
}
_TASK = {WORKER_BASELINE: "import simpy, numpy", WORKER: "import qsim.runner"}


def _run(command: list[str], tree: Path) -> float:
    """Run ``command`` with qsim imported from ``tree``; the float it prints."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(
        command, capture_output=True, text=True, check=True, timeout=120, cwd=tree, env=env
    )
    return float(done.stdout)


def import_cpu(module: str, tree: Path = HERE) -> float:
    """CPU seconds a fresh interpreter spends to ``import module`` (and start)."""
    code = f"import time; import {module}; print(time.process_time())"
    return _run([sys.executable, "-c", code], tree)


def _script_head(worker: str) -> str:
    """The parent's top lines: the installed ``qsim`` script's import (which a spawned worker
    re-runs), or nothing for the baseline."""
    if worker == WORKER_BASELINE:
        return ""
    (script,) = entry_points(group="console_scripts", name="qsim")
    return f"from {script.module} import {script.attr}\n"


def worker_cpu(worker: str, tree: Path = HERE) -> float:
    """CPU seconds one spawned worker of ``worker``'s parent spends until it has imported what
    its first task needs (interpreter, multiprocessing's start, the parent's script, imports)."""
    body = "".join(f"    {line}\n" for line in _POOL[worker].splitlines())
    program = (
        f"{_script_head(worker)}"
        "if __name__ == '__main__':\n"
        "    import time\n"
        f"{body}"
        f"    pool.submit(exec, {_TASK[worker]!r}).result()\n"
        "    print(pool.submit(time.process_time).result())\n"
        "    pool.shutdown()\n"
    )
    with tempfile.TemporaryDirectory() as folder:
        parent = Path(folder, "parent.py")
        parent.write_text(program)
        return _run([sys.executable, str(parent)], tree)


def measure(runs: int, trees: Sequence[Path] = (HERE,)) -> dict[Path, dict[str, list[float]]]:
    """``runs`` import times of every module in :data:`MODULES` and every worker in
    :data:`WORKERS`, for each tree, all taking turns."""
    names = (*MODULES, *WORKERS)
    times: dict[Path, dict[str, list[float]]] = {t: {n: [] for n in names} for t in trees}
    for _ in range(runs):
        for tree in trees:
            for module in MODULES:
                times[tree][module].append(import_cpu(module, tree))
            for worker in WORKERS:
                times[tree][worker].append(worker_cpu(worker, tree))
    return times


def bytecode(tree: Path) -> str:
    """Whether the interpreters measured read qsim's compiled bytecode or compile its sources."""
    cache = importlib.util.cache_from_source(str(tree / "qsim" / "engine" / "simulation.py"))
    if Path(cache).exists():
        return "qsim's bytecode cached"
    return "qsim compiled from source at each start (no cached bytecode)"


def _row(name: str, values: list[float], base: float, over: str) -> str:
    median = statistics.median(values)
    return (
        f"  {name:<21} {median:.3f} s (min {min(values):.3f}, max {max(values):.3f}), "
        f"over {over}: {median - base:+.3f} s"
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Print each import's and worker's median CPU time, and its excess over its baseline."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="fresh interpreters per module")
    parser.add_argument("--against", type=Path, help="another qsim source tree to measure")
    args = parser.parse_args(argv)
    trees = [HERE] if args.against is None else [HERE, args.against.resolve()]
    measured = measure(args.runs, trees)
    print(f"median CPU of {args.runs} fresh interpreters each (target: <= {TARGET_S} s over")
    print(f"{BASELINE})")
    for tree, times in measured.items():
        if len(trees) > 1:
            print(f"{tree}: {bytecode(tree)}")
        else:
            print(bytecode(tree))
        base = statistics.median(times[BASELINE])
        for module in MODULES:
            print(_row(f"import {module}", times[module], base, BASELINE))
        base = statistics.median(times[WORKER_BASELINE])
        for worker in WORKERS:
            print(_row(worker, times[worker], base, WORKER_BASELINE.removeprefix("worker: ")))


if __name__ == "__main__":
    main()
