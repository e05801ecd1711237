"""Comparing strategies: a scenario's ``variants:`` (see :mod:`qsim.scenario.variants`) or
whole files, run side by side.

Every variant runs with the same seed: replication ``r`` of each draws from the same named
random streams, and each message entering a queue carries its own draw for its service time
(common random numbers), so differences come from the strategy, not from noise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from qsim.errors import QsimError
from qsim.precision import Precision
from qsim.progress import replication_progress
from qsim.runner import run_scenario, worker_pool
from qsim.scenario import Scenario, load_scenario
from qsim.scenario.variants import Variant, apply_override, load_variants

__all__ = ["Variant", "apply_override", "compare", "load_files", "load_variants"]


def load_files(paths: Sequence[str | Path]) -> list[Variant]:
    """Whole files as variants, each named by its file stem (``variants:`` sections ignored)."""
    variants = [Variant(Path(p).stem, load_scenario(p)) for p in paths]
    names = [v.name for v in variants]
    clash = next((n for n in names if names.count(n) > 1), None)
    if clash is not None:
        raise QsimError(f"two files are named {clash!r}; give files different names to compare")
    return variants


def _one_currency(variants: Sequence[Variant]) -> None:
    """Costs are compared in one currency: variants that price in several are refused."""
    currencies = {
        v.name: v.scenario.prices.currency for v in variants if v.scenario.prices is not None
    }
    if len(set(currencies.values())) > 1:
        listed = ", ".join(f"{name} in {code}" for name, code in currencies.items())
        raise QsimError(f"variants price in different currencies ({listed}): use one to compare")


def compare(
    variants: Sequence[Variant],
    adjust: Callable[[Scenario], Scenario] = lambda s: s,
    *,
    workers: int = 1,
    precision: Precision | None = None,
    show_progress: bool = False,
) -> dict[str, Any]:
    """Run each variant (after ``adjust``, e.g. command-line overrides) and return
    ``{"variants": {name: run summary}}``. With ``precision`` each variant runs until its own
    headline figures are that precise (replication ``r`` still shares its random streams with
    replication ``r`` of every other variant). ``show_progress``: one bar on stderr over the
    replications of every variant, labelled with the variant running (its time left from the
    pace so far; no total under ``precision``, which decides when each variant stops)."""
    _one_currency(variants)
    scenarios = {variant.name: adjust(variant.scenario) for variant in variants}
    total = None if precision else sum(s.replications for s in scenarios.values())
    summaries: dict[str, Any] = {}
    with replication_progress(total, show_progress) as bar, worker_pool(workers) as pool:
        for name, scenario in scenarios.items():  # one pool of workers serves every variant
            if bar is not None:
                bar.describe(name)
            summaries[name] = run_scenario(
                scenario, bar, workers=workers, precision=precision, pool=pool
            )
    return {"variants": summaries}
