"""Traffic over the window: publish, deliver and ack rates; producers and consumer pools.

Rates are the slopes of the management API's counter samples over the window (``*_details``,
from the first sample above zero, :func:`_rate`), lengths their ``avg``. What the API does
not say is estimated, and each estimate is named in a note:

- Producers. The API counts messages into each exchange (``publish_in``) and into each queue
  (``publish``), not which routing keys were used. Each exchange with traffic becomes one
  producer at its ``publish_in`` rate; its routing-key shares are fitted (non-negative least
  squares) so the keys, routed through the imported bindings, reproduce every queue's
  ``publish`` rate. Candidate keys are one concrete key per binding (a topic pattern's ``*``
  and ``#`` become the word ``any``) and, on the default exchange, each queue's name. Arrivals
  are taken as Poisson (the API gives rates, not the spacing of publishes).
- Consumer pools: one per queue and (prefetch, ack mode), ``replicas`` the consumers counted.
  Service time: with a backlog throughout the window the consumers never wait, so the mean is
  ``busy consumers / ack rate`` (one busy consumer under single active consumer). Otherwise
  Little's law on the unacked messages gives ``mean unacked / ack rate``: the time from delivery
  to ack, which is the service time when prefetch is 1 and an upper bound above (it includes
  the wait in the prefetch buffer and the network). Auto-ack consumers and idle queues leave no
  trace of service time: a placeholder to replace (``qsim fit`` fits one from measurements).
  The distribution is taken as exponential.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import nnls

from qsim.engine.routing import MATCHERS
from qsim.importer.item import Item, Section
from qsim.importer.snapshot import Snapshot
from qsim.importer.topology import Topology, seconds

__all__ = [
    "PLACEHOLDER_SERVICE", "Flow", "QueueTraffic", "consumer_pools", "producers", "rate_steps",
]  # fmt: skip

PLACEHOLDER_SERVICE = 0.1
"""Seconds: the placeholder mean service time where the API shows none."""
MIN_SHARE = 0.005
"""Fitted key shares below this are noise in the rates and left out."""
FILLER = "any"
"""The word a topic pattern's ``*`` and ``#`` become in a concrete routing key."""
HASHED_KEYS = 1000
"""Distinct routing keys given a producer to an ``x-consistent-hash`` exchange."""
UNROUTED = "unrouted"
"""A candidate key for messages an exchange routes nowhere (when it matches no binding)."""


def _counted(details: Mapping[str, Any]) -> tuple[float, list[tuple[float, float]]]:
    """The first sample's time (s), and the (time, count) samples from the first count above
    zero: before it the counter had not started (see :func:`_rate`)."""
    samples = sorted(
        (float(s["timestamp"]) / 1000, float(s["sample"])) for s in details.get("samples") or ()
    )
    start = samples[0][0] if samples else 0.0
    return start, [(t, count) for t, count in samples if count > 0]


def rate_steps(details: Mapping[str, Any], step: float) -> list[tuple[float, float]]:
    """The counter's history as (seconds from the window's first sample, rate) steps, each the
    slope over at least ``step`` seconds of samples (the last one over what is left); a rate of
    0 first when the counter started inside the window. Empty with fewer than two counts."""
    start, counted = _counted(details)
    steps: list[tuple[float, float]] = []
    if len(counted) < 2:
        return steps
    if counted[0][0] > start:
        steps.append((0.0, 0.0))
    begin = counted[0]
    for i, (t, count) in enumerate(counted[1:], start=1):
        if t - begin[0] >= step - 1e-9 or i == len(counted) - 1:
            steps.append((begin[0] - start, (count - begin[1]) / (t - begin[0])))
            begin = (t, count)
    return steps


def _rate(stats: Mapping[str, Any], name: str) -> float:
    """``name`` (``publish``, ``ack``, ...) per second over the window, 0 when never counted.

    The slope of the counter's samples from the first one above zero: a counter that reads 0
    at the start of the window had not started yet (a new queue, or one the statistics
    database had not heard of), and counting those seconds would understate the rate. With
    fewer than two such samples, the API's latest ``rate``. A first or last sample that
    repeats its neighbour is left out too (:func:`_reported`)."""
    details = stats.get(f"{name}_details") or {}
    counted = _reported(_counted(details)[1])
    if len(counted) >= 2 and counted[-1][0] > counted[0][0]:
        (start, first), (end, last) = counted[0], counted[-1]
        return (last - first) / (end - start)
    return float(details.get("rate", 0.0))


def _reported(counted: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The samples without a first or last one that repeats its neighbour, down to two: a
    stretch the statistics database had no report for. Queue and channel statistics arrive
    every ``collect_statistics_interval`` and each sample holds the last count reported before
    it, so a late report leaves the newest sample at the one before (a CI run read every rate
    over 15 s from 10 s of counting: two thirds of the truth). A counter that really stood
    still at an end is then rated over the stretch where it moved."""
    while len(counted) > 2 and counted[-1][1] == counted[-2][1]:
        counted = counted[:-1]
    while len(counted) > 2 and counted[0][1] == counted[1][1]:
        counted = counted[1:]
    return counted


def _length(raw: Mapping[str, Any], name: str) -> tuple[float, float, int]:
    """Mean and least of length ``name`` (``messages_ready``, ...) over the window's samples,
    and how many samples there were."""
    details = raw.get(f"{name}_details") or {}
    samples = [float(s["sample"]) for s in details.get("samples") or ()]
    now = float(raw.get(name, 0))
    return float(details.get("avg", now)), min(samples, default=now), len(samples)


@dataclass(frozen=True)
class QueueTraffic:
    """One queue's rates (per second) and lengths over the window."""

    name: str
    published: float
    delivered: float
    acked: float
    auto_acked: float
    unacked: float
    unacked_samples: int
    least_ready: float

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> QueueTraffic:
        """From a queue of the API's ``/api/queues``."""
        stats = raw.get("message_stats") or {}
        return cls(
            name=str(raw["name"]),
            published=_rate(stats, "publish"),
            delivered=_rate(stats, "deliver_get"),
            acked=_rate(stats, "ack"),
            auto_acked=_rate(stats, "deliver_no_ack") + _rate(stats, "get_no_ack"),
            unacked=_length(raw, "messages_unacknowledged")[0],
            unacked_samples=_length(raw, "messages_unacknowledged")[2],
            least_ready=_length(raw, "messages_ready")[1],
        )


def _rounded(value: float) -> float:
    return float(f"{value:.4g}")


# -- producers -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Flow:
    """Messages published to ``exchange`` ("" for the default one) with routing key ``key``."""

    exchange: str
    key: str


def _concrete(pattern: str) -> str:
    words = (
        [FILLER if word in ("*", "#") else word for word in pattern.split(".")] if pattern else []
    )
    return ".".join(words)


def _candidates(topology: Topology, exchange: str, queues: list[str]) -> list[Flow]:
    if not exchange:
        return [Flow("", queue) for queue in queues]
    kind = topology.exchange_types[exchange]
    if kind not in MATCHERS:
        return []  # a consistent-hash exchange: routed by hashing, not fitted (see _keys)
    keys = (
        [""] if kind == "fanout" else sorted({_concrete(b.key) for b in topology.routes(exchange)})
    )
    if not _reach(topology, Flow(exchange, UNROUTED)):
        keys.append(UNROUTED)
    return [Flow(exchange, key) for key in keys or [""]]


def _reach(topology: Topology, flow: Flow) -> set[str]:
    """The queues a message of ``flow`` reaches."""
    if not flow.exchange:
        return {flow.key}
    match = MATCHERS[topology.exchange_types[flow.exchange]]
    return {b.queue for b in topology.routes(flow.exchange) if match(b.key)(flow.key)}


def fit_flows(
    topology: Topology, inflow: Mapping[str, float], published: Mapping[str, float]
) -> dict[Flow, float]:
    """Rates per flow (exchange, key) >= 0 that best reproduce each exchange's ``inflow`` and
    each queue's ``published`` rate (non-negative least squares over both)."""
    queues = sorted(published)
    flows = [
        flow for exchange in sorted(inflow) for flow in _candidates(topology, exchange, queues)
    ]
    if not flows:
        return {}
    rows = [[1.0 if queue in _reach(topology, f) else 0.0 for f in flows] for queue in queues]
    rows += [[1.0 if f.exchange == exchange else 0.0 for f in flows] for exchange in sorted(inflow)]
    target = [published[queue] for queue in queues] + [inflow[e] for e in sorted(inflow)]
    rates, _residual = nnls(np.array(rows), np.array(target))
    return {flow: float(rate) for flow, rate in zip(flows, rates, strict=True)}


def producers(
    snapshot: Snapshot, topology: Topology, traffic: list[QueueTraffic], step: float | None = None
) -> Section:
    """One producer per exchange with publishes in the window (per queue on the default one);
    with ``step``, each publishes on the exchange's rate history in steps of that many seconds
    (a ``schedule:``) instead of at its mean rate."""
    inflow, history = {}, {}
    for raw in snapshot.section("exchanges"):
        stats = raw.get("message_stats") or {}
        rate, name = _rate(stats, "publish_in"), str(raw["name"])
        if rate > 0 and (not name or name in topology.exchange_types):
            inflow[name] = rate
            history[name] = rate_steps(stats.get("publish_in_details") or {}, step or 1.0)
    fitted = fit_flows(topology, inflow, {q.name: q.published for q in traffic})
    section = Section()
    for exchange in sorted(inflow):
        flows = {f: r for f, r in fitted.items() if f.exchange == exchange}
        steps = history[exchange] if step else []
        if exchange:
            item = _producer(topology.scenario_names[exchange], inflow[exchange], snapshot.window)
            _schedule(item, steps, 1.0, snapshot.window, step)
            _keys(item, flows, topology.exchange_types[exchange])
            section.items.append(item)
        else:
            section.items += _direct(flows, snapshot.window, steps, step)
    return section


def _schedule(
    item: Item, steps: list[tuple[float, float]], share: float, window: float, step: float | None
) -> None:
    """Replace the producer's ``rate`` by ``share`` of the rate history ``steps``."""
    if len(steps) < 2 or step is None:
        return
    del item.fields["rate"]
    item.notes.pop("rate", None)
    schedule = [{"at": seconds(at), "rate": f"{_rounded(rate * share)}/s"} for at, rate in steps]
    note = (
        f"measured: the rate every {seconds(step)} over the last {window:g}s; Poisson within "
        "each step guessed"
    )
    item.put("schedule", schedule, note)


def _measured(window: float, what: str) -> str:
    return f"measured: {what} over the last {window:g}s; Poisson arrivals guessed"


def _producer(exchange: str, rate: float, window: float) -> Item:
    item = Item()
    item.put("name", f"{exchange}-publishers")
    item.put("to", exchange)
    item.put("rate", f"{_rounded(rate)}/s", _measured(window, f"publish_in of {exchange!r}"))
    return item


def _keys(item: Item, flows: dict[Flow, float], kind: str) -> None:
    """The routing key of a producer to an exchange of type ``kind``: fitted shares, or for a
    consistent-hash exchange many distinct keys (it hashes them onto its queues)."""
    if kind not in MATCHERS:
        note = f"guessed: {HASHED_KEYS} distinct keys, hashed onto the queues by their weights"
        item.put("routing_key", {"uniform": HASHED_KEYS}, note)
        return
    total = sum(flows.values())
    shares = {f.key: r / total for f, r in flows.items() if total and r / total >= MIN_SHARE}
    note = "guessed: key shares fitted to the queues' publish rates"
    if len(shares) == 1:
        item.put("routing_key", next(iter(shares)), note if len(flows) > 1 else None)
    elif shares:
        weights = {key: round(share, 3) for key, share in sorted(shares.items())}
        item.put("routing_key", {"keys": weights}, note)


def _direct(
    flows: dict[Flow, float], window: float, steps: list[tuple[float, float]], step: float | None
) -> list[Item]:
    """Publishes through the default exchange: one producer per queue they were fitted to."""
    total = sum(flows.values())
    items = []
    for flow, rate in sorted(flows.items(), key=lambda pair: pair[0].key):
        if not total or rate / total < MIN_SHARE:
            continue
        item = Item()
        item.put("name", f"{flow.key}-direct-publishers")
        item.put("to", flow.key)
        note = "guessed: the default exchange's publish_in split by the queues' publish rates"
        item.put("rate", f"{_rounded(rate)}/s", note)
        _schedule(item, steps, rate / total, window, step)
        items.append(item)
    return items


# -- consumer pools ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Group:
    """Consumers of one queue with the same prefetch and ack mode."""

    queue: str
    prefetch: int
    manual: bool


def _groups(snapshot: Snapshot) -> Counter[Group]:
    return Counter(
        Group(str(c["queue"]["name"]), int(c.get("prefetch_count") or 0), bool(c["ack_required"]))
        for c in snapshot.section("consumers")
    )


def _service(
    group: Group, replicas: int, share: float, queue: QueueTraffic, sac: bool
) -> tuple[float, str]:
    """The mean service time estimate (seconds) and the note that says how it was made."""
    busy = 1 if sac else replicas
    if not group.manual:
        if queue.auto_acked > 0:
            bound = busy / (queue.auto_acked * share)
            return (
                min(PLACEHOLDER_SERVICE, bound / 2),
                f"placeholder: auto-ack consumers show no service time (at most {seconds(bound)} "
                "keeps up); fit one with qsim fit",
            )
        return PLACEHOLDER_SERVICE, "placeholder: no deliveries in the window; fit with qsim fit"
    acked = queue.acked * share
    if acked <= 0:
        return PLACEHOLDER_SERVICE, "placeholder: no acks in the window; fit with qsim fit"
    if queue.least_ready > 0:
        return busy / acked, (
            f"guessed: exponential; mean = {busy} busy consumer(s) / ack rate "
            f"{_rounded(acked)}/s (a backlog throughout the window)"
        )
    if queue.unacked <= 0:
        bound = busy / acked
        return min(PLACEHOLDER_SERVICE, bound / 2), (
            f"placeholder: no unacked message in any sample (at most {seconds(bound)} keeps "
            "up); fit one with qsim fit"
        )
    upper = "" if group.prefetch == 1 else "; above the service time with prefetch above 1"
    return queue.unacked * share / acked, (
        f"guessed: exponential; mean = unacked {_rounded(queue.unacked * share)} / ack rate "
        f"{_rounded(acked)}/s (Little's law on {queue.unacked_samples} samples{upper})"
    )


def consumer_pools(snapshot: Snapshot, topology: Topology, traffic: list[QueueTraffic]) -> Section:
    """One pool per queue and (prefetch, ack mode) of the consumers attached at the end."""
    by_name = {queue.name: queue for queue in traffic}
    sac = {
        str(item.fields["name"])
        for item in topology.queues.items
        if item.fields.get("single_active_consumer")
    }
    groups = _groups(snapshot)
    section = Section()
    for group, replicas in sorted(
        groups.items(), key=lambda pair: (pair[0].queue, pair[0].prefetch)
    ):
        if group.queue not in by_name:
            continue
        same_queue = sum(n for g, n in groups.items() if g.queue == group.queue)
        share = replicas / same_queue
        mean, note = _service(group, replicas, share, by_name[group.queue], group.queue in sac)
        item = Item()
        mode = "" if group.manual else "-auto-ack"
        suffix = "" if replicas == same_queue else f"-prefetch-{group.prefetch}{mode}"
        item.put("name", f"{group.queue}-consumers{suffix}")
        item.put("queue", group.queue)
        item.put("replicas", replicas, "measured: consumers attached at import")
        item.put("prefetch", group.prefetch)
        if not group.manual:
            item.put("ack", "auto")
        item.put("concurrency", 1, "guessed: one message at a time per consumer")
        item.put("service_time", {"dist": "exponential", "mean": seconds(mean)}, note)
        section.items.append(item)
    return section
