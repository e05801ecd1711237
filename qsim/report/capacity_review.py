"""The capacity part of a review, from a ``qsim capacity --json`` result.

The result's shape: ``{"pool", "slos", "levels": [{"load", "replicas", "analytic_replicas",
"latency_p99_s", "utilization", "met"}], "headroom"}``. A ``replicas`` of None means the search
could not decide. Simulated and analytic counts that differ by more than one replica are
flagged with what queueing theory leaves out that the scenario has.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from qsim.report.document import Block, Image, Paragraph, Section, Table
from qsim.report.figures import format_duration, format_number, load_text

__all__ = ["capacity_section", "capacity_sentences", "disagreements", "today_replicas"]

Capacity = dict[str, Any]
Resolved = dict[str, Any]  # a summary's resolved_scenario
DISAGREE = 1  # replicas: simulated and analytic counts further apart than this are flagged


def _count(value: Any) -> str:
    return "undecided" if value is None else format_number(value)


def _load(value: float) -> str:
    """A load multiplier as people write it (:func:`qsim.report.figures.load_text`)."""
    return load_text(value)


def _pool(resolved: Resolved, name: str) -> dict[str, Any] | None:
    return next((p for p in resolved.get("consumers", []) if p["name"] == name), None)


def today_replicas(capacity: Capacity, resolved: Resolved) -> int | None:
    """The replicas the scenario gives the capacity result's pool today (None if unknown)."""
    pool = _pool(resolved, capacity.get("pool", ""))
    return None if pool is None else int(pool["replicas"])


def disagreements(capacity: Capacity) -> list[float]:
    """Loads where simulated and analytic replica counts differ by more than one."""
    return [
        level["load"]
        for level in capacity.get("levels", [])
        if level.get("replicas") is not None
        and level.get("analytic_replicas") is not None
        and abs(level["replicas"] - level["analytic_replicas"]) > DISAGREE
    ]


def _left_out(resolved: Resolved, pool_name: str) -> list[str]:
    """What this scenario has that the M/M/c and G/G/c formulas leave out."""
    found = []
    pool = _pool(resolved, pool_name) or {}
    if pool and pool.get("prefetch") != 1 and "max_poll_records" not in pool:  # not kafka
        found.append(
            f"prefetch {pool.get('prefetch') or 'unlimited'} (messages wait in one "
            "replica's buffer while others idle)"
        )
    if (pool.get("failures") or {}).get("nack_probability") or pool.get("crash"):
        found.append("failures (nacks, crashes)")
    producers = resolved.get("producers", [])
    if any(p.get("schedule") or p.get("profile") for p in producers):
        found.append("rates that change over the run (theory assumes one steady rate)")
    if any(p.get("mmpp") or p.get("batch") for p in producers):
        found.append("bursts or batches (theory sees their mean rate and variability only)")
    if resolved.get("outages"):
        found.append("broker outages")
    return found


def _kafka_sentence(capacity: Capacity, level: dict[str, Any], pool: str) -> str | None:
    """The sentence of a kafka level that a replica count alone does not say (None for a
    RabbitMQ study, or a level whose replicas say it all)."""
    partitions = capacity.get("today_partitions")
    if partitions is None:
        return None
    load = _load(level["load"])
    if level.get("needs_more_partitions"):
        return (
            f"At {load} load, {pool} cannot meet every SLO on {partitions} partitions: one "
            "replica per partition is not enough and more would sit idle; the topic needs more "
            "partitions (qsim capacity --vary partitions)."
        )
    if capacity.get("vary") == "partitions" and level.get("partitions") is not None:
        analytic = level.get("analytic_partitions")
        extra = f" (queueing theory estimates {analytic})" if analytic is not None else ""
        return (
            f"At {load} load, the topic needs {level['partitions']} partitions{extra} and "
            f"{pool} {_count(level.get('replicas'))} replicas to meet every SLO."
        )
    return None


def capacity_sentences(capacity: Capacity, resolved: Resolved) -> Iterator[str]:
    """Recommendations in plain sentences, every number from the capacity result."""
    pool, levels = capacity.get("pool", "the pool"), capacity.get("levels", [])
    for level in levels:
        if level["load"] in (1, 1.0) or level is levels[-1]:
            kafka = _kafka_sentence(capacity, level, pool)
            if kafka is not None:
                yield kafka
                continue
            analytic = level.get("analytic_replicas")
            extra = (
                f" (queueing theory estimates {_count(analytic)})" if analytic is not None else ""
            )
            yield (
                f"At {_load(level['load'])} load, {pool} needs {_count(level.get('replicas'))} "
                f"replicas to meet every SLO{extra}."
            )
    today, headroom = today_replicas(capacity, resolved), capacity.get("headroom")
    if headroom is not None:
        have = f"today's {today} replicas" if today is not None else "today's replicas"
        if headroom >= 1:
            yield f"With {have}, the SLOs hold up to {_load(headroom)} load."
        else:
            yield (
                f"With {have}, the SLOs do not hold even at today's load; they hold up to "
                f"{_load(headroom)}."
            )
    undecided = [
        _load(lv["load"])
        for lv in levels
        if lv.get("replicas") is None and not lv.get("needs_more_partitions")
        and not lv.get("unreachable")
    ]  # fmt: skip
    if undecided:
        yield (
            f"Undecided at {', '.join(undecided)}: the intervals straddle an SLO; more "
            "replications decide."
        )


def capacity_section(capacity: Capacity, resolved: Resolved, images: set[str]) -> Section:
    """The capacity table, its plot and the analytic cross-check."""
    flagged = set(disagreements(capacity))
    currency = capacity.get("currency")
    rows = tuple(
        (
            _load(lv["load"]),
            _count(lv.get("replicas")),
            _count(lv.get("analytic_replicas")),
            format_duration(lv.get("latency_p99_s")),
            "-" if lv.get("utilization") is None else f"{lv['utilization']:.0%}",
            *([format_number(lv.get("cost_per_day"))] if currency else []),
            {True: "yes", False: "no"}.get(lv.get("met"), "-"),
            "differs" if lv["load"] in flagged else "",
        )
        for lv in capacity.get("levels", [])
    )
    money = [f"{currency} per day"] if currency else []
    header = ("load", "replicas", "analytic", "p99 latency", "utilization", *money, "met", "check")
    slos = "; ".join(str(s) for s in capacity.get("slos", [])) or "-"
    blocks: list[Block] = [
        Paragraph(
            f"Pool {capacity.get('pool')}, objectives: {slos}. For each load (every "
            "producer's rate multiplied), the smallest replica count whose 95% interval "
            "meets every objective, beside the analytic estimate."
        ),
        Table(header, rows),
    ]
    if "capacity" in images:
        blocks.append(
            Image(
                "capacity",
                "Capacity curve",
                "Replicas needed per load multiplier: simulated and analytic; "
                "today's count and the headroom marked.",
            )
        )
    if flagged:
        left_out = _left_out(resolved, capacity.get("pool", ""))
        why = (
            "; what theory leaves out that this scenario has: " + "; ".join(left_out)
            if left_out
            else ""
        )
        blocks.append(
            Paragraph(
                f"Simulation and theory differ by more than {DISAGREE} replica at "
                f"{', '.join(_load(x) for x in sorted(flagged))}{why}. The simulated count is the "
                "one to plan with; the analytic one is a cross-check."
            )
        )
    else:
        blocks.append(
            Paragraph(f"Simulation and theory agree within {DISAGREE} replica at every load.")
        )
    return Section("Capacity", tuple(blocks))
