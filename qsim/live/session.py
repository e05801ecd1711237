"""One live run: pick the scenario's broker (:mod:`qsim.live.backends`), check, measure it live
(declare, play the clients for the scaled duration, clean up), then simulate the same scenario
and set the two side by side.

All figures are in scenario seconds: live wall-clock times are divided by the time scale.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from qsim.errors import QsimError
from qsim.live.agreement import agreement_rows
from qsim.live.backends import backend_for
from qsim.live.rabbitmq import broker_parameters
from qsim.live.settings import LiveSettings
from qsim.runner import run_scenario
from qsim.scenario import Scenario

__all__ = ["LiveSettings", "broker_parameters", "run_live"]


def run_live(scenario: Scenario, settings: LiveSettings) -> dict[str, Any]:
    """Run ``scenario`` live and simulated; both figure sets, the rows comparing them and
    the band. The scenario's ``duration`` (scenario seconds) lasts ``duration * time_scale``
    of wall-clock time live."""
    backend = backend_for(scenario)
    backend.check(scenario)
    if not 0 < settings.time_scale <= 1000:
        raise QsimError(
            f"--time-scale must be above 0 and at most 1000, got {settings.time_scale:g}"
        )
    started = time.time()
    measured = backend.measure(scenario, settings)
    wall = time.time() - started
    simulated = run_scenario(scenario, workers=min(settings.workers, scenario.replications))
    rows = agreement_rows(simulated, measured.figures, settings.band)
    return {
        "scenario": scenario.name,
        "broker": backend.name,
        "time_scale": settings.time_scale,
        "duration_s": scenario.duration,
        "warmup_s": scenario.warmup,
        "wall_s": wall,
        "prefix": measured.prefix,
        "band": {**asdict(settings.band), "description": settings.band.describe()},
        "comparison": [row.to_json() for row in rows],
        "outside_band": sum(not row.agrees for row in rows),
        "simulated": simulated,
        "live": measured.figures,
    }
