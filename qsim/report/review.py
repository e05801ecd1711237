"""A run review (a capacity plan with a capacity result), built from the JSON summary alone.

It opens with the answer (a verdict per objective, by how much, and why) and the dashboard;
then the headline figures with their 95% intervals, each SLO's verdict, recommendations whose
numbers come from the results, the analytic cross-check when a capacity result is given, what
was modelled, the assumptions, the plots, and the command that reproduces the run. Verdicts
decide only on the interval: an SLO is *met* when the whole 95% interval meets it, *missed*
when the whole interval misses it, and *undecided* otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import Any

import numpy as np
from pydantic import ValidationError

from qsim.report.answer import capacity_verdict, run_verdicts
from qsim.report.capacity_review import capacity_section, capacity_sentences
from qsim.report.dashboard import dashboard
from qsim.report.document import (
    Block,
    Bullets,
    Chart,
    Code,
    Document,
    Image,
    Paragraph,
    Section,
    Table,
    Verdicts,
)
from qsim.report.figures import above_label, figure_text, format_duration, format_span
from qsim.scenario import ConsumerPool
from qsim.summary import figure_at, lookup

__all__ = [
    "dashboard_chart",
    "headline_rows",
    "interval_text",
    "pools_of",
    "run_review",
    "slo_verdicts",
]

Summary = dict[str, Any]
PEAK_WINDOW = 900.0  # seconds: the stretch a peak publish rate is averaged over
TIME_KEYS = {"mean", "value", "low", "high", "scale", "sd"}
PLOT_CAPTIONS = {
    "backlog": "Ready messages per queue; the line is the mean over replications, the band "
    "the range across them; the warm-up is shaded.",
    "rates": "Messages published to and acked from each queue per second, over each sample "
    "step. Where acks fall below publishes the backlog grows.",
    "latency-cdf": "Share of messages acked within a latency (publish -> ack), from each "
    "queue's quantile grid (mean over replications); the dashed line is the SLO.",
    "latency-histogram": "The same latencies as a histogram: share of messages per decade of "
    "latency, between neighbouring levels of the quantile grid.",
    "lag": "Each partition of a kafka topic: records behind the group's committed offset, and "
    "the age of the oldest record not yet committed, at each sample (mean over replications); "
    "the partitions with the highest peak lag in colour, the others in grey.",
    "replicas": "Replicas per pool (mean over replications).",
    "utilization": "Busy workers over available workers at each sample (mean over "
    "replications); the dashed line is the mean over the measured window.",
}


def interval_text(summary: Summary, *path: str, kind: str = "number") -> str:
    """The figure at ``path`` with its 95% interval, as every report shows it
    (:func:`qsim.report.figures.figure_text`)."""
    return figure_text(summary, path, kind)


# -- what was modelled --------------------------------------------------------------------------
def _dist_text(dist: Any) -> str:
    """``{"dist": "lognormal", "mean": 0.6, "cv": 0.8}`` -> ``lognormal (mean 600ms, cv 0.8)``."""
    if not isinstance(dist, dict):
        return format_duration(dist) if isinstance(dist, int | float) else str(dist)
    name = dist.get("dist", "?")
    params = [
        f"{key} {format_duration(value) if key in TIME_KEYS else value}"
        for key, value in dist.items()
        if key != "dist" and isinstance(value, int | float)
    ]
    return f"{name} ({', '.join(params)})" if params else name


def _rate(rate: float) -> str:
    return f"{rate:.3g}/s"


def _batch_text(batch: dict[str, Any]) -> str:
    """``each a batch of 5 messages`` or ``each a batch of 1-8 messages (empirical)``."""
    if batch.get("dist") == "constant":
        return f"each a batch of {batch['value']:g} messages"
    values = batch.get("values") or [0]
    return f"each a batch of {min(values):g}-{max(values):g} messages ({batch.get('dist')})"


def _producer_text(producer: dict[str, Any]) -> str:
    arrivals = producer.get("arrivals", "poisson")
    if producer.get("schedule"):
        rates = [piece["rate"] for piece in producer["schedule"]]
        how = (
            f"{arrivals} arrivals on a schedule of {len(rates)} steps from "
            f"{_rate(min(rates))} to {_rate(max(rates))}"
        )
    elif producer.get("rate") is not None:
        how = f"{arrivals} arrivals at {_rate(producer['rate'])}"
    elif producer.get("interarrival") is not None:
        how = f"gaps drawn from {_dist_text(producer['interarrival'])}"
    elif producer.get("mmpp") is not None:
        rates = [state["rate"] for state in producer["mmpp"]["states"]]
        how = (
            f"bursts: Poisson arrivals in {len(rates)} states "
            f"from {_rate(min(rates))} to {_rate(max(rates))} (MMPP)"
        )
    elif producer.get("profile") is not None:
        rates = [point["rate"] for point in producer["profile"]["points"]]
        period = producer["profile"].get("period")
        every = f", repeated every {format_duration(period)}" if period else ""
        how = (
            f"poisson arrivals at a rate moving linearly through {len(rates)} points from "
            f"{_rate(min(rates))} to {_rate(max(rates))}{every}"
        )
    else:
        how = "the publish times of a recorded trace"
    if producer.get("batch") is not None:
        how += f", {_batch_text(producer['batch'])}"
    count = f", {producer['count']:,} messages at most" if producer.get("count") else ""
    return f"Producer {producer['name']} publishes to {producer['to']}: {how}{count}."


def _queue_text(queue: dict[str, Any]) -> str | None:
    traits = []
    if queue.get("max_length") is not None:
        traits.append(f"at most {queue['max_length']:,} ready ({queue['overflow']})")
    if queue.get("message_ttl") is not None:
        traits.append(f"message TTL {format_duration(queue['message_ttl'])}")
    if queue.get("dead_letter"):
        traits.append(f"dead-letters to {queue['dead_letter']}")
    if queue.get("delivery_limit") is not None:
        traits.append(f"delivery limit {queue['delivery_limit']}")
    if queue.get("max_priority") is not None:
        traits.append(f"priorities up to {queue['max_priority']}")
    if queue.get("durable") is False:
        traits.append("not durable")
    return f"Queue {queue['name']}: {', '.join(traits)}." if traits else None


def _pool_text(pool: dict[str, Any]) -> str:
    scaling = pool.get("scaling") or {}
    policy = scaling.get("policy", "fixed")
    size = (
        _replicas(pool["replicas"])
        if policy == "fixed"
        else f"{_replicas(pool['replicas'])} at the start, scaled by {policy} "
        f"between {scaling.get('min')} and {scaling.get('max')}"
    )
    prefetch = pool.get("prefetch")
    text = (
        f"Pool {pool['name']} consumes {pool['queue']} with {size}, prefetch "
        f"{prefetch if prefetch else 'unlimited'}, concurrency {pool.get('concurrency', 1)}; "
        f"service time {_dist_text(pool.get('service_time'))}"
    )
    failures = pool.get("failures") or {}
    if failures.get("nack_probability"):
        requeue = "requeued" if failures.get("requeue") else "not requeued"
        text += f"; {failures['nack_probability']:.2%} of messages nacked ({requeue})"
    if pool.get("crash"):
        text += f"; crashes, time between them {_dist_text(pool['crash'].get('mtbf'))}"
    for step in pool.get("publish") or ():
        text += f"; publishes onward to {step['to']}"
    return text + "."


def _modelled(summary: Summary, images: set[str]) -> Section:
    resolved = summary["resolved_scenario"]
    blocks: list[Block] = []
    if resolved.get("description"):
        blocks.append(Paragraph(" ".join(resolved["description"].split())))
    items = [_producer_text(p) for p in resolved.get("producers", [])]
    items += [t for q in resolved.get("queues", []) if (t := _queue_text(q))]
    items += [_pool_text(p) for p in resolved.get("consumers", [])]
    if resolved.get("outages"):
        items.append(f"The broker has {len(resolved['outages'])} outage rule(s).")
    if resolved.get("network"):
        items.append(f"Network latency each way: {_dist_text(resolved['network']['latency'])}.")
    blocks.append(Bullets(tuple(items)))
    if "topology" in images:
        blocks.append(
            Image(
                "topology",
                "Topology: producers -> exchanges -> queues -> pools",
                "Solid arrows carry the main flow; dashed ones go back "
                "(dead-lettering, pools publishing onward).",
            )
        )
    return Section("What was modelled", tuple(blocks))


def _assumptions(summary: Summary) -> Section:
    replications = summary["replications"]
    items = [
        f"{replications} independent replication{'s' if replications != 1 else ''} of "
        f"{format_span(summary['duration_s'])} each, seed {summary['seed']}; the first "
        f"{format_span(summary['warmup_s'])} of each (warm-up) are left out of every figure.",
        "Each figure is the mean over replications; ± is the half-width of its 95% Student-t "
        "confidence interval."
        if replications > 1
        else "One replication: no confidence intervals; run more replications before deciding.",
        f"Latency percentiles: {summary.get('percentiles', 'exact')}.",
        "Simplifications (docs/semantics.md): one broker node without flow control or memory "
        "alarms, instantaneous dispatch (no broker service time), no network limits unless "
        "the scenario sets a latency.",
    ]
    return Section("Assumptions", (Bullets(tuple(items)),))


# -- headline figures and SLOs ------------------------------------------------------------------
def headline_rows(summary: Summary) -> Iterator[tuple[str, str, str]]:
    """``(where, figure, value ± half-width)`` for the figures a review starts from."""
    for name in summary["queues"]:
        base = ("queues", name)
        yield (
            f"queue {name}",
            "throughput",
            interval_text(summary, *base, "throughput_per_s") + "/s",
        )
        yield (
            f"queue {name}",
            "latency p50",
            interval_text(summary, *base, "latency_s", "p50", kind="duration"),
        )
        yield (
            f"queue {name}",
            "latency p99",
            interval_text(summary, *base, "latency_s", "p99", kind="duration"),
        )
        yield f"queue {name}", "backlog mean", interval_text(summary, *base, "backlog", "mean")
        yield f"queue {name}", "backlog max", interval_text(summary, *base, "backlog", "max")
    for name in summary["consumers"]:
        base = ("consumers", name)
        yield f"pool {name}", "replicas mean", interval_text(summary, *base, "replicas_mean")
        yield (
            f"pool {name}",
            "utilization",
            interval_text(summary, *base, "utilization", kind="percent"),
        )
    cost = summary.get("cost")
    if cost:
        where = f"cost ({cost['currency']})"
        for section, kind in (("pools", "pool"), ("queues", "queue")):
            for name in cost[section]:
                yield (
                    where,
                    f"{kind} {name} per day",
                    interval_text(summary, "cost", section, name, "per_day"),
                )
        yield where, "per day", interval_text(summary, "cost", "per_day")
        yield where, "measured window", interval_text(summary, "cost", "total")


def _headline(summary: Summary) -> Section:
    rows, previous = [], None
    for where, figure, value in headline_rows(summary):
        rows.append((where if where != previous else "", figure, value))
        previous = where
    note = "± is the half-width of the 95% confidence interval over replications."
    return Section("Headline figures", (Table(("", "figure", "value"), tuple(rows), note),))


def _verdict(low: float | None, high: float | None, bound: float, at_least: bool) -> str:
    """met / missed / undecided from the interval ``[low, high]`` of a figure that must be at
    least (or at most) ``bound``; no data when the figure is missing (no message completed)."""
    if low is None or high is None:
        return "no data"
    meets = [(v >= bound) if at_least else (v <= bound) for v in (low, high)]
    if all(meets):
        return "met"
    return "undecided" if any(meets) else "missed"


def _bounds(summary: Summary, *path: str) -> tuple[float | None, float | None]:
    value, interval = figure_at(summary, path)
    if isinstance(interval, list):
        return interval[0], interval[1]
    return value, value


def _latency_verdict(summary: Summary, slo: dict[str, Any], queue: str) -> dict[str, Any]:
    target = slo["percentile"] / 100
    attainment = interval_text(summary, "slo", queue, "attainment", kind="percent")
    return {
        "queue": queue,
        "objective": f"p{slo['percentile']:g} latency within {format_duration(slo['latency'])}",
        "figure": f"attainment {attainment}",
        "measured": [("attainment", attainment)],
        "target": f">= {target:.2%}",
        "verdict": _verdict(*_bounds(summary, "slo", queue, "attainment"), target, True),
    }


def _backlog_verdict(summary: Summary, slo: dict[str, Any], queue: str) -> dict[str, Any]:
    level = slo["backlog"]
    peak = interval_text(summary, "queues", queue, "backlog", "max")
    above = interval_text(summary, "slo", queue, "drain_time_s", kind="above")
    return {
        "queue": queue,
        "objective": f"backlog at most {level:,} ready",
        "figure": f"backlog max {peak}; {above_label(level)}: {above}",
        "measured": [("backlog max", peak), (above_label(level), above)],
        "target": f"<= {level:,}",
        "verdict": _verdict(*_bounds(summary, "queues", queue, "backlog", "max"), level, False),
    }


def slo_verdicts(summary: Summary) -> list[dict[str, Any]]:
    """Per queue and objective: the figure (also as ``measured``, its (name, value) pairs),
    its target and the verdict on its 95% interval."""
    slo = summary["resolved_scenario"].get("slo")
    if not slo or not summary.get("slo"):
        return []
    verdicts = []
    for queue in summary["slo"]:
        verdicts.append(_latency_verdict(summary, slo, queue))
        if slo.get("backlog") is not None:
            verdicts.append(_backlog_verdict(summary, slo, queue))
    return verdicts


def _slos(summary: Summary) -> Section:
    verdicts = slo_verdicts(summary)
    if not verdicts:
        return Section(
            "Service-level objectives",
            (
                Paragraph(
                    "The scenario has no slo: section, so there is nothing to judge against. "
                    "Add one, e.g. slo: {latency: 2s, percentile: 99, backlog: 1000}."
                ),
            ),
        )
    rows = tuple(
        (v["queue"], v["objective"], v["figure"], v["target"], v["verdict"]) for v in verdicts
    )
    note = (
        "met: the whole 95% interval meets the objective; missed: the whole interval misses "
        "it; undecided: the interval straddles it (more replications decide)."
    )
    table = Table(("queue", "objective", "measured", "target", "verdict"), rows, note)
    return Section("Service-level objectives", (table,))


# -- recommendations ----------------------------------------------------------------------------
def pools_of(summary: Summary) -> list[ConsumerPool]:
    """The summary's consumer pools as models (a pool whose spec no longer validates, e.g. a
    file-backed distribution read from elsewhere, is left out)."""
    pools = []
    for spec in summary["resolved_scenario"].get("consumers", []):
        try:
            pools.append(ConsumerPool.model_validate(spec))
        except ValidationError:
            continue
    return pools


def _peak_window(summary: Summary, step: float) -> float:
    """How long a stretch the peak rate is averaged over: 15 minutes, at most a tenth of the
    measured window, at least one sample step (short stretches are mostly noise)."""
    measured = float(summary["duration_s"] - summary["warmup_s"])
    return max(step, min(PEAK_WINDOW, measured / 10))


def _peak_rate(summary: Summary, queue: str, window: float, step: float) -> float | None:
    """The highest publish rate of ``queue`` averaged over ``window`` after the warm-up."""
    series = summary["timeseries"]
    rates = lookup(series, ("queues", queue, "publish_rate"))
    if not rates:
        return None
    after = [r for t, r in zip(series["time_s"], rates, strict=False) if t > summary["warmup_s"]]
    width = max(1, round(window / step))
    if len(after) < width:
        return None
    sums = np.convolve(after, np.ones(width), mode="valid") / width
    return float(sums.max())


def _replicas(count: int) -> str:
    return f"{count} replica{'s' if count != 1 else ''}"


def _sample_step(summary: Summary) -> float:
    times = summary["timeseries"]["time_s"]
    return float(times[1] - times[0]) if len(times) > 1 else float(summary["duration_s"])


def _pool_advice(summary: Summary, pool: ConsumerPool) -> Iterator[str]:
    figures = summary["consumers"].get(pool.name, {})
    service = pool.service_time.mean
    step = _sample_step(summary)
    window = _peak_window(summary, step)
    peak = _peak_rate(summary, pool.queue, window, step)
    if peak is None or not math.isfinite(service):
        return
    busy = peak * service / pool.concurrency  # replicas' worth of busy workers
    if "stream" in figures:
        yield _reader_advice(pool, peak, busy, figures["stream"])
        return
    needed = math.floor(busy) + 1  # utilization below 1 at the peak
    utilization = figures.get("utilization")
    said = (
        f"At its peak, {pool.queue} receives {peak:.3g} messages/s (the busiest "
        f"{format_span(window)}, mean over replications); at {format_duration(service)} of "
        f"work per message that keeps {busy * pool.concurrency:.3g} workers busy, so "
        f"{pool.name} needs at least {_replicas(needed)} (concurrency {pool.concurrency}) just "
        "to keep up."
    )
    if pool.scaling.policy == "fixed":
        if needed > pool.replicas:
            backlog = interval_text(summary, "queues", pool.queue, "backlog", "max")
            said += (
                f" It has {pool.replicas}, so the backlog grows while the peak lasts (up "
                f"to {backlog} ready)."
            )
        else:
            average = f" ({utilization:.0%} on average)" if utilization is not None else ""
            said += (
                f" With {pool.replicas} it is about {busy / pool.replicas:.0%} busy at the "
                f"peak{average}."
            )
    elif figures.get("replicas_mean") is not None and figures.get("replicas_max") is not None:
        said += (
            f" Scaled by {pool.scaling.policy}, it ran {figures['replicas_mean']:.3g} replicas "
            f"on average and at most {figures['replicas_max']:.3g} (mean over replications)."
        )
    yield said


def _reader_advice(pool: ConsumerPool, peak: float, busy: float, reader: Summary) -> str:
    """A pool reading a stream: each replica processes every message, so replicas do not
    share the work; what keeps a reader up is its own concurrency."""
    verdict = (
        "each replica keeps up"
        if busy < 1
        else "each replica falls behind while the peak lasts: more replicas do not help, more "
        "concurrency (or faster processing) does"
    )
    return (
        f"{pool.name} reads the stream {pool.queue}, and each of its replicas processes every "
        f"message. At the peak ({peak:.3g} messages/s) a replica needs "
        f"{busy * pool.concurrency:.3g} workers busy of its {pool.concurrency}: {verdict} "
        f"(lag at most {reader['lag']['max']:.3g} records, mean over replications)."
    )


def _slo_advice(summary: Summary) -> Iterator[str]:
    consumers = summary["resolved_scenario"].get("consumers", [])
    pools = {p["queue"]: p["name"] for p in consumers}
    for verdict in slo_verdicts(summary):
        queue, pool = verdict["queue"], pools.get(verdict["queue"])
        slo_text = f"{verdict['objective']} on {queue}"
        if verdict["verdict"] == "missed":
            hint = (
                f" More replicas of {pool} than the minimum that keeps up are needed; "
                f"qsim capacity finds how many."
                if pool
                else ""
            )
            yield f"The objective {slo_text} is missed ({verdict['figure']}).{hint}"
        elif verdict["verdict"] == "undecided":
            yield (
                f"The objective {slo_text} is undecided ({verdict['figure']}): run more "
                f"replications before relying on it."
            )
        elif verdict["verdict"] == "met":
            yield f"The objective {slo_text} holds at this load ({verdict['figure']})."


def _recommendations(summary: Summary, capacity: dict[str, Any] | None) -> Section:
    items: list[str] = []
    for pool in pools_of(summary):
        items.extend(_pool_advice(summary, pool))
    items.extend(_slo_advice(summary))
    if capacity:
        items.extend(capacity_sentences(capacity, summary["resolved_scenario"]))
    if not items:
        items.append("The results carry nothing to recommend from (no consumer pools).")
    return Section("Recommendations", (Bullets(tuple(items)),))


def _plots(images: set[str]) -> Section:
    from qsim.report.plots import PLOTS

    blocks = tuple(
        Image(name, title, PLOT_CAPTIONS.get(name, ""))
        for name, (title, _draw) in PLOTS.items()
        if name in images
    )
    return Section("Plots", blocks or (Paragraph("No plots: the run recorded nothing to draw."),))


def _reproduce(summary: Summary, command: str) -> Section:
    return Section(
        "Reproduce",
        (
            Code(command),
            Paragraph(
                f"Seed {summary['seed']}, qsim {summary['qsim_version']}. summary.json next to "
                "this report holds every figure and the resolved scenario (every default "
                "filled in); the same command and seed give the same figures."
            ),
        ),
    )


def run_review(
    summary: Summary,
    command: str,
    images: set[str],
    capacity: dict[str, Any] | None = None,
) -> Document:
    """The review of one run: ``command`` reproduces it, ``images`` names the plots written,
    ``capacity`` (``qsim capacity --json``'s result) adds the capacity section."""
    replications = summary["replications"]
    subtitle = (
        f"{replications} replication{'s' if replications != 1 else ''} of "
        f"{format_span(summary['duration_s'])}, seed {summary['seed']}, "
        f"qsim {summary['qsim_version']}"
    )
    sections = [_answer(summary, capacity)]
    chart = dashboard_chart({"": summary}, images)
    if chart is not None:
        sections.append(Section("Dashboard", (chart,)))
    sections += [_headline(summary), _slos(summary), _recommendations(summary, capacity)]
    if capacity:
        sections.append(capacity_section(capacity, summary["resolved_scenario"], images))
    sections += [
        _modelled(summary, images),
        _assumptions(summary),
        _plots(images),
        _reproduce(summary, command),
    ]
    kind = "Capacity plan" if capacity else "Run review"
    return Document(f"{kind}: {summary['scenario']}", subtitle, tuple(sections))


DASHBOARD_FALLBACK = ("backlog", "replicas", "utilization")
"""The static plots a Markdown report shows in place of the dashboard."""


def dashboard_chart(summaries: dict[str, Summary], images: Iterable[str]) -> Chart | None:
    """The dashboard of one run (``{"": summary}``) or of a comparison, as a report block."""
    first = next(iter(summaries.values()))
    start = first["resolved_scenario"].get("start")
    clock = f"clock time from {start}" if start else "time since the start (t = 0 at 00:00)"
    figure = dashboard(summaries, "")
    if figure is None:
        return None
    caption = (
        f"Every panel on one axis, {clock}; mean over replications. Latency is per sample "
        "window (p50 dotted, p95 dashed, p99 solid) of the messages completed in it. Dashed red "
        "lines are the SLO's limits; the warm-up is shaded grey, the raised steps of a rate "
        "schedule orange. Hover for values, drag to zoom (double-click resets), click a legend "
        "entry to hide or show it."
    )
    fallback = tuple(name for name in DASHBOARD_FALLBACK if name in set(images))
    return Chart("dashboard", "Dashboard", figure, caption, fallback)


def _answer(summary: Summary, capacity: dict[str, Any] | None) -> Section:
    """The verdicts a review opens with, and why."""
    why = " ".join(s for pool in pools_of(summary) for s in _pool_advice(summary, pool))
    if capacity:
        why = " ".join(capacity_sentences(capacity, summary["resolved_scenario"]))
    answers = run_verdicts(summary, slo_verdicts(summary), why)
    if capacity:  # the scenario's own objectives judged on today's run, after the plan
        plan = capacity_verdict(capacity, summary["resolved_scenario"])
        today = (replace(v, headline=f"today's run: {v.headline}") for v in answers.items)
        answers = Verdicts((plan, *today), answers.why)
    return Section("Answer", (answers,))
