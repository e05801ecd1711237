"""The terminal report of a capacity study, built from its JSON form alone: the answer first
(what today's load needs, what the highest load needs, how far today's count holds), then the
table per load level (laid out to fit the terminal), then how to read it."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from qsim.report.console import stdout_console
from qsim.report.figures import (
    INTERVAL_NOTE,
    duration_text,
    duration_unit,
    format_duration,
    load_text,
    number_text,
    percent_text,
)
from qsim.report.layout import fitted, prose

__all__ = ["answer_lines", "render_capacity"]

VERDICTS = {True: "yes", False: "no", None: "undecided"}
SAMPLING = "sampling: nothing the model leaves out differs; noise or the conservative rule"


def _replicas(level: dict[str, Any]) -> str:
    if level["unreachable"]:
        return "unreachable"
    if level.get("needs_more_partitions"):
        return "more partitions"
    if level["replicas"] is None and level.get("tried_partitions"):
        return f"none on up to {max(map(int, level['tried_partitions']))} partitions"
    if level["replicas"] is None:
        return "none found"
    below = [n for n in level["undecided"] if n < level["replicas"]]
    return (
        f"{level['replicas']} ({', '.join(map(str, below))}?)" if below else str(level["replicas"])
    )


def _flag(level: dict[str, Any]) -> str:
    """The keys of the reasons theory and simulation may differ (``prefetch, ttl``)."""
    reasons = level["disagreement"] or []
    return ", ".join(reason.split(":")[0] for reason in reasons)


def _money(level: dict[str, Any]) -> str:
    return number_text(level["cost_per_day"], level["cost_per_day_ci95"])


def _count(value: Any) -> str:
    return "-" if value is None else str(value)


def _partition_cells(result: dict[str, Any], level: dict[str, Any]) -> list[str]:
    """The partition columns of a kafka study: the level's partitions (and theory's, when the
    search varies them)."""
    if result.get("today_partitions") is None:
        return []
    partitions = level["partitions"]
    below = [
        p for p, met in level.get("tried_partitions", {}).items()
        if met is None and partitions is not None and int(p) < partitions
    ]  # fmt: skip
    cell = f"{partitions} ({', '.join(below)}?)" if below else _count(partitions)
    return [cell, _count(level["analytic_partitions"])] if _varies(result) else [cell]


def _varies(result: dict[str, Any]) -> bool:
    return result.get("vary") == "partitions"


def _table(result: dict[str, Any]) -> Table:
    what = "partitions and replicas" if _varies(result) else "replicas"
    table = Table(title=f"{result['pool']}: {what} that meet {', '.join(result['slos'])}")
    kafka = result.get("today_partitions") is not None
    currency = result.get("currency")
    cost = [f"{currency}/day"] if currency else []
    headers = [
        "load", *(["partitions"] if kafka else []),
        *(["theory partitions"] if _varies(result) else []),
        "replicas", "theory", "p99 latency", "theory p99", "utilization", *cost, "met",
        "differ because",
    ]  # fmt: skip
    for header in headers:
        table.add_column(header, justify="left" if header == "differ because" else "right")
    unit = duration_unit(
        level[key] for level in result["levels"]
        for key in ("latency_p99_s", "analytic_latency_p99_s")
    )  # fmt: skip
    for level in result["levels"]:
        money = [_money(level)] if currency else []
        table.add_row(
            load_text(level["load"]),
            *_partition_cells(result, level),
            _replicas(level),
            _count(level["analytic_replicas"]),
            duration_text(level["latency_p99_s"], level["latency_p99_ci95"], unit),
            duration_text(level["analytic_latency_p99_s"], unit=unit),
            percent_text(level["utilization"], level["utilization_ci95"]),
            *money,
            VERDICTS[level["met"]],
            _flag(level),
        )
    return table


def _kafka_lines(result: dict[str, Any]) -> list[str]:
    """What a kafka study must say: the replica cap, and the levels that need partitions."""
    partitions = result.get("today_partitions")
    if partitions is None:
        return []
    if _varies(result):
        lines = [
            "Kafka: at most one consumer of a group reads a partition, so replicas beyond the "
            "partitions sit idle: each partition count P was run with P replicas, the smallest "
            "P meeting every SLO kept, then the fewest replicas on it (never more than P). "
            f"Today: {partitions} partitions."
        ]
    else:
        lines = [
            "Kafka: at most one consumer of a group reads a partition, so replicas beyond the "
            f"topic's {partitions} partitions would sit idle: the search stops at {partitions} "
            "replicas."
        ]
    lines += [
        f"At {load_text(level['load'])}: {partitions} replicas, one per partition, miss the "
        "SLOs; more would sit idle. More partitions are needed: qsim capacity --vary partitions."
        for level in result["levels"]
        if level.get("needs_more_partitions")
    ]
    return lines


def _headroom(result: dict[str, Any]) -> str:
    count = result["today_replicas"]
    today = f"{count} replica" if count == 1 else f"{count} replicas"
    if result.get("today_partitions") is not None:
        today += f" on {result['today_partitions']} partitions"
    sustained, fails = result["headroom"], result["headroom_fails_at"]
    if sustained is None and fails is None:
        text = "Headroom: none; no replica count meets the SLOs."
    elif sustained is None:
        text = f"Headroom: {today} miss the SLOs even at {load_text(fails)} load."
    elif fails is None:
        text = f"Headroom: {today} meet the SLOs up to at least {load_text(sustained)} load."
    else:
        text = (
            f"Headroom: {today} meet the SLOs up to {load_text(sustained)} today's load "
            f"(not at {load_text(fails)})."
        )
    if result["analytic_headroom"] is not None:
        text += f" Theory: {load_text(result['analytic_headroom'])}."
    return text


def _footer(result: dict[str, Any]) -> list[str]:
    lines = [_headroom(result), *_kafka_lines(result)]
    unreachable = {reason for level in result["levels"] for reason in level["unreachable"]}
    lines += [f"Unreachable at any replica count: {reason}." for reason in sorted(unreachable)]
    analytic = result["analytic"]
    if analytic is None:
        lines.append("Theory: no estimate (the queue is fed through exchanges or pipelines).")
    else:
        lines.append(
            f"Theory: {analytic['method']} on {analytic['arrival_rate_per_s']:g}/s at 1x "
            f"(arrival cv^2 {analytic['arrival_cv2']:.3g}), service mean "
            f"{format_duration(analytic['service_mean_s'])}, cv {analytic['service_cv']:.3g}"
            + (
                ", split evenly over the partitions: the busiest consumer's as one queue "
                "(M/G/1 per partition with one consumer each)."
                if analytic.get("partitions") is not None else "."
            )
        )  # fmt: skip
        if any(level["disagreement"] for level in result["levels"]):
            lines += [f"  {note}" for note in analytic["theory_misses"]] or [f"  {SAMPLING}"]
        if analytic["slos_not_assessed"]:
            lines.append(f"Theory has no figure for: {', '.join(analytic['slos_not_assessed'])}.")
    if result.get("currency"):
        lines.append(
            f"{result['currency']}/day: the whole scenario's cost per day at the count shown "
            "(every pool and queue priced), at the measured window's rate."
        )
    lines.append(
        f"{'replicas, partitions' if _varies(result) else 'replicas'}: the smallest count "
        "found meeting every SLO; N (M?): count M stayed undecided and may also suffice. A "
        "count qualifies when the conservative end of each SLO figure's 95% interval meets "
        f"it. {INTERVAL_NOTE}"
    )
    return lines


def _needs(result: dict[str, Any], level: dict[str, Any]) -> str:
    """What one level needs, in words: ``12 replicas`` (theory's count beside it)."""
    what = _replicas(level)
    if level["unreachable"]:
        return "no replica count can meet them"
    if level.get("needs_more_partitions"):
        return "more partitions than today's (qsim capacity --vary partitions)"
    if level["replicas"] is None:
        return f"no count found ({what})"
    if what.split(" ")[0].isdigit():
        what = f"{what} replica{'s' if level['replicas'] != 1 else ''}"
        if _varies(result) and level.get("partitions") is not None:
            what += f" on {level['partitions']} partitions"
    analytic = level["analytic_replicas"]
    return what + ("" if analytic is None else f" (theory: {analytic})")


def answer_lines(result: dict[str, Any]) -> list[str]:
    """The answer, before any table: what today's load (1x) needs, what the highest load
    needs, and the load today's count holds up to."""
    levels = {level["load"]: level for level in result["levels"]}
    shown = [load for load in (1.0, max(levels)) if load in levels]
    needs = [f"at {load_text(load)} load, {_needs(result, levels[load])}"
             for load in dict.fromkeys(shown)]  # fmt: skip
    slos = " and ".join(result["slos"])
    head = f"Capacity of {result['pool']} to meet {slos}: {'; '.join(needs)}."
    return [head, _headroom(result)]


def render_capacity(result: dict[str, Any], console: Console | None = None) -> None:
    """Print the answer, then the capacity table (simulated and analytic replicas side by side,
    laid out to fit the terminal), then how to read it."""
    console = console or stdout_console()
    for line in answer_lines(result):
        for piece in prose(console, line):
            console.print(piece)
    for part in fitted(console, _table(result)):
        console.print(part)
    *notes, legend = _footer(result)[1:]  # the headroom line leads the answer
    for line in notes:
        for piece in prose(console, line):
            console.print(piece)
    console.print(legend, highlight=False, markup=False)
