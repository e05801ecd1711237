"""Run every replication of a scenario on a backend and summarise.

A replication is independent work: :func:`replicate` simulates replication ``r`` with its own
random streams and keeps only its figures and backlog series (per-message records never leave
the worker). A backend maps :func:`replicate` over the replication indices and yields each
``(index, Replication)`` as it completes; :func:`run_scenario` collects them by index, so the
order of completion never matters and every backend gives the same summary for the same seed.

Backends are looked up by name in :data:`BACKENDS`:

- ``serial``: one after the other in this process.
- ``processes``: a pool of local processes (``workers`` of them), or the one
  :func:`worker_pool` a command shares across all its runs (a capacity search runs dozens).
- ``dask``: an existing ``dask.distributed`` cluster at ``address`` (the ``dask`` extra;
  imported only when used). Its workers need the same qsim installed.
"""

from __future__ import annotations

import importlib
import multiprocessing
import signal
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from qsim.cost import tariff
from qsim.engine import simulate
from qsim.errors import QsimError
from qsim.scenario import Scenario
from qsim.summary import Figures, replication_figures, summarize

if TYPE_CHECKING:  # warm-up detection and precision stops run in the command, not in a worker
    from qsim.precision import Precision
    from qsim.warmup import Detected

__all__ = [
    "BACKENDS",
    "Replication",
    "Simulated",
    "choose_backend",
    "replicate",
    "run_scenario",
    "worker_pool",
]

DASK_EXTRA = "pip install -e '.[dask]' in qsim's repository (distribution qsim-mq)"
LIVE_EXTRA = "pip install -e '.[live]' in qsim's repository (distribution qsim-mq)"


@dataclass(frozen=True)
class Replication:
    """What one replication sends back: its headline figures and its backlog time series."""

    figures: dict[str, Any]
    timeseries: dict[str, np.ndarray]


def replicate(scenario: Scenario, replication: int, stream: float | None = None) -> Replication:
    """Simulate replication ``replication`` of ``scenario`` and keep figures, not records.
    ``stream``: sketch percentiles to this relative accuracy instead of keeping records."""
    result = simulate(scenario, replication, stream)
    figures = replication_figures(result, scenario.slo, tariff(scenario))
    return Replication(figures, result.timeseries)


class Simulated:
    """Replications already simulated by one command, by scenario (as run) and index.

    A replication depends only on its scenario and index (:mod:`qsim.streams`), never on how
    many replications the run asks for, so a run that asks for one again (a capacity count
    re-run with more replications) takes it from here: the summary is bit-identical to a run
    that simulates it afresh."""

    def __init__(self) -> None:
        self._runs: dict[str, tuple[Scenario, dict[int, Replication]]] = {}

    def of(self, scenario: Scenario, stream: float | None) -> dict[int, Replication]:
        """The replications of ``scenario`` (with percentiles sketched to ``stream``) simulated
        so far, by index; the caller adds those it simulates."""
        one = scenario.model_copy(update={"replications": 1})
        key = f"{stream!r} {one.model_dump_json()}"
        known = self._runs.get(key)
        if known is None or known[0] != one:
            known = self._runs[key] = (one, {})
        return known[1]


@dataclass(frozen=True)
class Settings:
    """Where replications run: ``workers`` local processes (``pool``, when a command shares
    one), or the Dask cluster at ``address``."""

    workers: int = 1
    address: str | None = None
    stream: float | None = None
    pool: ProcessPoolExecutor | None = None


Done = Iterator[tuple[int, Replication]]
Backend = Callable[[Scenario, Sequence[int], Settings], Done]


def run_serial(scenario: Scenario, replications: Sequence[int], _settings: Settings) -> Done:
    """Each replication in turn, in this process."""
    for replication in replications:
        yield replication, replicate(scenario, replication, _settings.stream)


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` local processes, each started on first need and deaf to Ctrl-C.

    Workers are spawned, not forked, so threads of the parent (a progress bar) are never copied.
    """
    context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_ignore_interrupts
    )


@contextmanager
def worker_pool(workers: int) -> Iterator[ProcessPoolExecutor | None]:
    """One pool of ``workers`` processes for every run of a command (None for one worker):
    each worker imports qsim once, not once per run. An error or Ctrl-C ends them at once."""
    if workers <= 1:
        yield None
        return
    pool = process_pool(workers)
    try:
        yield pool
    except BaseException:
        _terminate(pool)
        raise
    finally:
        pool.shutdown(cancel_futures=True)


def run_processes(scenario: Scenario, replications: Sequence[int], settings: Settings) -> Done:
    """Replications in local processes: the command's shared ``settings.pool``, else a pool of
    ``settings.workers`` fresh ones for this run alone."""
    if settings.pool is not None:
        yield from _run_in(settings.pool, scenario, replications, settings.stream)
        return
    pool = process_pool(max(1, min(settings.workers, len(replications))))
    try:
        yield from _run_in(pool, scenario, replications, settings.stream)
    finally:
        pool.shutdown(cancel_futures=True)  # start nothing new


def _run_in(
    pool: ProcessPoolExecutor, scenario: Scenario, replications: Sequence[int],
    stream: float | None,
) -> Done:  # fmt: skip
    """Submit every replication to ``pool`` and yield each as it completes."""
    try:
        with _held_interrupts():
            pending: dict[Future[Replication], int] = {
                pool.submit(replicate, scenario, r, stream): r for r in replications
            }
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                yield pending.pop(future), future.result()
    except BaseException:  # Ctrl-C, a signal or an error: stop the workers now, not at the end
        _terminate(pool)
        raise


@contextmanager
def _held_interrupts() -> Iterator[None]:
    """Hold Ctrl-C while the pool spawns its workers (``submit`` starts them): a worker is
    born with SIGINT blocked, so a Ctrl-C while it is still importing cannot print its
    traceback, and the parent receives any Ctrl-C it held as soon as the workers exist."""
    if not hasattr(signal, "pthread_sigmask"):  # not on Windows
        yield
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _ignore_interrupts() -> None:
    """In a worker: leave Ctrl-C (sent to the whole process group) to the parent, which ends
    the workers itself; a worker interrupted on its own would print a traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _terminate(pool: ProcessPoolExecutor) -> None:
    """End ``pool``'s worker processes at once (``shutdown`` alone waits for the running
    replications). ``_processes`` is the executor's own table of its workers."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(timeout=2)


def _distributed() -> Any:
    """The ``distributed`` module, imported on first use: qsim works without it."""
    try:
        return importlib.import_module("distributed")
    except ImportError:
        raise QsimError(f"--dask needs the dask extra: {DASK_EXTRA}") from None


def _dask_client(address: str) -> Any:
    try:
        return _distributed().Client(address)
    except (OSError, TimeoutError, ValueError) as exc:
        raise QsimError(f"cannot reach the Dask scheduler at {address}: {exc}") from None


def run_dask(scenario: Scenario, replications: Sequence[int], settings: Settings) -> Done:
    """Replications as tasks on the ``dask.distributed`` scheduler at ``settings.address``."""
    assert settings.address is not None, "the dask backend needs a scheduler address"
    client = _dask_client(settings.address)
    try:
        futures = {
            client.submit(replicate, scenario, r, settings.stream, pure=False): r
            for r in replications
        }
        for future in _distributed().as_completed(futures):
            yield futures[future], future.result()
    finally:
        client.close()


BACKENDS: dict[str, Backend] = {
    "serial": run_serial,
    "processes": run_processes,
    "dask": run_dask,
}


def choose_backend(settings: Settings, replications: int) -> str:
    """Dask if an address is given; processes if more than one worker has work; else serial."""
    if settings.address:
        return "dask"
    return "processes" if min(settings.workers, replications) > 1 else "serial"


def _backend(settings: Settings, replications: int, backend: str | None) -> Backend:
    name = backend or choose_backend(settings, replications)
    if name not in BACKENDS:
        raise QsimError(f"unknown backend {name!r}; known: {', '.join(BACKENDS)}")
    return BACKENDS[name]


def _with_known(
    backend: Backend, scenario: Scenario, indices: Sequence[int], settings: Settings,
    simulated: Simulated | None,
) -> Done:  # fmt: skip
    """``backend`` over ``indices``, but a replication ``simulated`` already holds is yielded
    from there first (and one simulated now is added to it)."""
    known = {} if simulated is None else simulated.of(scenario, settings.stream)
    missing = [r for r in indices if r not in known]
    yield from ((r, known[r]) for r in indices if r in known)
    if missing:
        for index, replication in backend(scenario, missing, settings):
            known[index] = replication
            yield index, replication


def detect_scenario_warmup(
    scenario: Scenario, pilot: int, backend: Backend, settings: Settings,
    simulated: Simulated | None = None,
) -> Detected:  # fmt: skip
    """``warmup: auto``: simulate the first ``pilot`` replications from time 0 and find the end
    of the transient in their mean sampled series (MSER-5, :mod:`qsim.warmup`)."""
    from qsim.warmup import detect_warmup

    from_start = scenario.model_copy(update={"warmup": 0.0})
    runs = dict(_with_known(backend, from_start, range(pilot), settings, simulated))
    consumed = dict.fromkeys(pool.queue for pool in scenario.consumers)
    return detect_warmup([runs[r].timeseries for r in range(pilot)], consumed)


def run_scenario(
    scenario: Scenario,
    on_replication: Callable[[int], None] | None = None,
    *,
    workers: int = 1,
    dask: str | None = None,
    backend: str | None = None,
    stream: float | None = None,
    precision: Precision | None = None,
    pool: ProcessPoolExecutor | None = None,
    simulated: Simulated | None = None,
) -> dict[str, Any]:
    """Simulate ``scenario.replications`` independent replications and return the summary.

    By default serially in this process; ``workers=N`` uses N local processes (``pool``, a
    :func:`worker_pool` shared by a command's runs, if given) and ``dask`` the address of a
    Dask scheduler (``backend`` names one of :data:`BACKENDS` outright). Results are identical
    whichever runs them. A replication ``simulated`` already holds is taken from there, and
    each one simulated is added to it. ``on_replication(r)`` is called as each one finishes.
    ``stream`` (a relative accuracy, e.g. 0.01) keeps memory flat: percentiles come from
    quantile sketches within that accuracy; means, maxima and counts stay exact.
    ``precision`` runs replications in batches until the headline figures are that precise
    (:mod:`qsim.precision`); the summary's ``precision`` section says which are. With
    ``warmup: auto`` the first replications (at most :data:`qsim.warmup.PILOT`) first run from
    time 0 to find the warm-up that every replication then uses.
    """
    settings = Settings(workers, dask, stream, pool)
    first = scenario.replications if precision is None else precision.start(scenario.replications)
    run_on = _backend(settings, first, backend)
    detected = None
    measured = scenario
    if scenario.auto_warmup:
        from qsim.warmup import PILOT

        pilot = min(first, PILOT)
        detected = detect_scenario_warmup(scenario, pilot, run_on, settings, simulated)
        measured = scenario.model_copy(update={"warmup": detected.warmup_s})
    done: dict[int, Replication] = {}

    def run(indices: range) -> list[Figures]:
        for index, replication in _with_known(run_on, measured, indices, settings, simulated):
            done[index] = replication
            if on_replication is not None:
                on_replication(index)
        return [done[index].figures for index in indices]

    section = None
    if precision is None:
        run(range(first))
    else:
        from qsim.precision import until_precise

        section = until_precise(precision, first, run)[1]
    ordered = [done[index] for index in range(len(done))]
    ran = scenario.model_copy(update={"replications": len(ordered)})  # as a fixed run of as many
    summary = summarize(
        ran, [r.figures for r in ordered], [r.timeseries for r in ordered], detected
    )
    summary["percentiles"] = (
        "exact" if stream is None else f"sketch, within {stream:.2%} relative error"
    )
    if section is not None:
        summary["precision"] = section
    return summary
