"""Golden runs: each shipped scenario, shortened, gives exactly the figures stored in tests/golden.

Optimisations must keep results identical for a given seed; this is where that shows. Each
scenario runs 2 replications of its warm-up plus a third of its measured time (food-delivery
reaches the lunch rush), and every queue's counters (those its type has) and its latency and
wait (mean, p50, p99) must equal the stored values after a JSON round trip: counts exactly,
times to 12 significant digits. (numpy picks its summation kernels by CPU -- AVX2 or AVX-512 --
so a mean can differ in its last bit between two machines running the same events; one message
more or less moves a mean by far more than 1e-12 of it.)

Regenerate with ``QSIM_UPDATE_GOLDEN=1 pytest tests/test_golden.py`` -- but only when a change
is *meant* to alter results (a fixed bug, a new rule of the broker), and say so in the commit.
A failure after a change that should have kept results is the bug this test exists to catch.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import pytest
from conftest import SCENARIOS

from qsim.runner import run_scenario
from qsim.scenario import Scenario, load_scenario, with_overrides

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("QSIM_UPDATE_GOLDEN") == "1"
REPLICATIONS = 2
FRACTION = 1 / 3  # of the measured time (after the warm-up) that the golden run simulates
COUNTERS = (
    "published", "delivered", "redelivered", "acked", "rejected", "dropped",
    "expired", "nacked", "over_limit", "dead_lettered",
)  # fmt: skip
FIGURES = ("latency_s", "wait_s")
STATISTICS = ("mean", "p50", "p99")


def shortened(path: Path) -> Scenario:
    """The shipped scenario: 2 replications of its warm-up plus a third of the rest."""
    scenario = load_scenario(path)
    measured = (scenario.duration - scenario.warmup) * FRACTION
    return with_overrides(scenario, duration=scenario.warmup + measured, replications=REPLICATIONS)


def golden_figures(summary: dict[str, Any]) -> dict[str, Any]:
    """Per queue: the counters, and mean, p50 and p99 of latency and wait, JSON round-tripped."""
    queues = {
        name: {
            **{key: figures[key] for key in COUNTERS if key in figures},  # a topic has fewer
            **{f: {s: figures[f][s] for s in STATISTICS} for f in FIGURES},
        }
        for name, figures in summary["queues"].items()
    }
    return json.loads(json.dumps(queues))


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_scenario_gives_its_golden_figures(path):
    """Same seed, same figures, to the last bit."""
    fresh = golden_figures(run_scenario(shortened(path)))
    stored = GOLDEN / f"{path.stem}.json"
    if UPDATE:
        stored.write_text(json.dumps(fresh, indent=2) + "\n", encoding="utf-8")
    if not stored.exists():
        pytest.fail(f"no golden figures for {path.name}: a new scenario? see this module's doc")
    assert same(json.loads(stored.read_text(encoding="utf-8")), fresh)


def same(stored: Any, fresh: Any) -> bool:
    """Equal structure and counts, floats equal to a relative 1e-12 (see this module's doc)."""
    if isinstance(stored, dict) and isinstance(fresh, dict):
        return stored.keys() == fresh.keys() and all(same(stored[k], fresh[k]) for k in stored)
    if isinstance(stored, float) or isinstance(fresh, float):
        return (
            isinstance(stored, int | float)
            and isinstance(fresh, int | float)
            and (math.isclose(stored, fresh, rel_tol=1e-12, abs_tol=0.0))
        )
    return bool(stored == fresh)


def test_golden_comparison_forgives_the_last_bit_and_nothing_more():
    """Kernel rounding passes; one message's worth of difference, or a changed count, fails."""
    assert same({"q": {"mean": 1.851060484215454}}, {"q": {"mean": 1.851060484215452}})
    assert not same({"q": {"mean": 1.851060484215454}}, {"q": {"mean": 1.8511}})
    assert not same({"q": {"acked": 10}}, {"q": {"acked": 11}})
    assert not same({"q": {"acked": 10}}, {"q": {"acked": 10, "rejected": 0}})
