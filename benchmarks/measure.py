"""One measurement: a model on a workload at a size and seed, timed, with the process's peak RSS.

``python -m benchmarks.measure WORKLOAD MODEL MESSAGES SEED`` prints one measurement as JSON. The
suite runs every measurement that way, in a fresh process, so one model's memory peak never
mixes with another's; :func:`measure` is the same work in the current process (for tests).
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from benchmarks.models import MODELS
from benchmarks.workloads import WORKLOADS, Workload

__all__ = ["Job", "Measurement", "add_measurement_options", "in_subprocess", "measure", "workload"]

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Job:
    """What to measure: a workload key, a model key, a message count and a seed."""

    workload: str
    model: str
    messages: int
    seed: int


@dataclass(frozen=True)
class Measurement:
    """A timed run: wall-clock seconds of the model alone, its answer and memory."""

    workload: str
    model: str
    messages: int
    seed: int
    seconds: float
    mean_wait_s: float | None
    peak_rss_mb: float  # the whole process, imports included
    rss_before_run_mb: float  # peak before the model started: interpreter, imports, scenario

    @property
    def msgs_per_s(self) -> float:
        """Messages simulated per wall-clock second."""
        return self.messages / self.seconds


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, else KiB


def workload(key: str) -> Workload:
    """The workload named ``key``: one of the bench's, or a fan-out point (``producers-100``,
    :mod:`benchmarks.fanout`)."""
    if key in WORKLOADS:
        return WORKLOADS[key]
    from benchmarks.fanout import point  # imported here: benchmarks.fanout imports this module

    return point(key)


def measure(job: Job) -> Measurement:
    """Build the workload's scenario (untimed), then time the model on it."""
    scenario = workload(job.workload).build(job.messages, job.seed)
    run = MODELS[job.model].run
    gc.collect()
    before = peak_rss_mb()
    start = time.perf_counter()
    outcome = run(scenario)
    seconds = time.perf_counter() - start
    if outcome.messages != job.messages:
        raise RuntimeError(f"{job}: simulated {outcome.messages} messages, not {job.messages}")
    return Measurement(
        job.workload, job.model, job.messages, job.seed,
        seconds, outcome.mean_wait_s, peak_rss_mb(), before,
    )  # fmt: skip


def in_subprocess(job: Job) -> Measurement:
    """:func:`measure` in a fresh Python process, so its memory peak is its own."""
    args = [job.workload, job.model, str(job.messages), str(job.seed)]
    process = subprocess.run(
        [sys.executable, "-m", "benchmarks.measure", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if process.returncode != 0:
        raise RuntimeError(f"{job} failed:\n{process.stderr}")
    return Measurement(**json.loads(process.stdout))


def main(argv: list[str]) -> None:
    """Measure the job named on the command line and print it as JSON."""
    workload, model, messages, seed = argv
    print(json.dumps(asdict(measure(Job(workload, model, int(messages), int(seed))))))


if __name__ == "__main__":
    main(sys.argv[1:])


def add_measurement_options(parser: argparse.ArgumentParser, results: Path) -> None:
    """The options every benchmark takes: ``--in-process`` (measure in this process, so memory
    peaks mix) and ``--results`` (the output folder, ``results`` by default)."""
    parser.add_argument(
        "--in-process", action="store_true", help="measure in this process (memory peaks mix)"
    )
    parser.add_argument("--results", type=Path, default=results, help="output folder")
