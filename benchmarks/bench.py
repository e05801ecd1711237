"""Speed, memory and correctness of qsim against a minimal raw-SimPy model and Ciw.

Workloads (``benchmarks/workloads.py``): M/M/1 and M/M/8 at rho 0.9 and the full food-delivery
scenario, each at 200k and 1M messages. Each model runs each workload 5 times (seeds 1-5), every
run in a fresh process so memory peaks do not mix, the models taking turns so machine noise hits
them alike. Reported per workload: messages per second (median, min-max), qsim's time over each
baseline's (pair by pair), peak RSS, and the mean wait next to the exact value, so a fast wrong
answer cannot pass; then how time grows from the small run to the large one.

Run: ``make bench`` (installs the ``bench`` extra), or ``python -m benchmarks.bench [--quick]``
from the repository root. Writes ``benchmarks/results/latest.json`` and ``latest.md``.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import qsim
from benchmarks.measure import Job, Measurement, add_measurement_options, in_subprocess, measure
from benchmarks.models import MODELS
from benchmarks.report import Row, linearity, markdown, rows
from benchmarks.workloads import WORKLOADS, QueueShape

__all__ = ["main", "plan", "run_suite"]

RESULTS = Path(__file__).resolve().parent / "results"
SIZES = (200_000, 1_000_000)
RUNS = 5
QUICK_SIZES = (2_000, 10_000)
QUICK_RUNS = 2
INSTALL_HINT = "pip install -e '.[bench]'"


def _not_run(model: str, shape: QueueShape) -> str:
    """Why ``model`` cannot run a workload here, or an empty string."""
    if model == "ciw" and importlib.util.find_spec("ciw") is None:
        return f"not run: Ciw is not installed ({INSTALL_HINT})"
    reason = MODELS[model].unsupported(shape)
    return f"not run: {reason}" if reason else ""


def plan(workloads: Sequence[str], sizes: Sequence[int], models: Sequence[str]) -> list[Row]:
    """One row per workload, size and model, with the exact answer or the reason it won't run."""
    planned = []
    for key in workloads:
        workload = WORKLOADS[key]
        shape = QueueShape.of(workload.build(min(sizes), 1))
        for size in sizes:
            for model in models:
                planned.append(
                    Row(
                        key, workload.title, size, model, MODELS[model].label,
                        exact_wait_s=workload.exact_wait, not_run=_not_run(model, shape),
                    )
                )  # fmt: skip
    return planned


def jobs(planned: Sequence[Row], runs: int) -> list[Job]:
    """Every measurement, run by run (seed = run + 1), so the models take turns."""
    return [
        Job(row.workload, row.model, row.messages, seed)
        for seed in range(1, runs + 1)
        for row in planned
        if not row.not_run
    ]


def run_suite(
    todo: Sequence[Job],
    runner: Callable[[Job], Measurement] = in_subprocess,
    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
) -> list[Measurement]:
    """Measure every job in order with ``runner``, logging one line per measurement."""
    done = []
    for index, job in enumerate(todo, start=1):
        m = runner(job)
        log(
            f"[{index}/{len(todo)}] {job.workload} {job.messages:,} {job.model} seed {job.seed}: "
            f"{m.seconds:.2f} s, {m.msgs_per_s:,.0f} msgs/s, peak {m.peak_rss_mb:,.0f} MB"
        )
        done.append(m)
    return done


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def environment(runs: int, sizes: Sequence[int], isolated: bool) -> dict[str, Any]:
    """Where and how the suite ran: enough to judge whether two results compare."""
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "versions": {
            "qsim": qsim.__version__,
            **{p: _version(p) for p in ("simpy", "numpy", "ciw")},
        },
        "runs": runs,
        "seeds": list(range(1, runs + 1)),
        "sizes": list(sizes),
        "fresh_process_per_measurement": isolated,
    }


def notes(workloads: Sequence[str]) -> list[str]:
    """Footnotes for the table: how each workload and baseline is built."""
    lines = [
        "raw SimPy: one simpy.Store, a Poisson producer process and c consumer processes "
        "(no prefetch, TTL or dead-lettering): a lower bound for any SimPy model of the queue.",
        "qsim time / model time: median over run pairs with the same seed; below 1 means qsim "
        "is faster. Peak RSS is the whole process (interpreter and imports included).",
    ]
    lines += [f"{WORKLOADS[w].title}: {WORKLOADS[w].note}" for w in workloads if WORKLOADS[w].note]
    return lines


def write(results: Path, report: dict[str, Any], table: str) -> None:
    """Write ``latest.json`` and ``latest.md`` under ``results``."""
    results.mkdir(parents=True, exist_ok=True)
    (results / "latest.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (results / "latest.md").write_text(table, encoding="utf-8")


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 2k/10k messages, 2 runs")
    parser.add_argument("--runs", type=int, help=f"runs per configuration (default {RUNS})")
    parser.add_argument(
        "--sizes",
        type=lambda text: [int(n) for n in text.split(",")],
        help="message counts, comma-separated (default 200000,1000000)",
    )
    parser.add_argument("--workloads", nargs="+", choices=list(WORKLOADS), default=list(WORKLOADS))
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    add_measurement_options(parser, RESULTS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> str:
    """Run the suite, write the results, print and return the Markdown table."""
    args = _arguments(argv)
    runs = args.runs or (QUICK_RUNS if args.quick else RUNS)
    sizes = args.sizes or (QUICK_SIZES if args.quick else SIZES)
    planned = plan(args.workloads, sizes, args.models)
    started = time.perf_counter()
    measured = run_suite(jobs(planned, runs), measure if args.in_process else in_subprocess)
    table = rows(measured, planned)
    checks = linearity(table)
    meta = environment(runs, sizes, not args.in_process)
    text = "\n".join([
        f"{runs} runs per row (seeds 1-{runs}), {meta['cpus']} CPUs, Python {meta['python']}, "
        + ", ".join(f"{p} {v}" for p, v in meta["versions"].items()) + f"; {meta['date']}",
        "",
        markdown(table, checks),
        *(f"- {line}" for line in notes(args.workloads)),
    ]) + "\n"  # fmt: skip
    report = {
        "environment": meta,
        "rows": [asdict(row) for row in table],
        "linearity": [{**asdict(c), "ratio": c.ratio, "ok": c.ok} for c in checks],
        "measurements": [{**asdict(m), "msgs_per_s": m.msgs_per_s} for m in measured],
    }
    write(args.results, report, text)
    print(text)
    print(f"({time.perf_counter() - started:.0f} s; written to {args.results})", file=sys.stderr)
    return text


if __name__ == "__main__":
    main()
