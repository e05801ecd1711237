"""The imported scenario as YAML text: every guessed value carries its note as a comment.

``import_scenario`` reads a snapshot into sections (:mod:`~qsim.importer.topology`,
:mod:`~qsim.importer.traffic`), ``scenario_yaml`` writes them, and the text is validated as
``qsim validate`` would before anyone sees it: an import that does not load is a bug, reported
as one line rather than written.
"""

from __future__ import annotations

from typing import Any

import yaml

from qsim.errors import QsimError
from qsim.importer.item import Item, Section
from qsim.importer.snapshot import Snapshot
from qsim.importer.topology import read_topology, seconds
from qsim.importer.traffic import QueueTraffic, consumer_pools, producers
from qsim.scenario import Scenario
from qsim.scenario.load import parse_scenario
from qsim.yamlsource import load_yaml

__all__ = ["DURATION", "Imported", "import_scenario", "scenario_yaml"]

DURATION = "1h"
"""How long the imported scenario simulates (the broker cannot say: a guess to change)."""

Imported = dict[str, Section]
"""Scenario sections by key (producers, exchanges, queues, consumers)."""


def import_scenario(snapshot: Snapshot, step: float | None = None) -> tuple[str, Scenario]:
    """The scenario ``snapshot`` describes, as commented YAML and validated; with ``step``,
    producers follow the rate history in steps of that many seconds, over one window."""
    if not snapshot.section("queues"):
        raise QsimError(f"vhost {snapshot.vhost!r} has no queues: nothing to import")
    topology = read_topology(snapshot)
    if not topology.queues.items:
        raise QsimError(
            f"vhost {snapshot.vhost!r} has no queue of a type qsim models (classic, quorum, stream)"
        )
    queues = topology.queue_names
    traffic = [QueueTraffic.of(raw) for raw in snapshot.section("queues") if raw["name"] in queues]
    sections = {
        "producers": producers(snapshot, topology, traffic, step),
        "exchanges": topology.exchanges,
        "queues": topology.queues,
        "consumers": consumer_pools(snapshot, topology, traffic),
    }
    if not sections["producers"].items:
        sections["producers"].items.append(_placeholder_producer(topology.queues))
    text = scenario_yaml(snapshot, sections, None if step is None else snapshot.window)
    try:
        scenario = parse_scenario(load_yaml("imported.yaml", text))
    except QsimError as exc:
        raise QsimError(
            f"qsim import wrote a scenario that does not validate (a bug): {exc}"
        ) from None
    return text, scenario


def _placeholder_producer(queues: Section) -> Item:
    item = Item()
    item.put("name", "placeholder-publishers")
    item.put("to", queues.items[0].fields["name"])
    item.put("rate", "1/s", "placeholder: no publishes in the window; a scenario needs a producer")
    return item


def _scalar(value: Any) -> str:
    """``value`` in YAML flow style on one line."""
    return yaml.safe_dump([value], default_flow_style=True, width=1_000_000, sort_keys=False)[1:-2]


def _commented(line: str, note: str | None) -> str:
    return f"{line}  # {note}" if note else line


def _item_lines(item: Item) -> list[str]:
    lines = []
    for i, (key, value) in enumerate(item.fields.items()):
        lead = "  - " if i == 0 else "    "
        note = item.notes.get(key)
        if isinstance(value, list) and value:
            lines.append(_commented(f"{lead}{key}:", note))
            lines += [f"      - {_scalar(element)}" for element in value]
        else:
            lines.append(_commented(f"{lead}{key}: {_scalar(value)}", note))
    return lines


def _header(snapshot: Snapshot) -> list[str]:
    return [
        f"# Imported by qsim import from RabbitMQ {snapshot.version} at {snapshot.source},",
        f"# vhost {snapshot.vhost!r}; rates and lengths averaged over the last "
        f"{snapshot.window:g}s.",
        "# Values marked guessed or placeholder are estimates: check them (qsim fit fits service",
        "# times and arrivals from measurements).",
    ]


def scenario_yaml(snapshot: Snapshot, sections: Imported, duration: float | None = None) -> str:
    """The commented scenario text of ``sections``, named after the vhost, simulating
    ``duration`` seconds (a guess, :data:`DURATION`, when None)."""
    name = "rabbitmq" if snapshot.vhost == "/" else snapshot.vhost
    lines = _header(snapshot)
    lines.append(f"name: {_scalar(name)}")
    if duration is None:
        lines.append(_commented(f"duration: {DURATION}", "guessed: how long to simulate"))
    else:
        note = "the window: each schedule plays once"
        lines.append(_commented(f"duration: {seconds(duration)}", note))
    for key, section in sections.items():
        if not section.items and not section.notes:
            continue
        lines.append("")
        lines += [f"# not imported: {note}" for note in section.notes]
        if section.items:
            lines.append(f"{key}:")
            for item in section.items:
                lines += _item_lines(item)
    return "\n".join(lines) + "\n"
