"""The review of a comparison: variants side by side, their SLO verdicts, which variant meets
every objective at the least cost, the overlaid plots and the command that reproduces it.

Built from ``{"variants": {name: summary}}`` alone; the side-by-side rows are those of the
terminal table (:func:`qsim.report.compare.comparison_rows`), the best value marked ``*``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from qsim.report.compare import (
    LEGEND,
    MARK,
    comparison_rows,
    marked_cells,
    meeting_of,
    recommendation,
)
from qsim.report.document import Block, Bullets, Code, Document, Image, Paragraph, Section, Table
from qsim.report.figures import format_span
from qsim.report.review import slo_verdicts
from qsim.summary import lookup

__all__ = ["compare_review"]

Summaries = dict[str, dict[str, Any]]


def _side_by_side(summaries: Summaries) -> Table:
    rows, previous = [], None
    for group, row in comparison_rows(summaries):
        if all(lookup(s, row.path) is None for s in summaries.values()):
            continue
        texts, marked = marked_cells(summaries, row)
        cells = [text + (MARK if i in marked else "") for i, text in enumerate(texts)]
        rows.append((group if group != previous else "", row.label, *cells))
        previous = group
    return Table(("", "figure", *summaries), tuple(rows), LEGEND)


def _pools_text(summary: dict[str, Any]) -> str:
    pools = summary["resolved_scenario"].get("consumers", [])
    return "; ".join(
        f"{p['name']} {p['replicas']} replicas ({(p.get('scaling') or {}).get('policy', 'fixed')})"
        for p in pools
    )


def _judged(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The verdicts that judge something (a queue no message completed on has no data)."""
    return [v for v in found if v["verdict"] != "no data"]


def _advice(summaries: Summaries, verdicts: dict[str, list[dict[str, Any]]]) -> Iterator[str]:
    judged = {name: _judged(found) for name, found in verdicts.items()}
    if not any(judged.values()):
        yield "No objective to judge: the scenarios have no slo: section, or no data for it."
        return
    meeting = meeting_of(verdicts) or []
    if meeting:
        yield (
            f"{len(meeting)} of {len(summaries)} variants meet every objective: "
            f"{', '.join(meeting)}."
        )
    yield recommendation(summaries, meeting)
    for name, found in judged.items():
        short = [
            f"{v['objective']} on {v['queue']} ({v['verdict']})"
            for v in found
            if v["verdict"] != "met"
        ]
        if short:
            yield f"{name} does not surely meet: {'; '.join(short)}."


def _slo_section(verdicts: dict[str, list[dict[str, Any]]]) -> Section:
    rows = tuple(
        (name, v["queue"], v["objective"], v["figure"], v["verdict"])
        for name, found in verdicts.items()
        for v in found
    )
    if not rows:
        return Section("Service-level objectives", (Paragraph("No slo: section."),))
    header = ("variant", "queue", "objective", "measured", "verdict")
    return Section("Service-level objectives", (Table(header, rows),))


def _assumptions(first: dict[str, Any]) -> Section:
    items = (
        f"{first['replications']} replications of {format_span(first['duration_s'])} per "
        f"variant, seed {first['seed']}, warm-up {format_span(first['warmup_s'])} left out.",
        "Common random numbers: replication r of every variant draws from the same random "
        "streams, so differences come from the strategy, not from noise.",
    )
    return Section("Assumptions", (Bullets(items),))


def _plots(images: list[str]) -> Section:
    blocks: tuple[Block, ...] = tuple(
        Image(name, name.replace("-", " of ", 1), "One line per variant, mean over replications.")
        for name in images
    )
    return Section("Plots", blocks or (Paragraph("No plots."),))


def compare_review(summaries: Summaries, command: str, images: list[str]) -> Document:
    """The review of a comparison; ``images`` names the overlaid plots written beside it."""
    first = next(iter(summaries.values()))
    verdicts = {name: slo_verdicts(s) for name, s in summaries.items()}
    compared = Bullets(tuple(f"{name}: {_pools_text(s)}" for name, s in summaries.items()))
    reproduce = Paragraph(
        "summary.json beside this report holds every variant's summary with its resolved scenario."
    )
    sections = (
        Section("What was compared", (compared,)),
        _assumptions(first),
        Section("Side by side", (_side_by_side(summaries),)),
        _slo_section(verdicts),
        Section("Recommendations", (Bullets(tuple(_advice(summaries, verdicts))),)),
        _plots(images),
        Section("Reproduce", (Code(command), reproduce)),
    )
    title = f"Comparison: {', '.join(summaries)}"
    return Document(title, f"{first['scenario']}, seed {first['seed']}", sections)
