"""The terminal summary of a run: readable tables built from the JSON summary alone."""

from __future__ import annotations

import os
import sys
from typing import Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from qsim.report.figures import (
    INTERVAL_NOTE,
    duration_text,
    duration_unit,
    format_duration,
    format_number,
    format_span,
    number_text,
    percent_text,
)
from qsim.report.layout import fitted
from qsim.summary import lookup

__all__ = [
    "format_duration",
    "format_number",
    "format_span",
    "precision_line",
    "render_summary",
    "warmup_line",
]


class _Cells:
    """Formats figures of one queue, producer or pool, with the interval's half-width if any."""

    def __init__(self, figures: dict[str, Any], intervals: dict[str, Any] | None) -> None:
        self.figures = figures
        self.intervals = intervals or {}

    def _interval(self, *path: str) -> list[float] | None:
        node = lookup(self.intervals, path)
        return node if isinstance(node, list) else None

    def get(self, *path: str) -> Any:
        node: Any = self.figures
        for key in path:
            node = node[key]
        return node

    def duration(self, *path: str, unit: str | None = None) -> str:
        return duration_text(self.get(*path), self._interval(*path), unit)

    def number(self, *path: str) -> str:
        return number_text(self.get(*path), self._interval(*path))

    def percent(self, *path: str) -> str:
        return percent_text(self.get(*path), self._interval(*path))


OUTCOMES = ("rejected", "dropped", "expired", "nacked", "over_limit", "lost_in_outage",
            "dead_lettered", "redelivered")  # fmt: skip
PRODUCER_OUTCOMES = ("unroutable", "publish_failed", "buffered", "in_flight")
LATENCY_KEYS = ("mean", "p50", "p90", "p95", "p99", "p999", "max")


def _queue_table(summary: dict[str, Any]) -> Table:
    table = Table(title="Queues", title_justify="left", show_edge=False)
    columns = ("queue", "published", "acked", "throughput/s", "backlog mean", "backlog max",
               "ready at end", "unacked at end")  # fmt: skip
    for column in columns:
        table.add_column(column, justify="left" if column == "queue" else "right")
    for name, figures in summary["queues"].items():
        cells = _Cells(figures, summary["ci95"]["queues"][name])
        table.add_row(
            name, cells.number("published"), cells.number("acked"),
            cells.number("throughput_per_s"), cells.number("backlog", "mean"),
            cells.number("backlog", "max"), cells.number("ready_final"),
            cells.number("unacked_final"),
        )  # fmt: skip
    return table


def _sparse_table(
    summary: dict[str, Any], section: str, label: str, keys: tuple[str, ...], title: str
) -> Table | None:
    """A table of ``keys`` for each entry of ``section``, with only the columns where some entry
    has a non-zero figure; None when all are zero."""
    entries = summary[section]
    shown = [key for key in keys if any(figures.get(key) for figures in entries.values())]
    if not shown:
        return None
    table = Table(title=title, title_justify="left", show_edge=False)
    table.add_column(label)
    for key in shown:
        table.add_column(key, justify="right")
    for name, figures in entries.items():
        cells = _Cells(figures, summary["ci95"][section][name])
        table.add_row(name, *(cells.number(key) if key in figures else "-" for key in shown))
    return table


STREAM_COLUMNS = (("published", "published"), ("retained", "retained"), ("removed", "removed"),
                  ("segments", "segments"), ("retained_bytes", "retained bytes"))  # fmt: skip
READER_COLUMNS = (
    ("delivered",), ("redelivered",), ("acked",), ("failed",), ("interrupted",),
    ("lost_to_retention",), ("lag", "mean"), ("lag", "max"), ("lag", "final"),
)  # fmt: skip


def _stream_tables(summary: dict[str, Any]) -> list[Table]:
    """Streams' logs, and what each pool reading one did (none when no queue is a stream)."""
    streams = [q["name"] for q in summary["resolved_scenario"]["queues"] if q["type"] == "stream"]
    if not streams:
        return []
    logs = Table(title="Streams (retained + removed = published)", title_justify="left",
                 show_edge=False)  # fmt: skip
    logs.add_column("stream")
    for _, heading in STREAM_COLUMNS:
        logs.add_column(heading, justify="right")
    for name in streams:
        cells = _Cells(summary["queues"][name], summary["ci95"]["queues"][name])
        logs.add_row(name, *(cells.number(key) for key, _ in STREAM_COLUMNS))
    readers = Table(title="Stream readers (each replica reads every message; lag in records)",
                    title_justify="left", show_edge=False)  # fmt: skip
    readers.add_column("pool")
    readers.add_column("stream")
    for path in READER_COLUMNS:
        readers.add_column(" ".join(path).replace("_", " ").replace("final", "at end"),
                           justify="right")  # fmt: skip
    pools = {p["name"]: p["queue"] for p in summary["resolved_scenario"]["consumers"]}
    for name, figures in summary["consumers"].items():
        if "stream" in figures:
            cells = _Cells(figures, summary["ci95"]["consumers"][name])
            numbers = (cells.number("stream", *path) for path in READER_COLUMNS)
            readers.add_row(name, pools[name], *numbers)
    return [logs, readers]


TOPIC_COLUMNS = (
    ("produced",), ("consumed",), ("committed",), ("duplicates",), ("lost_to_retention",),
    ("lag", "mean"), ("lag", "max"), ("lag", "final"), ("lag_s", "mean"), ("lag_s", "max"),
    ("skew",),
)  # fmt: skip
GROUP_COLUMNS = (
    ("rebalances",), ("idle_consumers", "mean"), ("paused_partition_seconds",), ("kicked",),
    ("retries",), ("dead_lettered",), ("skipped",), ("interrupted",),
)  # fmt: skip


def _heading(path: tuple[str, ...]) -> str:
    return " ".join(path).replace("_", " ").replace("final", "at end")


def _kafka_tables(summary: dict[str, Any]) -> list[Table]:
    """Kafka topics, their partitions, and each consumer group (none without a kafka topic)."""
    topics = [name for name, figures in summary["queues"].items() if "kafka" in figures]
    if not topics:
        return []
    title = ("Kafka topics (lag: records behind the committed offsets; lag s: age of the oldest "
             "uncommitted record)")  # fmt: skip
    table = Table(title=title, title_justify="left", show_edge=False)
    table.add_column("topic")
    for path in TOPIC_COLUMNS:
        table.add_column(_heading(path), justify="right")
    tables = [table]
    for name in topics:
        cells = _Cells(summary["queues"][name], summary["ci95"]["queues"][name])
        table.add_row(name, *(cells.number("kafka", *path) for path in TOPIC_COLUMNS))
        partitions = Table(title=f"Partitions of {name}", title_justify="left", show_edge=False)
        partitions.add_column("partition")
        for path in TOPIC_COLUMNS[:-1]:
            partitions.add_column(_heading(path), justify="right")
        intervals = summary["ci95"]["queues"][name]["kafka"]["partitions"]
        for i, figures in enumerate(summary["queues"][name]["kafka"]["partitions"]):
            cells = _Cells(figures, intervals[i])
            partitions.add_row(str(i), *(cells.number(*path) for path in TOPIC_COLUMNS[:-1]))
        tables.append(partitions)
    title = "Consumer groups (paused: partition-seconds with no live member fetching)"
    groups = Table(title=title, title_justify="left", show_edge=False)
    groups.add_column("pool")
    groups.add_column("topic")
    for path in GROUP_COLUMNS:
        groups.add_column(_heading(path), justify="right")
    pools = {p["name"]: p["queue"] for p in summary["resolved_scenario"]["consumers"]}
    for name, figures in summary["consumers"].items():
        if "group" in figures:
            cells = _Cells(figures, summary["ci95"]["consumers"][name])
            groups.add_row(name, pools[name], *(cells.number("group", *p) for p in GROUP_COLUMNS))
    tables.append(groups)
    return tables


LEASE_COLUMNS = (
    ("received",), ("deleted",), ("duplicates",), ("lease_expiries",), ("empty_receives",),
    ("dead_lettered",), ("exhausted",), ("expired",), ("in_flight", "mean"),
    ("oldest_age_s", "max"),
)  # fmt: skip


def _lease_tables(summary: dict[str, Any]) -> list[Table]:
    """Lease queues (SQS, Pub/Sub, Service Bus, JetStream): receives, leases and ends."""
    queues = [name for name, figures in summary["queues"].items() if "lease" in figures]
    if not queues:
        return []
    title = ("Lease queues (duplicates: receives after a message's first; exhausted: past "
             "max_receives with no dead_letter)")  # fmt: skip
    table = Table(title=title, title_justify="left", show_edge=False)
    table.add_column("queue")
    for path in LEASE_COLUMNS:
        table.add_column(_heading(path).replace(" s ", " ").replace("_s", ""), justify="right")
    for name in queues:
        cells = _Cells(summary["queues"][name], summary["ci95"]["queues"][name])
        table.add_row(name, *(_lease_cell(cells, path) for path in LEASE_COLUMNS))
    return [table]


def _lease_cell(cells: _Cells, path: tuple[str, ...]) -> str:
    """A lease queue's figure: ages as durations, the rest as numbers."""
    if path[0] == "oldest_age_s":
        return cells.duration("lease", *path)
    return cells.number("lease", *path)


def _latency_rows(summary: dict[str, Any]) -> list[tuple[str, str, list[str]]]:
    """Queues, then the producers that share a queue (a sole producer repeats its queue)."""
    targets = [p["to"] for p in summary["resolved_scenario"]["producers"]]
    shared = [p["name"] for p in summary["resolved_scenario"]["producers"]
              if targets.count(p["to"]) > 1]  # fmt: skip
    return [("queues", "queue", list(summary["queues"])), ("producers", "producer", shared)]


def _latency_table(summary: dict[str, Any]) -> Table:
    table = Table(title="Latency (publish -> ack) and wait (publish -> processing starts)",
                  title_justify="left", show_edge=False)  # fmt: skip
    table.add_column("queue / producer")
    table.add_column("figure")
    for key in LATENCY_KEYS:
        table.add_column("p99.9" if key == "p999" else key, justify="right")
    for section, label, names in _latency_rows(summary):
        for name in names:
            figures = summary[section][name]
            cells = _Cells(figures, summary["ci95"][section][name])
            if figures["latency_s"]["mean"] is None:
                continue  # nothing completed there
            for figure in ("latency_s", "wait_s"):
                unit = duration_unit(figures[figure][key] for key in LATENCY_KEYS)
                table.add_row(
                    f"{label} {name}" if figure == "latency_s" else "",
                    figure.removesuffix("_s"),
                    *(cells.duration(figure, key, unit=unit) for key in LATENCY_KEYS),
                )
    return table


def _has_flows(summary: dict[str, Any]) -> bool:
    """Whether flows differ from single messages: exchanges copy them, or pools publish onward."""
    resolved = summary["resolved_scenario"]
    return bool(resolved["exchanges"]) or any(p["publish"] for p in resolved["consumers"])


def _flow_table(summary: dict[str, Any]) -> Table:
    table = Table(title="Flows end to end (first publish -> last ack of every branch)",
                  title_justify="left", show_edge=False)  # fmt: skip
    for column in ("producer", "started", "completed", "failed", "open"):
        table.add_column(column, justify="left" if column == "producer" else "right")
    keys = ("mean", "p50", "p95", "p99", "max")
    for key in keys:
        table.add_column(key, justify="right")
    for name, figures in summary["flows"].items():
        cells = _Cells(figures, summary["ci95"]["flows"][name])
        counts = (cells.number(key) for key in ("started", "completed", "failed", "open"))
        unit = duration_unit(figures["latency_s"][key] for key in keys)  # one unit per flow
        latency = (cells.duration("latency_s", key, unit=unit) for key in keys)
        table.add_row(name, *counts, *latency)
    return table


def _consumer_table(summary: dict[str, Any]) -> Table:
    pools = summary["consumers"].values()
    scaled = any(f["scale_ups"] or f["scale_downs"] for f in pools)
    optional = [key for key in ("crashes", "channel_closures", "consumer_timeouts", "lost_in_crash")
                if any(f[key] for f in pools)]  # fmt: skip
    if scaled:
        optional = ["replicas_max", "scale_ups", "scale_downs", *optional]
    table = Table(title="Consumer pools", title_justify="left", show_edge=False)
    label = "replicas (mean)" if scaled else "replicas"
    for column in ("pool", label, "utilization", "replica-seconds", *optional):
        table.add_column(column, justify="left" if column == "pool" else "right")
    for name, figures in summary["consumers"].items():
        cells = _Cells(figures, summary["ci95"]["consumers"][name])
        table.add_row(
            name, cells.number("replicas_mean"), cells.percent("utilization"),
            cells.number("replica_seconds"), *(cells.number(key) for key in optional),
        )  # fmt: skip
    return table


def _resource_table(summary: dict[str, Any]) -> Table | None:
    """Each shared resource (``resources:``): its limit, how much of it was used, and the
    jobs' wait for it (``docs/resources.md``)."""
    resources = summary.get("resources")
    if not resources:
        return None
    table = Table(title="Shared resources (wait: job ready -> resource granted)",
                  title_justify="left", show_edge=False)  # fmt: skip
    for column in ("resource", "limit", "utilization", "requests", "waited", "wait mean",
                   "wait p99", "waiting (mean)", "waiting max"):  # fmt: skip
        table.add_column(column, justify="left" if column in ("resource", "limit") else "right")
    for name, figures in resources.items():
        cells = _Cells(figures, summary["ci95"]["resources"][name])
        spec = summary["resolved_scenario"]["resources"][name]
        limit = (
            f"{spec['connections']} connections"
            if figures["kind"] == "connections"
            else f"{spec['rate']:g}/s, burst {spec['burst'] or 1}"
        )
        table.add_row(
            name, limit, cells.percent("utilization"), cells.number("requests"),
            cells.percent("waited_fraction"), cells.duration("wait_s", "mean"),
            cells.duration("wait_s", "p99"), cells.number("queue", "mean"),
            cells.number("queue", "max"),
        )  # fmt: skip
    return table


LAMBDA_COLUMNS = (
    ("invocations", "invocations"),
    ("GB-seconds", "gb_seconds"),
    ("cold starts", "cold_starts"),
    ("timeouts", "timeouts"),
    ("concurrency max", "concurrency_max"),
)


def _lambda_table(summary: dict[str, Any]) -> Table | None:
    """What each AWS Lambda pool is billed for (invocations, GB-seconds) and its cold starts."""
    pools = {n: f["lambda"] for n, f in summary["consumers"].items() if "lambda" in f}
    if not pools:
        return None
    table = Table(title="AWS Lambda (billed)", title_justify="left", show_edge=False)
    table.add_column("pool")
    table.add_column("memory", justify="right")
    for heading, _ in LAMBDA_COLUMNS:
        table.add_column(heading, justify="right")
    for name, figures in pools.items():
        cells = _Cells(figures, summary["ci95"]["consumers"][name]["lambda"])
        memory = f"{figures['memory_mb']:g} MB"
        table.add_row(name, memory, *(cells.number(key) for _, key in LAMBDA_COLUMNS))
    return table


def _slo_table(summary: dict[str, Any]) -> Table | None:
    """One row per queue and objective, each with its own verdict on the 95% interval, and
    under it a row per figure measured (``backlog max`` ... ``2,876 ± 940``): narrow enough
    for 80 columns, so the verdict stays beside its objective."""
    from qsim.report.review import slo_verdicts

    verdicts = slo_verdicts(summary)
    if not verdicts:
        return None
    table = Table(title="SLOs (met: the whole 95% interval meets the objective)",
                  title_justify="left", show_edge=False)  # fmt: skip
    table.add_column("queue")
    table.add_column("objective / measured")
    table.add_column("value", justify="right")
    table.add_column("verdict", justify="right")
    for verdict in verdicts:
        table.add_row(verdict["queue"], verdict["objective"], "", verdict["verdict"])
        for name, value in verdict["measured"]:
            table.add_row("", f"  {name}", value, "")
    return table


ITEMS = {  # a cost item: how its quantity is named, and what its price is per
    "replica_hours": ("replica-hours", "replica-hour"),
    "gb_seconds": ("GB-seconds", "GB-second"),
    "invocations": ("invocations", "million"),
    "requests": ("requests", "million"),
}


def cost_rows(summary: dict[str, Any]) -> list[tuple[str, str, str, str, str, str]]:
    """``(owner, item, quantity, price, amount, per day)`` per billed item, then the total."""
    cost, intervals = summary["cost"], summary["ci95"]["cost"] or {}
    rows = []
    for section, kind in (("pools", "pool"), ("queues", "queue")):
        for name, figures in cost[section].items():
            owner = f"{kind} {name}"
            for item, (label, per) in ITEMS.items():
                if item not in figures:
                    continue
                cells = _Cells(figures[item], lookup(intervals, (section, name, item)))
                price = figures[item]["price"]
                rows.append((
                    owner, label, cells.number("quantity"),
                    "unpriced" if price is None else f"{format_number(price)} per {per}",
                    cells.number("amount"), cells.number("per_day"),
                ))  # fmt: skip
                owner = ""
    total = _Cells(cost, intervals)
    rows.append(("total", "", "", "", total.number("total"), total.number("per_day")))
    return rows


def _cost_table(summary: dict[str, Any]) -> Table | None:
    cost = summary.get("cost")
    if not cost:
        return None
    title = (
        f"Cost ({cost['currency']}): over the measured "
        f"{format_span(cost['window_s'])}, and per day at that rate"
    )
    table = Table(title=title, title_justify="left", show_edge=False)
    for column in ("", "item", "quantity", "price", "amount", "per day"):
        table.add_column(column, justify="left" if column in ("", "item") else "right")
    for row in cost_rows(summary):
        table.add_row(*row)
    return table


def _unpriced_line(summary: dict[str, Any]) -> Text | None:
    unpriced = (summary.get("cost") or {}).get("unpriced")
    if not unpriced:
        return None
    return Text(f"Unpriced (no price given, not in the total): {'; '.join(unpriced)}.")


def _broker_line(summary: dict[str, Any]) -> Text | None:
    broker = summary["broker"]
    if not broker["outages"]:
        return None
    return Text(
        f"Broker: {format_number(broker['outages'])} outage(s), down "
        f"{format_duration(broker['downtime_s'])} of the measured window."
    )


def warmup_line(summary: dict[str, Any]) -> Text | None:
    """How ``warmup: auto`` chose the warm-up, and a warning when the run looks too short."""
    warmup = summary.get("warmup", {})
    if warmup.get("method") != "mser-5":
        return None
    pilot = warmup["pilot_replications"]
    text = Text(
        f"Warm-up: {format_span(summary['warmup_s'])}, detected by MSER-5 on the mean of "
        f"{pilot} replication{'s' if pilot != 1 else ''} from time 0 "
        f"(set by {warmup['decided_by']})."
    )
    if warmup["too_short"]:
        text.append(
            " Warning: no steady state in the first half of the run; the run is too short "
            "(or the system is unstable): lengthen duration.",
            style="bold yellow",
        )
    return text


def _percent(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio:.1%}"


def precision_line(summary: dict[str, Any]) -> Text | None:
    """Whether ``--precision`` was reached, and the figures that missed it."""
    precision = summary.get("precision")
    if precision is None:
        return None
    figures = precision["figures"]
    checked = ", ".join(str(n) for n in precision["checked_at"])
    head = (
        f"Precision: 95% half-widths within {precision['target'] * 100:g}% of "
        f"{len(figures)} headline figures"
    )
    if precision["reached"]:
        return Text(f"{head}: reached after {precision['replications']} replications "
                    f"(checked at {checked}).")  # fmt: skip
    missed = [
        f"{path} ({_percent(f['half_width_ratio'])})"
        for path, f in figures.items()
        if not f["reached"]
    ]
    return Text(
        f"{head}: NOT reached after {precision['replications']} replications (the maximum); "
        f"missed: {', '.join(missed)}.",
        style="bold yellow",
    )


PIPED_WIDTH = 200
"""Columns of a wide table written to a pipe or a file: there is no terminal to fit, and rich's
own default there (80) cuts numbers to "342,22…"."""


def stdout_console(piped_width: int = PIPED_WIDTH) -> Console:
    """A console on stdout: the terminal's own width on a terminal; when the output is piped or
    redirected, ``$COLUMNS`` if set (``COLUMNS=100 qsim run ... > out.txt``), else
    ``piped_width`` columns."""
    if sys.stdout.isatty():
        return Console(file=sys.stdout)
    columns = os.environ.get("COLUMNS", "")
    width = int(columns) if columns.isdigit() and int(columns) > 0 else piped_width
    return Console(file=sys.stdout, width=width)


def _half_width(interval: list[float] | None) -> float | None:
    return (interval[1] - interval[0]) / 2 if interval else None


def _retry_table(summary: dict[str, Any]) -> Table | None:
    """Each pool's consumer-side retry: messages per retry level (with its wait), parked, and
    deliveries per message (the load its retries add)."""
    pools = {n: f["retry"] for n, f in summary["consumers"].items() if "retry" in f}
    if not pools:
        return None
    levels = max(len(figures["delays_s"]) for figures in pools.values())
    table = Table(title="Retries (messages sent to each retry level, after attempt n)",
                  title_justify="left", show_edge=False)  # fmt: skip
    table.add_column("pool")
    for column in ("messages", *(f"retry {n}" for n in range(1, levels + 1)), "parked",
                   "deliveries/message"):  # fmt: skip
        table.add_column(column, justify="right")
    for name, figures in pools.items():
        intervals = summary["ci95"]["consumers"][name]["retry"]
        cells = _Cells(figures, intervals)
        waits = [
            f"{format_number(count, _half_width(interval))} ({format_duration(delay)})"
            for count, interval, delay in zip(
                figures["retried"], intervals["retried"], figures["delays_s"], strict=True
            )
        ]
        waits += [""] * (levels - len(waits))
        table.add_row(name, cells.number("messages"), *waits, cells.number("parked"),
                      cells.number("amplification"))  # fmt: skip
    return table


def render_summary(summary: dict[str, Any], console: Console | None = None) -> None:
    """Print the summary as tables; ± is the half-width of the 95% confidence interval."""
    console = console or stdout_console()
    replications = summary["replications"]
    header = Text.assemble(
        (summary["scenario"], "bold"),
        f": {replications} replication{'s' if replications != 1 else ''} of "
        f"{format_span(summary['duration_s'])} (warm-up {format_span(summary['warmup_s'])}),"
        f" seed {summary['seed']}, qsim {summary['qsim_version']}",
    )
    if summary.get("percentiles", "exact") != "exact":
        header.append(f"; percentiles: {summary['percentiles']}")
    parts: list[Any] = [
        header,
        warmup_line(summary),
        precision_line(summary),
        _broker_line(summary),
        _queue_table(summary),
        _sparse_table(summary, "queues", "queue", OUTCOMES, "Other outcomes"),
        _sparse_table(summary, "producers", "producer", PRODUCER_OUTCOMES, "Producer side"),
        _latency_table(summary),
        _flow_table(summary) if _has_flows(summary) else None,
        _consumer_table(summary) if summary["consumers"] else None,
        _lambda_table(summary),
        _resource_table(summary),
        _retry_table(summary),
        *_stream_tables(summary),
        *_kafka_tables(summary),
        *_lease_tables(summary),
        _slo_table(summary),
        _cost_table(summary),
        _unpriced_line(summary),
    ]
    if replications > 1:
        parts.append(Text(INTERVAL_NOTE, style="dim"))
    shown = [part for part in parts if part is not None]
    console.print(Group(*(piece for part in shown for piece in fitted(console, part))))
