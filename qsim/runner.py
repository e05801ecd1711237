"""Run every replication of a scenario and summarise (serially; figures kept, records dropped)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from qsim.engine import simulate
from qsim.scenario import Scenario
from qsim.summary import replication_figures, summarize

__all__ = ["run_scenario"]


def run_scenario(
    scenario: Scenario, on_replication: Callable[[int], None] | None = None
) -> dict[str, Any]:
    """Simulate ``scenario.replications`` independent replications and return the summary."""
    figures, series = [], []
    for replication in range(scenario.replications):
        result = simulate(scenario, replication)
        figures.append(replication_figures(result))
        series.append(result.timeseries)
        if on_replication is not None:
            on_replication(replication)
    return summarize(scenario, figures, series)
