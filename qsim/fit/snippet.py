"""Writing fitted figures in scenario syntax: durations with units, rates, flow-style YAML."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

__all__ = ["flow_mapping", "scenario_duration", "scenario_number"]

SIGNIFICANT = 4
"""Significant digits of fitted figures: finer than any fit's standard error."""

_DURATION_UNITS = ((1e-3, 1e-6, "us"), (1.0, 1e-3, "ms"), (float("inf"), 1.0, "s"))


def scenario_number(value: float) -> float:
    """``value`` to :data:`SIGNIFICANT` significant digits (``0.70710678`` -> ``0.7071``)."""
    return float(f"{value:.{SIGNIFICANT}g}")


def scenario_duration(seconds: float) -> str:
    """A duration the scenario loader parses: ``0.2013`` -> ``201.3ms``, ``3.5`` -> ``3.5s``."""
    scale, unit = next((scale, unit) for below, scale, unit in _DURATION_UNITS if seconds < below)
    return f"{seconds / scale:.{SIGNIFICANT}g}{unit}"


def flow_mapping(mapping: Mapping[str, object]) -> str:
    """``{dist: gamma, mean: 201.3ms, cv: 0.7}``: one line of YAML (plain scalars, lists and
    mappings of them)."""
    return "{" + ", ".join(f"{key}: {_scalar(value)}" for key, value in mapping.items()) + "}"


def _scalar(value: object) -> str:
    if isinstance(value, Mapping):
        return flow_mapping(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_scalar(item) for item in value) + "]"
    text = str(value)
    return text if re.fullmatch(r"[\w.+/-]+", text) else json.dumps(text)
