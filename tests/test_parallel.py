"""Replications in parallel: local processes and a Dask cluster give the serial run's summary.

Replication r always uses its own random streams, and results are collected by index, so which
backend runs a replication, and in which order they finish, cannot change a single figure.
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from collections.abc import Iterator, Sequence

import pytest
from click.testing import CliRunner
from conftest import SCENARIOS, scenario_from

from qsim.cli import main
from qsim.errors import QsimError
from qsim.runner import BACKENDS, Replication, Settings, choose_backend, replicate, run_scenario
from qsim.scenario import Scenario, load_scenario

TEXT = """
    name: parallel
    seed: 9
    duration: 120s
    replications: 3
    producers: [{name: p, to: q, rate: 30/s, size: {dist: uniform, low: 1KB, high: 4KB}}]
    queues: [{name: q}]
    consumers:
      - {name: c, queue: q, replicas: 2, prefetch: 3,
         service_time: {dist: lognormal, mean: 50ms, cv: 1.2},
         failures: {nack_probability: 0.02, requeue: true}}
    """


def as_json(summary: dict) -> str:
    """The summary as ``qsim run --json`` writes it: byte equality is the strictest test."""
    return json.dumps(summary)


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return scenario_from(TEXT)


@pytest.fixture(scope="module")
def serial(scenario: Scenario) -> str:
    return as_json(run_scenario(scenario))


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_scenario_survives_pickling(path):
    """Workers receive the scenario pickled; it must come back equal."""
    scenario = load_scenario(path)
    assert pickle.loads(pickle.dumps(scenario)) == scenario


COMPOSITE = """
    name: composite
    duration: 60s
    producers: [{name: p, to: q, rate: 5/s}]
    queues: [{name: q}]
    consumers:
      - name: c
        queue: q
        service_time:
          dist: mixture
          of:
            - {dist: hyperexponential, phases: [{p: 0.25, mean: 2s}, {p: 0.75, mean: 600ms}]}
            - {dist: shifted, shift: 10ms, of: {dist: erlang, k: 3, mean: 90ms}}
          weights: [0.5, 0.5]
    """


def test_a_scenario_of_nested_families_unpickles_in_a_fresh_interpreter(tmp_path):
    """A spawned worker imports qsim and unpickles its scenario before it has validated any:
    the families the scenario holds (here nested in a mixture) must be there by name."""
    scenario = scenario_from(COMPOSITE)
    (tmp_path / "scenario.pickle").write_bytes(pickle.dumps(scenario))
    code = (
        "import pickle, sys; import qsim.runner; "
        "s = pickle.loads(open(sys.argv[1], 'rb').read()); "
        "print(s.consumers[0].service_time.mean)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "scenario.pickle")],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert float(done.stdout) == scenario.consumers[0].service_time.mean


def test_a_process_pool_gives_the_serial_summary(scenario, serial):
    """Two local worker processes: the same JSON, byte for byte."""
    assert as_json(run_scenario(scenario, workers=2)) == serial


def test_results_are_collected_by_index_whatever_the_order_of_completion(
    scenario, serial, monkeypatch
):
    """A backend that finishes the last replication first changes nothing."""

    def backwards(
        scenario: Scenario, replications: Sequence[int], _settings: Settings
    ) -> Iterator[tuple[int, Replication]]:
        for r in reversed(replications):
            yield r, replicate(scenario, r)

    monkeypatch.setitem(BACKENDS, "backwards", backwards)
    assert as_json(run_scenario(scenario, backend="backwards")) == serial


def test_on_replication_hears_of_each_replication_once(scenario):
    """The progress callback is called once per replication, whatever the backend."""
    heard: list[int] = []
    run_scenario(scenario, heard.append, workers=2)
    assert sorted(heard) == [0, 1, 2]


@pytest.mark.parametrize(
    ("settings", "replications", "expected"),
    [
        (Settings(workers=1), 5, "serial"),
        (Settings(workers=4), 1, "serial"),
        (Settings(workers=4), 5, "processes"),
        (Settings(workers=1, address="tcp://127.0.0.1:8786"), 5, "dask"),
    ],
)
def test_the_backend_follows_the_settings(settings, replications, expected):
    """Dask when an address is given; processes only when two or more have work."""
    assert choose_backend(settings, replications) == expected


def test_an_unknown_backend_is_an_error_naming_the_known_ones(scenario):
    with pytest.raises(QsimError, match="known: serial, processes, dask"):
        run_scenario(scenario, backend="threads")


def test_a_dask_cluster_gives_the_local_summary(scenario, serial):
    """A LocalCluster of two worker processes on loopback runs the replications."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True,
        host="127.0.0.1", protocol="tcp", dashboard_address=None,
    ) as cluster:  # fmt: skip
        assert as_json(run_scenario(scenario, dask=cluster.scheduler_address)) == serial


# --- the command line ---------------------------------------------------------------------------


@pytest.fixture
def scenario_file(write_file):
    return write_file("parallel.yaml", TEXT)


def qsim(*args: object):
    return CliRunner().invoke(main, [str(arg) for arg in args])


def test_workers_on_the_command_line_do_not_change_the_json(scenario_file):
    one = qsim("run", scenario_file, "--workers", 1, "--json", "-")
    two = qsim("run", scenario_file, "--workers", 2, "--json", "-")
    assert (one.exit_code, one.stdout) == (0, two.stdout)


def test_dask_without_the_extra_is_one_line_naming_it(scenario_file, monkeypatch):
    """Without ``distributed`` installed, ``--dask`` says which extra to install; exit 2."""
    monkeypatch.setitem(sys.modules, "distributed", None)
    result = qsim("run", scenario_file, "--dask", "tcp://127.0.0.1:8786")
    assert (result.exit_code, result.stderr) == (
        2,
        "qsim: --dask needs the dask extra: pip install -e '.[dask]' in qsim's repository "
        "(distribution qsim-mq)\n",
    )


def test_the_distribution_is_qsim_mq_not_pypis_unrelated_qsim():
    """``pip install qsim`` is a quantum-circuit simulator: qsim's own distribution, whose
    version the summary reports, is ``qsim-mq``, and it provides the ``qsim`` command."""
    from importlib.metadata import distribution

    import qsim

    ours = distribution(qsim.DISTRIBUTION)
    assert qsim.DISTRIBUTION == "qsim-mq" and ours.version == qsim.__version__
    scripts = {e.name: e.value for e in ours.entry_points if e.group == "console_scripts"}
    assert scripts == {"qsim": "qsim.__main__:main"}


def test_the_scheduler_address_can_come_from_the_environment(scenario_file, monkeypatch):
    """``QSIM_DASK_SCHEDULER`` is ``--dask``: here it meets ``--workers``, which is an error."""
    monkeypatch.setenv("QSIM_DASK_SCHEDULER", "tcp://127.0.0.1:8786")
    result = qsim("run", scenario_file, "--workers", 2)
    assert (result.exit_code, result.stderr) == (
        2,
        "qsim: give --workers or --dask (or QSIM_DASK_SCHEDULER), not both\n",
    )


def _blocked_signals() -> set[int]:
    import signal

    return {int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, [])}


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signal masks")
def test_workers_are_born_deaf_to_ctrl_c_and_the_parent_hears_it_again():
    """A Ctrl-C reaches the whole process group, also a worker still importing qsim; the pool
    spawns its workers with SIGINT held, so none can print a traceback (the parent ends them)."""
    import multiprocessing
    import signal
    from concurrent.futures import ProcessPoolExecutor

    from qsim.runner import _held_interrupts

    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    try:
        with _held_interrupts():
            born_with = pool.submit(_blocked_signals)
        assert int(signal.SIGINT) in born_with.result(timeout=60)
    finally:
        pool.shutdown()
    assert int(signal.SIGINT) not in _blocked_signals()
