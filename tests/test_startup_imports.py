"""What a worker imports at start-up (issue 12): the engine and a worker running a plain
scenario leave the command line's and the reports' heavy modules, and the broker kinds the
scenario does not use, unimported. Each check runs a fresh interpreter; none is timed (the
times are ``benchmarks/startup.py``'s)."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from qsim.distributions import FAMILY_MODULES, REGISTRY
from qsim.engine import kinds
from qsim.engine.kafka.topic import Topic
from qsim.engine.lease import LeaseQueue
from qsim.engine.log import Stream
from qsim.engine.queue import Queue

ROOT = Path(__file__).resolve().parent.parent

HEAVY = ("scipy", "rich", "matplotlib", "yaml", "click")
"""Modules a worker never needs: statistics' intervals, the console, plots, YAML, the CLI."""
UNUSED = (
    "qsim.engine.kafka.topic",
    "qsim.engine.lease.queue",
    "qsim.engine.log.stream",
    "qsim.engine.autoscaler",
    *FAMILY_MODULES,
    "qsim.warmup",
    "qsim.precision",
)
"""Modules that a RabbitMQ scenario with fixed replicas and exponential times skips: the other
broker kinds, the autoscaler, the composite, discrete and phase-type families; and what only
the command runs (warm-up detection, precision stops)."""
PROBE = f"sorted(m for m in {HEAVY + UNUSED!r} if m in __import__('sys').modules)"
"""An expression naming which of those a process has imported."""

PLAIN = """\
name: plain
duration: 10s
producers: [{name: p, to: q, rate: 5/s}]
queues: [{name: q}]
consumers: [{name: c, queue: q, service_time: 50ms}]
"""


def _imported_after(code: str) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}; print(repr({PROBE}))"],
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    imported: list[str] = eval(out.stdout)
    return imported


def _script_import() -> str:
    """The line the installed ``qsim`` script runs first (pip writes it from the entry point);
    a spawned worker re-runs it."""
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    module, attribute = scripts["qsim"].split(":")
    return f"from {module} import {attribute}"


def test_importing_the_engine_imports_no_heavy_module_and_no_broker_kind():
    """``import qsim.engine`` loads neither scipy, rich, matplotlib, yaml nor click, no
    delivery model but RabbitMQ's queue (the others load when a scenario names their type) and
    no distribution family outside ``qsim.distributions``."""
    assert _imported_after("import qsim.engine") == []


def test_a_worker_of_the_qsim_script_runs_a_plain_scenario_without_heavy_modules(tmp_path):
    """A worker spawned by ``qsim run --workers N`` re-runs the ``qsim`` script, unpickles a
    RabbitMQ scenario and simulates a replication: it imports none of the heavy modules and
    none of the other broker kinds or the autoscaler."""
    (tmp_path / "plain.yaml").write_text(PLAIN)
    parent = tmp_path / "qsim_script.py"
    parent.write_text(
        f"{_script_import()}\n"
        "if __name__ == '__main__':\n"
        "    import json, sys\n"
        "    from qsim.runner import process_pool, replicate\n"
        "    from qsim.scenario import load_scenario\n"
        "    pool = process_pool(1)\n"
        "    replication = pool.submit(replicate, load_scenario(sys.argv[1]), 0).result()\n"
        f"    imported = pool.submit(eval, {PROBE!r}).result()\n"
        "    pool.shutdown()\n"
        "    print(json.dumps([replication.figures['queues']['q']['acked'] > 0, imported]))\n"
    )
    out = subprocess.run(
        [sys.executable, str(parent), str(tmp_path / "plain.yaml")],
        capture_output=True, text=True, check=True, timeout=300,
    )  # fmt: skip
    assert json.loads(out.stdout) == [True, []]


@pytest.mark.parametrize(
    ("kind", "model"),
    [("classic", Queue), ("quorum", Queue), ("stream", Stream), ("kafka", Topic),
     ("sqs", LeaseQueue), ("jetstream", LeaseQueue)],
)  # fmt: skip
def test_a_registered_kind_resolves_to_its_delivery_model(kind, model):
    """The registry names each builder as ``module:attribute``; the first use imports it."""
    assert kinds.builder(kind) is model


def test_built_by_knows_a_model_only_by_its_own_class():
    """``built_by`` is isinstance against the registered class: a RabbitMQ queue is not a
    Kafka topic, and no object is an instance of a class whose module was never imported."""
    assert not kinds.built_by(object(), kinds.TOPIC)
    assert not kinds.built_by(object(), "qsim.never_imported:Model")
    assert kinds.built_by(Topic.__new__(Topic), kinds.TOPIC)


def test_the_distribution_registry_lists_every_family_when_first_read():
    """The families of :data:`FAMILY_MODULES` register when the registry is first read: a
    fresh interpreter that imports only ``qsim.distributions`` lists them all, in order."""
    code = "from qsim.distributions import REGISTRY; print(list(REGISTRY))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert eval(out.stdout) == list(REGISTRY) and {"mixture", "pmf", "coxian"} <= set(REGISTRY)
