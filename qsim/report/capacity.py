"""The terminal table of a capacity study, built from its JSON form alone."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from qsim.report.console import format_duration, format_number, stdout_console

__all__ = ["render_capacity"]

VERDICTS = {True: "yes", False: "no", None: "undecided"}
SAMPLING = "sampling: nothing the model leaves out differs; noise or the conservative rule"


def _half(interval: Any) -> float | None:
    return (interval[1] - interval[0]) / 2 if isinstance(interval, list) else None


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
    return format_number(level["cost_per_day"], _half(level["cost_per_day_ci95"]))


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
    for level in result["levels"]:
        money = [_money(level)] if currency else []
        table.add_row(
            f"{level['load']:g}x",
            *_partition_cells(result, level),
            _replicas(level),
            _count(level["analytic_replicas"]),
            format_duration(level["latency_p99_s"], _half(level["latency_p99_ci95"])),
            format_duration(level["analytic_latency_p99_s"]),
            format_number(level["utilization"], _half(level["utilization_ci95"])),
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
        f"At {level['load']:g}x: {partitions} replicas, one per partition, miss the SLOs; more "
        "would sit idle. More partitions are needed: qsim capacity --vary partitions."
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
        text = f"Headroom: {today} miss the SLOs even at {fails:.3g}x load."
    elif fails is None:
        text = f"Headroom: {today} meet the SLOs up to at least {sustained:.3g}x load."
    else:
        text = (
            f"Headroom: {today} meet the SLOs up to {sustained:.3g}x today's load "
            f"(not at {fails:.3g}x)."
        )
    if result["analytic_headroom"] is not None:
        text += f" Theory: {result['analytic_headroom']:.3g}x."
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
        "it; ± is the interval's half-width."
    )
    return lines


def render_capacity(result: dict[str, Any], console: Console | None = None) -> None:
    """Print the capacity table: simulated and analytic replicas side by side."""
    console = console or stdout_console()
    console.print(_table(result))
    for line in _footer(result):
        console.print(line, highlight=False)
