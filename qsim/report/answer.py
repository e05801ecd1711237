"""The answer a report opens with: one verdict per objective, by how much, with its interval.

For a run, each SLO verdict of :func:`qsim.report.review.slo_verdicts` with its margin: the
latency objective's attainment against the percentile it must reach (in percentage points), the
backlog objective's peak against its level. For a capacity plan, what today's load needs, what
the highest load needs and how far today's count holds. A comparison's answer is
:func:`qsim.report.compare.recommendation` (:mod:`qsim.report.comparison_review`).
"""

from __future__ import annotations

from typing import Any

from qsim.report.capacity_review import today_replicas
from qsim.report.document import Verdict, Verdicts
from qsim.report.figures import duration_text, load_text, number_text, percent_text
from qsim.summary import half_width, lookup

__all__ = ["capacity_verdict", "margin_text", "run_verdicts"]

Summary = dict[str, Any]


def margin_text(verdict: dict[str, Any], summary: Summary) -> str:
    """How far the figure is from its target, in percentage points with the attainment's
    half-width (``0.50 ± 0.20 points above the 99% needed``; one decimal from one point on), or
    for a backlog the peak against the level."""
    slo = summary["resolved_scenario"]["slo"]
    queue = verdict["queue"]
    if verdict["objective"].startswith("backlog"):
        peak = lookup(summary, ("queues", queue, "backlog", "max"))
        if peak is None:
            return ""
        level = slo["backlog"]
        side = "below" if peak <= level else "above"
        gap = number_text(abs(peak - level))
        return f"peak {number_text(peak)} ready, {gap} {side} the {number_text(level)} level"
    attained = lookup(summary, ("slo", queue, "attainment"))
    if attained is None:
        return ""
    target = slo["percentile"] / 100
    half = half_width(summary, ("slo", queue, "attainment"))
    gap = (attained - target) * 100
    side = "above" if gap >= 0 else "below"
    decimals = 1 if abs(gap) >= 1 and (not half or half * 100 >= 0.1) else 2
    interval = f" ± {half * 100:.{decimals}f}" if half else ""
    needed = percent_text(target)
    return f"{abs(gap):.{decimals}f}{interval} points {side} the {needed} needed"


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
        parts.append(f"{_replicas(levels[-1].get('replicas'))} at {load_text(levels[-1]['load'])}")
    today, headroom = today_replicas(capacity, resolved), capacity.get("headroom")
    if headroom is not None and today is not None:
        parts.append(f"today's {today} hold up to {load_text(headroom)}")
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
    """``p99 latency < 2s: 914 ± 392 ms`` (the figure with its 95% interval, as every report
    writes it: :mod:`qsim.report.figures`)."""
    name = str(slo.get("slo", ""))
    text = duration_text if "latency" in name or "wait" in name else number_text
    if slo.get("value") is None:
        return f"{name}: no data"
    return f"{name}: {text(slo['value'], slo.get('ci95'))}"


def _replicas(count: Any) -> str:
    if count is None:
        return "an undecided count of replicas"
    return f"{count:g} replica{'s' if count != 1 else ''}"
