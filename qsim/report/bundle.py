"""The report folder: ``ROOT/<scenario>/<kind>-<UTC timestamp>/`` with everything a review needs
(``kind``: run, compare or capacity).

``report.html`` (self-contained), ``report.md``, ``summary.json`` (the same JSON as ``--json``),
``timeseries.csv`` (columns in :data:`CSV_COLUMNS`, documented in docs/report.md) and every plot
as PNG and SVG. Built from the JSON summary alone, so a report can be rebuilt from a stored
summary.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from qsim.errors import QsimError
from qsim.report.capacity_review import today_replicas
from qsim.report.comparison_review import compare_review
from qsim.report.diagram import topology_plot
from qsim.report.document import Document
from qsim.report.html import render_html
from qsim.report.markdown import render_markdown
from qsim.report.plots import capacity_plot, save, style, summary_plots
from qsim.report.review import run_review

__all__ = [
    "CSV_COLUMNS",
    "KINDS",
    "report_folder",
    "timeseries_rows",
    "write_compare_report",
    "write_run_report",
]

Summary = dict[str, Any]
CSV_COLUMNS = (
    "time_s",
    "kind",
    "name",
    "backlog",
    "backlog_min",
    "backlog_max",
    "unacked",
    "publish_rate_per_s",
    "ack_rate_per_s",
    "replicas",
    "busy",
    "utilization",
)
"""Columns of ``timeseries.csv``: one row per sample time and queue or pool (``kind``)."""
QUEUE_FIELDS = {  # CSV column -> key under timeseries.queues.NAME
    "backlog": "ready",
    "backlog_min": "ready_min",
    "backlog_max": "ready_max",
    "unacked": "unacked",
    "publish_rate_per_s": "publish_rate",
    "ack_rate_per_s": "ack_rate",
}
DEFAULT_ROOT = Path("reports")


KINDS = ("run", "compare", "capacity")
"""What a report folder holds, the first part of its name: a run review, a comparison, a
capacity plan."""


def report_folder(
    root: Path, scenario: str, now: datetime | None = None, kind: str = "run"
) -> Path:
    """A new folder ``root/<scenario>/<kind>-<UTC timestamp>`` (suffixed ``-2``... if taken);
    ``kind`` is one of :data:`KINDS`."""
    if kind not in KINDS:
        raise ValueError(f"unknown report kind {kind!r}; known: {', '.join(KINDS)}")
    stamp = kind + "-" + (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    base = root / (re.sub(r"[^A-Za-z0-9._-]+", "_", scenario).strip("._") or "scenario")
    folder, suffix = base / stamp, 1
    try:
        while True:
            try:
                folder.mkdir(parents=True)
                return folder
            except FileExistsError:
                suffix += 1
                folder = base / f"{stamp}-{suffix}"
    except OSError as exc:
        raise QsimError(f"cannot write the report into {root}: {exc.strerror}") from None


def _concurrency(summary: Summary) -> dict[str, int]:
    consumers = summary["resolved_scenario"].get("consumers", [])
    return {pool["name"]: int(pool.get("concurrency", 1)) for pool in consumers}


def _pool_row(series: dict[str, Any], i: int, concurrency: int) -> list[Any]:
    replicas = series["replicas"][i]
    busy = series.get("busy", [None] * (i + 1))[i]
    workers = replicas * concurrency
    utilization = busy / workers if busy is not None and workers > 0 else None
    return [replicas, busy, utilization]


def timeseries_rows(summary: Summary) -> Iterator[list[Any]]:
    """The rows of ``timeseries.csv`` (without the header); None where a column does not
    apply to the row's kind."""
    series = summary["timeseries"]
    concurrency = _concurrency(summary)
    for i, time in enumerate(series["time_s"]):
        for name, queue in series["queues"].items():
            values = [queue[key][i] if key in queue else None for key in QUEUE_FIELDS.values()]
            yield [time, "queue", name, *values, None, None, None]
        for name, pool in series["pools"].items():
            blank = [None] * len(QUEUE_FIELDS)
            yield [time, "pool", name, *blank, *_pool_row(pool, i, concurrency.get(name, 1))]


def _write_csv(path: Path, rows: Iterator[list[Any]], columns: tuple[str, ...]) -> None:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(columns)
        for row in rows:
            writer.writerow(
                ["" if v is None else f"{v:.6g}" if isinstance(v, float) else v for v in row]
            )


def _write_pages(folder: Path, document: Document) -> None:
    (folder / "report.html").write_text(render_html(document, folder), encoding="utf-8")
    (folder / "report.md").write_text(render_markdown(document), encoding="utf-8")


def _written(folder: Path, action: Callable[[], Path]) -> Path:
    try:
        return action()
    except OSError as exc:
        raise QsimError(f"cannot write the report into {folder}: {exc.strerror}") from None


def write_run_report(
    summary: Summary,
    command: str,
    root: Path = DEFAULT_ROOT,
    capacity: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> Path:
    """Write the report of one run (and of a capacity search, if given); return its folder."""
    folder = report_folder(root, summary["scenario"], now, "capacity" if capacity else "run")

    def write() -> Path:
        (folder / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", "utf-8")
        _write_csv(folder / "timeseries.csv", timeseries_rows(summary), CSV_COLUMNS)
        images = set(summary_plots(summary, folder))
        with style():
            save(topology_plot(summary["resolved_scenario"]), folder, "topology")
            images.add("topology")
            today = today_replicas(capacity, summary["resolved_scenario"]) if capacity else None
            figure = capacity_plot(capacity, today) if capacity else None
            if figure is not None:
                save(figure, folder, "capacity")
                images.add("capacity")
        if capacity:
            (folder / "capacity.json").write_text(json.dumps(capacity, indent=2) + "\n", "utf-8")
        _write_pages(folder, run_review(summary, command, images, capacity))
        return folder

    return _written(folder, write)


def write_compare_report(
    result: dict[str, Any], command: str, root: Path = DEFAULT_ROOT, now: datetime | None = None
) -> Path:
    """Write the report of a comparison (``{"variants": {name: summary}}``); return its folder."""
    from qsim.report.compare import plot_comparison

    summaries: dict[str, Summary] = result["variants"]
    names = {s["scenario"] for s in summaries.values()}
    folder = report_folder(root, names.pop() if len(names) == 1 else "compare", now, "compare")

    def write() -> Path:
        (folder / "summary.json").write_text(json.dumps(result, indent=2) + "\n", "utf-8")
        rows = ([variant, *row] for variant, s in summaries.items() for row in timeseries_rows(s))
        _write_csv(folder / "timeseries.csv", rows, ("variant", *CSV_COLUMNS))
        with style():
            plots = plot_comparison(summaries, folder, formats=("png", "svg"))
        _write_pages(folder, compare_review(summaries, command, [p.stem for p in plots]))
        return folder

    return _written(folder, write)
