"""The answer a report opens with: one verdict per objective, by how much, with its interval.

For a run, each SLO verdict of :func:`qsim.report.review.slo_verdicts` with its margin: the
latency objective's attainment against the percentile it must reach (in percentage points), the
backlog objective's peak against its level. For a capacity plan, what today's load needs, what
the highest load needs and how far today's count holds. For a comparison, the cheapest variant
that meets every objective and how much cheaper it is than the next one that does.
"""

from __future__ import annotations

from typing import Any

from qsim.report.capacity_review import today_replicas
from qsim.report.console import format_duration, format_number
from qsim.report.document import Verdict, Verdicts
from qsim.summary import half_width, lookup

__all__ = ["capacity_verdict", "compare_verdict", "margin_text", "run_verdicts"]

Summary = dict[str, Any]


def margin_text(verdict: dict[str, Any], summary: Summary) -> str:
    """How far the figure is from its target, e.g. ``0.42 points above the 99.00% needed``."""
    slo = summary["resolved_scenario"]["slo"]
    queue = verdict["queue"]
    if verdict["objective"].startswith("backlog"):
        peak = lookup(summary, ("queues", queue, "backlog", "max"))
        if peak is None:
            return ""
        level = slo["backlog"]
        side = "below" if peak <= level else "above"
        return f"peak {peak:,.0f} ready, {abs(peak - level):,.0f} {side} the {level:,} level"
    attained = lookup(summary, ("slo", queue, "attainment"))
    if attained is None:
        return ""
    target = slo["percentile"] / 100
    half = half_width(summary, ("slo", queue, "attainment"))
    gap = (attained - target) * 100
    side = "above" if gap >= 0 else "below"
    interval = f" ± {half * 100:.2f}" if half else ""
    return f"{abs(gap):.2f}{interval} points {side} the {target:.2%} needed"


def run_verdicts(summary: Summary, verdicts: list[dict[str, Any]], why: str) -> Verdicts:
    """One :class:`Verdict` per objective and queue, and ``why`` below them."""
    items = tuple(
        Verdict(
            v["verdict"],
            f"{v['objective']} on {v['queue']}: {v['verdict']}",
            "; ".join(t for t in (v["figure"], margin_text(v, summary)) if t),
        )
        for v in verdicts
    )
    if not items:
        items = (Verdict("info", "No objective to judge: the scenario has no slo: section."),)
    return Verdicts(items, why)


def _load(value: float) -> str:
    return f"{round(value, 2):g}x"


def capacity_verdict(capacity: dict[str, Any], resolved: dict[str, Any]) -> Verdict:
    """``today needs N replicas; M at 2x; today's count holds up to 0.92x``."""
    pool, levels = capacity.get("pool", "the pool"), capacity.get("levels", [])
    count = {lv["load"]: lv.get("replicas") for lv in levels}
    parts = []
    today_level = next((lv for lv in levels if lv["load"] == 1.0), None)
    if today_level is not None:
        undecided = today_level.get("undecided") or []
        maybe = f" ({', '.join(map(str, undecided))} undecided)" if undecided else ""
        parts.append(f"today needs {_replicas(count[1.0])}{maybe}")
    if levels and levels[-1]["load"] != 1.0:
        parts.append(f"{_replicas(levels[-1].get('replicas'))} at {_load(levels[-1]['load'])}")
    today, headroom = today_replicas(capacity, resolved), capacity.get("headroom")
    if headroom is not None and today is not None:
        parts.append(f"today's {today} hold up to {_load(headroom)}")
    state = "info"
    if headroom is not None:
        state = "met" if headroom >= 1 else "missed"
    searched = "; ".join(_slo_at(s) for s in (today_level or {}).get("slos", []))
    detail = (
        f"searched against {', '.join(capacity.get('slos', [])) or 'the scenario slo:'}"
        + (f"; at 1x with that count {searched}" if searched else "")
        + "; the smallest replica count whose 95% interval meets every objective, per load "
        "(every producer's rate multiplied)"
    )
    return Verdict(state, f"{pool}: " + "; ".join(parts), detail)


def _slo_at(slo: dict[str, Any]) -> str:
    """``p99 latency < 2s: 914ms (95% interval 522ms to 1.31s)``."""
    name = str(slo.get("slo", ""))
    fmt = format_duration if "latency" in name or "wait" in name else format_number
    interval = slo.get("ci95")
    if slo.get("value") is None:
        return f"{name}: no data"
    if not interval:
        return f"{name}: {fmt(slo['value'])}"
    return f"{name}: {fmt(slo['value'])} (95% interval {fmt(interval[0])} to {fmt(interval[1])})"


def _replicas(count: Any) -> str:
    if count is None:
        return "an undecided count of replicas"
    return f"{count:g} replica{'s' if count != 1 else ''}"


def compare_verdict(meeting: list[str], costs: dict[str, float], unit: str) -> Verdict:
    """The cheapest variant among ``meeting`` (those meeting every objective), and how much
    cheaper it is than the next cheapest of them; ``costs`` in ``unit``."""
    if not meeting:
        return Verdict("missed", "No variant meets every objective on its whole 95% interval.")
    ranked = sorted(meeting, key=lambda n: costs[n])
    cheapest = ranked[0]
    head = f"The cheapest variant that meets every objective: {cheapest}"
    if len(ranked) == 1:
        return Verdict("met", head, f"the only one that does; {costs[cheapest]:,.4g} {unit}")
    runner = ranked[1]
    saving = (1 - costs[cheapest] / costs[runner]) * 100 if costs[runner] else 0.0
    return Verdict(
        "met",
        f"{head}, {saving:.0f}% below {runner}",
        f"{costs[cheapest]:,.4g} against {costs[runner]:,.4g} {unit}",
    )
