"""Shared helpers: build scenarios from inline YAML, run them, read the summary."""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qsim.engine import RunResult, simulate
from qsim.engine.simulation import Model
from qsim.scenario import Scenario, parse_scenario
from qsim.yamlsource import load_yaml

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"


def write_scenario(tmp_path: Path, text: str) -> Path:
    """``text`` (dedented) as ``scenario.yaml`` in ``tmp_path``."""
    path = tmp_path / "scenario.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def scenario_error(tmp_path: Path, good: str, old: str, new: str) -> str:
    """The one-line error of scenario ``good`` with ``old`` replaced by ``new`` (the file's
    folder left out)."""
    from qsim.errors import ScenarioError
    from qsim.scenario import load_scenario

    assert old in good
    with pytest.raises(ScenarioError) as caught:
        load_scenario(write_scenario(tmp_path, good.replace(old, new, 1)))
    return str(caught.value).replace(str(tmp_path) + "/", "")


def broker_url(variable: str, how: str) -> str:
    """The broker URL in environment ``variable``; without it a skip that says ``how`` to get a
    broker, or, under ``QSIM_REQUIRE_BROKER=1`` (CI), a failure."""
    url = os.environ.get(variable)
    if url:
        return url
    if os.environ.get("QSIM_REQUIRE_BROKER") == "1":
        pytest.fail(f"QSIM_REQUIRE_BROKER=1 but {variable} is unset")
    pytest.skip(how)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests against a real broker (``tests/test_live*.py``) are marked ``live``: ``make test``
    runs them on their own after the rest, which runs on every core, so their wall-clock
    timing does not share the machine with other tests."""
    for item in items:
        if item.path.name.startswith("test_live"):
            item.add_marker(pytest.mark.live)


def scenario_from(text: str, base_dir: Path | str = ".") -> Scenario:
    """A validated scenario from inline YAML (dedented), reported as ``inline.yaml``."""
    return parse_scenario(load_yaml("inline.yaml", textwrap.dedent(text)), base_dir)


def run_model(text: str, tmp_path: Path, trace: str = "0") -> Model:
    """Build and run the model of an inline scenario; ``trace`` (publish times separated by
    spaces) becomes ``trace.csv`` beside it. The model is returned for inspection."""
    (tmp_path / "trace.csv").write_text(trace.replace(" ", "\n"), encoding="utf-8")
    model = Model(scenario_from(text, tmp_path), 0)
    model.run()
    return model


def run_once(text: str, replication: int = 0) -> RunResult:
    """Simulate one replication of an inline scenario."""
    return simulate(scenario_from(text), replication)


def counts(result: RunResult, queue: str) -> dict[str, Any]:
    """The counters of ``queue`` in one replication's raw results."""
    return next(q.counts for q in result.queues if q.name == queue)


@pytest.fixture
def write_file(tmp_path: Path) -> Any:
    """Write a file under a temporary folder and return its path."""

    def write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


@contextlib.contextmanager
def wall_time_limit(seconds: float, raising: type[Exception] = TimeoutError) -> Iterator[None]:
    """Raise ``raising`` in the main thread if the body runs longer than ``seconds``.

    The garbage collector is paused meanwhile: an exception raised by the timer while a gc
    callback runs (hypothesis installs one) would be swallowed, and the hang go unnoticed."""

    def expire(_signum: int, _frame: object) -> None:
        raise raising(f"still running after {seconds} s of wall time")

    collecting = gc.isenabled()
    gc.disable()
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if collecting:
            gc.enable()


@pytest.fixture(autouse=True)
def _piped_output_width(monkeypatch: pytest.MonkeyPatch) -> None:
    """Output is piped as a user's script pipes it: pytest-xdist's workers set ``COLUMNS=80``,
    which qsim honours for piped output (``COLUMNS=100 qsim run ... > out.txt``); tests that
    want a width set it themselves."""
    monkeypatch.delenv("COLUMNS", raising=False)
