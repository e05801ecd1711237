"""The review of a comparison: the answer first (the cheapest variant that meets every
objective, and each variant's standing), the variants overlaid on one dashboard, side by side,
their SLO verdicts, the overlaid plots and the command that reproduces it.

Built from ``{"variants": {name: summary}}`` alone; the side-by-side rows are those of the
terminal table (:func:`qsim.report.compare.comparison_rows`), the best value among the variants
that meet every objective marked ``*``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from qsim.report.answer import compare_verdict
from qsim.report.compare import (
    FORMATS,
    MARK,
    best_columns,
    comparison_rows,
)
from qsim.report.console import format_number, format_span
from qsim.report.document import (
    Block,
    Bullets,
    Code,
    Document,
    Image,
    Paragraph,
    Section,
    Table,
    Verdict,
    Verdicts,
)
from qsim.report.review import dashboard_chart, slo_verdicts
from qsim.summary import half_width, lookup

__all__ = ["compare_review", "meeting_variants"]

STANDING = {"met": "meets every objective", "no data": "no data to judge it"}

Summaries = dict[str, dict[str, Any]]


def _side_by_side(summaries: Summaries, candidates: list[str]) -> Table:
    """The rows of the terminal table; ``*`` marks the best only among ``candidates`` (the
    variants that meet every objective): the cheapest variant that misses one is no best."""
    rows, previous = [], None
    allowed = [name in candidates for name in summaries]
    for group, row in comparison_rows(summaries):
        values = [lookup(s, row.path) for s in summaries.values()]
        if all(v is None for v in values):
            continue
        eligible = [v if ok else None for v, ok in zip(values, allowed, strict=True)]
        marked = best_columns(eligible, row.best)
        cells = [
            FORMATS[row.format](v, half_width(s, row.path)).replace("±", " ± ")
            + (MARK if i in marked else "")
            for i, (v, s) in enumerate(zip(values, summaries.values(), strict=True))
        ]
        rows.append((group if group != previous else "", row.label, *cells))
        previous = group
    among = (
        "among the variants that meet every objective"
        if len(candidates) < len(summaries)
        else "(every variant meets every objective, or there is none)"
    )
    note = (
        f"* best in its row {among}; none when no variant meets them all. ± is the half-width "
        "of the 95% confidence interval over replications."
    )
    return Table(("", "figure", *summaries), tuple(rows), note)


def _pools_text(summary: dict[str, Any]) -> str:
    pools = summary["resolved_scenario"].get("consumers", [])
    return "; ".join(
        f"{p['name']} {p['replicas']} replicas ({(p.get('scaling') or {}).get('policy', 'fixed')})"
        for p in pools
    )


def _replica_seconds(summary: dict[str, Any]) -> float:
    return sum(p.get("replica_seconds") or 0.0 for p in summary["consumers"].values())


def _cost(summary: dict[str, Any], priced: bool) -> float:
    """Money per day when the variants are priced, else replica-seconds."""
    return float(summary["cost"]["per_day"]) if priced else _replica_seconds(summary)


def _cost_text(summary: dict[str, Any], priced: bool) -> str:
    amount = format_number(_cost(summary, priced))
    if not priced:
        return f"{amount} replica-seconds"
    return f"{amount} {summary['cost']['currency']} per day"


def _judged(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The verdicts that judge something (a queue no message completed on has no data)."""
    return [v for v in found if v["verdict"] != "no data"]


def meeting_variants(verdicts: dict[str, list[dict[str, Any]]]) -> list[str] | None:
    """The variants whose every judged objective is met on its whole 95% interval; None when
    nothing is judged (no slo: section, or no data for it)."""
    judged = {name: _judged(found) for name, found in verdicts.items()}
    if not any(judged.values()):
        return None
    return [n for n, vs in judged.items() if vs and all(v["verdict"] == "met" for v in vs)]


def _advice(summaries: Summaries, verdicts: dict[str, list[dict[str, Any]]]) -> Iterator[str]:
    judged = {name: _judged(found) for name, found in verdicts.items()}
    meeting = meeting_variants(verdicts)
    if meeting is None:
        yield "No objective to judge: the scenarios have no slo: section, or no data for it."
        return
    if not meeting:
        yield "No variant meets every objective on its whole 95% interval."
    else:
        priced = all(summaries[n].get("cost") for n in meeting)
        cheapest = min(meeting, key=lambda n: _cost(summaries[n], priced))
        yield (
            f"{len(meeting)} of {len(summaries)} variants meet every objective: "
            f"{', '.join(meeting)}. The cheapest of them is {cheapest}, at "
            f"{_cost_text(summaries[cheapest], priced)}."
        )
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
    meeting = meeting_variants(verdicts)
    advice = tuple(_advice(summaries, verdicts))
    sections = [_answer(summaries, verdicts, advice)]
    chart = dashboard_chart(summaries, ())
    if chart is not None:
        sections.append(Section("Dashboard", (chart,)))
    sections += [
        Section(
            "Side by side",
            (_side_by_side(summaries, list(summaries) if meeting is None else meeting),),
        ),
        _slo_section(verdicts),
        Section("Recommendations", (Bullets(advice),)),
        Section("What was compared", (compared,)),
        _assumptions(first),
        _plots(images),
        Section("Reproduce", (Code(command), reproduce)),
    ]
    title = f"Comparison: {', '.join(summaries)}"
    return Document(title, f"{first['scenario']}, seed {first['seed']}", tuple(sections))


def _answer(
    summaries: Summaries, verdicts: dict[str, list[dict[str, Any]]], advice: tuple[str, ...]
) -> Section:
    """The cheapest variant meeting every objective, then each variant's standing."""
    meeting = meeting_variants(verdicts)
    if meeting is None:
        head = Verdict("info", "No objective to judge: the scenarios have no slo: section.")
        return Section("Answer", (Verdicts((head,), " ".join(advice)),))
    priced = all(summaries[n].get("cost") for n in meeting) and bool(meeting)
    unit = f"{summaries[meeting[0]]['cost']['currency']} per day" if priced else "replica-seconds"
    costs = {n: _cost(summaries[n], priced) for n in meeting}
    items = [compare_verdict(meeting, costs, unit)]
    for name, found in verdicts.items():
        judged = _judged(found)
        missed = [v for v in judged if v["verdict"] != "met"]
        state = "met" if judged and not missed else (missed[0]["verdict"] if missed else "no data")
        said = "; ".join(f"{v['objective']} on {v['queue']}: {v['verdict']}" for v in judged)
        items.append(
            Verdict(
                state,
                f"{name}: {STANDING.get(state, 'does not surely meet every objective')}",
                said,
            )
        )
    return Section("Answer", (Verdicts(tuple(items), " ".join(advice)),))
