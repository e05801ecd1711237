"""Queues, exchanges and bindings of a vhost, as scenario sections.

A queue's settings come from its declaration arguments (queues.md "optional arguments") and the
policy in effect (``effective_policy_definition``, parameters.md "policies"): an argument wins
over a policy, except for the length limits and the message TTL, where the lower of the two
applies (maxlength/index.md, ttl.md). Each argument has one mapper in :data:`ARGUMENTS`; an
argument qsim does not model is named in a note rather than dropped silently. A quorum queue
without ``x-delivery-limit`` has none before RabbitMQ 4.0 and 20 from 4.0 on
(quorum-queues/index.md "poison message handling"): the import says which it read.

Exchanges: the default exchange and the built-in ``amq.*`` ones are left out unless something
is bound to them; ``direct``, ``fanout``, ``topic`` and ``x-consistent-hash`` are imported,
other types (``headers``) and exchange-to-exchange bindings are named in a note.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, get_args

from qsim.engine.routing import MATCHERS
from qsim.importer.item import Item, Section
from qsim.importer.snapshot import Snapshot
from qsim.scenario.topology import ExchangeType

__all__ = [
    "ARGUMENTS",
    "EXCHANGE_TYPES",
    "RABBITMQ_QUEUE_TYPES",
    "LeftOut",
    "Topology",
    "read_topology",
    "seconds",
]

EXCHANGE_TYPES: tuple[str, ...] = get_args(ExchangeType)
"""Exchange types a scenario has (:class:`qsim.scenario.topology.Exchange`)."""
RABBITMQ_QUEUE_TYPES = ("classic", "quorum", "stream")
"""The RabbitMQ queue types a scenario has (others, such as MQTT's QoS 0 queues, are not)."""
LOWER_WINS = ("max-length", "max-length-bytes", "message-ttl")
"""Settings where a policy and an argument both apply and the lower one counts."""
_UNITS = {"Y": 365 * 86400, "M": 30 * 86400, "D": 86400, "h": 3600, "m": 60, "s": 1}
"""x-max-age units (streams.md "retention": Y, M, D, h, m, s)."""


def _plain(number: float) -> str:
    """``number`` without an exponent or trailing zeros (``31536000``, ``42.19``)."""
    return f"{number:f}".rstrip("0").rstrip(".")


def seconds(value: float) -> str:
    """Seconds as a scenario duration: 4 significant figures in ms below 10 s (``52.3ms``),
    to the millisecond above (``600s``, ``31536000s``)."""
    if value < 10 and not (value == 0 or (value >= 1 and value.is_integer())):
        return f"{_plain(float(f'{value * 1000:.4g}'))}ms"
    return f"{_plain(round(value, 3))}s"


@dataclass(frozen=True)
class Declared:
    """One queue as the broker reports it: name, type, durability and merged settings
    (argument names without ``x-``) with where each came from."""

    name: str
    type: str
    durable: bool
    settings: dict[str, Any]
    origin: dict[str, str]
    version: tuple[int, ...]

    def note(self, key: str) -> str | None:
        """Where setting ``key`` came from, when that is a policy."""
        origin = self.origin.get(key, "argument")
        return None if origin == "argument" else origin


Mapper = Callable[[Declared, Item], None]


class LeftOut(Exception):
    """A setting a mapper cannot write; its message says why (a `not imported` note)."""


def _max_length(queue: Declared, item: Item) -> None:
    if "max-length" in queue.settings:
        item.put("max_length", int(queue.settings["max-length"]), queue.note("max-length"))


def _overflow(queue: Declared, item: Item) -> None:
    if "overflow" in queue.settings:
        item.put("overflow", str(queue.settings["overflow"]), queue.note("overflow"))


def _ttl(queue: Declared, item: Item) -> None:
    if "message-ttl" in queue.settings:
        ttl = float(queue.settings["message-ttl"]) / 1000
        item.put("message_ttl", seconds(ttl), queue.note("message-ttl"))


def _priority(queue: Declared, item: Item) -> None:
    if "max-priority" in queue.settings:
        item.put("max_priority", int(queue.settings["max-priority"]))


def _delivery_limit(queue: Declared, item: Item) -> None:
    if queue.type != "quorum":
        return
    if "delivery-limit" in queue.settings:
        item.put(
            "delivery_limit", int(queue.settings["delivery-limit"]), queue.note("delivery-limit")
        )
    elif queue.version < (4,):
        item.put("delivery_limit", -1, "none set: RabbitMQ before 4.0 has no default limit")
    else:
        item.put("delivery_limit", 20, "none set: RabbitMQ 4.0 and later default to 20")


def _single_active(queue: Declared, item: Item) -> None:
    if queue.settings.get("single-active-consumer"):
        item.put("single_active_consumer", True)


def _max_age(queue: Declared, item: Item) -> None:
    text = str(queue.settings["max-age"])
    number, unit = text[:-1], text[-1:]
    if unit not in _UNITS or not number.isdigit():
        raise LeftOut(f"x-max-age {text!r} (expected a number and one of Y M D h m s)")
    item.put("max_age", seconds(int(number) * _UNITS[unit]), f"x-max-age {text}")


def _stream_bytes(queue: Declared, item: Item) -> None:
    if queue.type != "stream":
        return
    if "max-length-bytes" in queue.settings:
        item.put("max_bytes", int(queue.settings["max-length-bytes"]))
    if "stream-max-segment-size-bytes" in queue.settings:
        item.put("segment_bytes", int(queue.settings["stream-max-segment-size-bytes"]))


ARGUMENTS: dict[str, Mapper] = {
    "max-length": _max_length,
    "overflow": _overflow,
    "message-ttl": _ttl,
    "max-priority": _priority,
    "delivery-limit": _delivery_limit,
    "single-active-consumer": _single_active,
    "max-age": _max_age,
    "max-length-bytes": _stream_bytes,
    "stream-max-segment-size-bytes": _stream_bytes,
    "dead-letter-exchange": lambda queue, item: None,  # needs the exchanges: Topology
    "dead-letter-routing-key": lambda queue, item: None,
    "queue-type": lambda queue, item: None,  # the queue's own type field
}
"""Queue settings (argument names without ``x-``) qsim models -> the mapper that writes them."""


def _version(text: str) -> tuple[int, ...]:
    parts = []
    for part in text.split("."):
        if not part.isdigit():
            break
        parts.append(int(part))
    return tuple(parts) or (4,)


def _declared(raw: dict[str, Any], version: tuple[int, ...]) -> Declared:
    """Merge a queue's arguments over its effective policy (lower wins for limits)."""
    arguments = {k.removeprefix("x-"): v for k, v in (raw.get("arguments") or {}).items()}
    policy = dict(raw.get("effective_policy_definition") or {})
    settings, origin = dict(arguments), dict.fromkeys(arguments, "argument")
    for key, value in policy.items():
        lower = key in LOWER_WINS and key in settings and float(value) < float(settings[key])
        if key not in settings or lower:
            settings[key] = value
            origin[key] = f"from policy {raw.get('policy') or 'in effect'}"
    return Declared(
        name=str(raw["name"]),
        type=str(raw.get("type") or "classic"),
        durable=bool(raw.get("durable", True)),
        settings=settings,
        origin=origin,
        version=version,
    )


@dataclass(frozen=True)
class Binding:
    """A binding from exchange ``source`` to queue ``queue`` with ``key``."""

    source: str
    queue: str
    key: str


@dataclass
class Topology:
    """The vhost's queues and exchanges as scenario sections, and the bindings behind them."""

    queues: Section
    exchanges: Section
    exchange_types: dict[str, str]
    bindings: list[Binding]
    scenario_names: dict[str, str]
    """Broker exchange name -> its scenario name (a queue's name too is kept, the exchange gets
    a suffix: a scenario's queues and exchanges share one namespace)."""

    @property
    def queue_names(self) -> set[str]:
        """The names of the imported queues."""
        return {str(item.fields["name"]) for item in self.queues.items}

    def routes(self, exchange: str) -> list[Binding]:
        """The imported bindings of ``exchange``."""
        return [binding for binding in self.bindings if binding.source == exchange]


def _queue_item(queue: Declared, topology_notes: list[str]) -> Item:
    item = Item()
    item.put("name", queue.name)
    if queue.type != "classic":
        item.put("type", queue.type)
    for key in ARGUMENTS:
        if key in queue.settings or key == "delivery-limit":
            try:
                ARGUMENTS[key](queue, item)
            except LeftOut as reason:
                topology_notes.append(f"queue {queue.name!r}: {reason}")
    if not queue.durable and queue.type == "classic":
        item.put("durable", False)
    ignored = sorted(key for key in queue.settings if key not in ARGUMENTS)
    if queue.type != "stream" and "max-length-bytes" in queue.settings:
        ignored.append("max-length-bytes")
    if ignored:
        names = ", ".join(f"x-{key}" for key in ignored)
        topology_notes.append(f"queue {queue.name!r}: not modelled, left out: {names}")
    return item


def _modelled(queue: Declared, notes: list[str]) -> bool:
    """Whether qsim has the queue's type (RabbitMQ's classic, quorum, stream)."""
    if queue.type in RABBITMQ_QUEUE_TYPES:
        return True
    notes.append(f"queue {queue.name!r} of type {queue.type}: not modelled, left out")
    return False


def read_topology(snapshot: Snapshot) -> Topology:
    """The queues, exchanges and queue bindings of ``snapshot`` as scenario sections."""
    version = _version(snapshot.version)
    queues = Section()
    declared = [_declared(raw, version) for raw in snapshot.section("queues")]
    declared = [queue for queue in declared if _modelled(queue, queues.notes)]
    queues.items = [_queue_item(queue, queues.notes) for queue in declared]
    names = {queue.name for queue in declared}
    exchanges, types, bindings = _exchanges(snapshot, names)
    topology = Topology(queues, exchanges, types, bindings, _renamed(exchanges, names))
    for queue, item in zip(declared, queues.items, strict=True):
        _dead_letter(queue, item, topology, names)
    return topology


def _renamed(exchanges: Section, queues: set[str]) -> dict[str, str]:
    """Each imported exchange's scenario name; one that names a queue too gets ``.exchange``."""
    names = {}
    for item in exchanges.items:
        broker = str(item.fields["name"])
        scenario = f"{broker}.exchange" if broker in queues else broker
        if scenario != broker:
            item.put(
                "name", scenario, f"renamed: broker exchange {broker!r} (a queue has its name)"
            )
        names[broker] = scenario
    return names


def _bound(snapshot: Snapshot, names: set[str]) -> tuple[list[Binding], list[str]]:
    """Queue bindings from named exchanges, and notes on bindings left out."""
    bindings, notes = [], []
    for raw in snapshot.section("bindings"):
        source = str(raw["source"])
        if not source:
            continue  # the default exchange's implicit binding of every queue
        if raw.get("destination_type") != "queue" or raw["destination"] not in names:
            kind = raw.get("destination_type", "?")
            notes.append(f"binding {source!r} -> {kind} {raw['destination']!r}: not modelled")
            continue
        bindings.append(Binding(source, str(raw["destination"]), str(raw["routing_key"])))
    return bindings, notes


def _exchanges(
    snapshot: Snapshot, names: set[str]
) -> tuple[Section, dict[str, str], list[Binding]]:
    bound, notes = _bound(snapshot, names)
    section, types, kept = Section(notes=notes), {}, []
    for raw in snapshot.section("exchanges"):
        name, kind = str(raw["name"]), str(raw["type"])
        mine = [binding for binding in bound if binding.source == name]
        if not name or (name.startswith("amq.") and not mine and not _publishes(raw)):
            continue
        if kind not in EXCHANGE_TYPES:
            section.notes.append(f"exchange {name!r} of type {kind}: not modelled, left out")
            continue
        item = Item()
        item.put("name", name)
        if kind != "direct":
            item.put("type", kind)
        item.put("bindings", [{"queue": b.queue, "key": b.key} for b in mine])
        section.items.append(item)
        types[name] = kind
        kept += mine
    return section, types, kept


def _publishes(raw: dict[str, Any]) -> bool:
    rate = (raw.get("message_stats") or {}).get("publish_in_details") or {}
    return bool(rate.get("avg_rate") or rate.get("rate"))


def _dead_letter(queue: Declared, item: Item, topology: Topology, names: set[str]) -> None:
    """x-dead-letter-exchange (+ routing key) -> the one queue it reaches, if there is one."""
    if "dead-letter-exchange" not in queue.settings:
        return
    exchange = str(queue.settings["dead-letter-exchange"])
    key = queue.settings.get("dead-letter-routing-key")
    if not exchange:
        target = str(key) if key is not None else None
        if target in names:
            item.put("dead_letter", target, queue.note("dead-letter-exchange"))
            return
    else:
        targets = _reached(topology, exchange, None if key is None else str(key))
        if len(targets) == 1:
            note = f"via exchange {exchange!r}, the one queue it routes dead letters to"
            item.put("dead_letter", targets[0], note)
            return
    topology.queues.notes.append(
        f"queue {queue.name!r}: dead letters to exchange {exchange!r} key {key!r} reach no "
        "single queue: left out"
    )


def _reached(topology: Topology, exchange: str, key: str | None) -> list[str]:
    """The queues ``exchange`` routes ``key`` to (any bound queue when the key is the
    message's own, unknown here, and there is just one)."""
    bindings = topology.routes(exchange)
    kind = topology.exchange_types.get(exchange)
    if key is None or kind not in MATCHERS:
        return sorted({binding.queue for binding in bindings})
    return sorted({b.queue for b in bindings if MATCHERS[kind](b.key)(key)})
