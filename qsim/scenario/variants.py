"""Variants: a scenario file's ``variants:`` section, contenders that differ by overrides.

A scenario file may carry a top-level ``variants:`` list, each a ``name`` and ``overrides`` by
dotted path, where list items are addressed by their ``name``::

    variants:
      - name: fixed-12
        overrides: {consumers.delivery-service.replicas: 12}
      - name: autoscaled
        overrides:
          consumers.delivery-service.scaling: {policy: queue_length, target: 50, min: 2, max: 30}

Overrides apply to the raw YAML data; each variant is then validated like any scenario, so its
errors are located one-line :class:`ScenarioError` naming the variant. An override to ``null``
removes the key (its default applies), so a variant can drop what another broker refuses, e.g.
a RabbitMQ pool's ``prefetch`` when the variant makes its queue ``type: kafka``::

      - name: on-kafka
        overrides:
          queues.events.type: kafka
          queues.events.partitions: 8
          consumers.workers.prefetch: null ``qsim run`` simulates
the base scenario (the file without its variants), ``qsim compare`` runs the variants, and
``qsim validate`` checks both.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qsim.errors import ScenarioError, format_path, known_hint
from qsim.scenario.load import parse_scenario
from qsim.scenario.model import Scenario
from qsim.yamlsource import YamlSource, load_yaml

__all__ = ["OverrideError", "Variant", "apply_override", "load_variants"]

KeyPath = tuple[str | int, ...]
VARIANT_KEYS = ("name", "overrides")


@dataclass(frozen=True)
class Variant:
    """One contender: a name and its validated scenario."""

    name: str
    scenario: Scenario


class OverrideError(Exception):
    """An override path that does not lead anywhere in the data (message only)."""


def _step_list(node: list[Any], parts: Sequence[str]) -> tuple[int, int]:
    """Index of the item of ``node`` named by the longest prefix of ``parts`` (names may contain
    dots, like ``orders.dead-letter``), and how many parts that name took."""
    names = [item.get("name") if isinstance(item, dict) else None for item in node]
    for taken in range(len(parts), 0, -1):
        candidate = ".".join(parts[:taken])
        if candidate in names:
            return names.index(candidate), taken
    raise OverrideError(
        f"no item named {parts[0]!r}{known_hint(parts[0], [str(n) for n in names])}"
    )


def _resolve(data: Any, dotted: str) -> tuple[Any, str | int, KeyPath]:
    """The container and key that ``dotted`` sets in ``data``, and its full key path."""
    parts = dotted.split(".")
    node, path = data, KeyPath()
    while True:
        if isinstance(node, list):
            index, taken = _step_list(node, parts)
            key: str | int = index
        elif isinstance(node, dict):
            key, taken = parts[0], 1
            if len(parts) > 1 and key not in node:
                raise OverrideError(
                    f"no key {key!r} to go into{known_hint(key, list(map(str, node)))}"
                )
        else:
            raise OverrideError(f"{format_path(path)} is a single value, not a section")
        parts, path = parts[taken:], (*path, key)
        if not parts:
            return node, key, path
        node = node[key]


def apply_override(data: Any, dotted: str, value: Any) -> KeyPath:
    """Set ``dotted`` (e.g. ``consumers.delivery-service.replicas``) in ``data`` to ``value``,
    or remove it when ``value`` is None (a key not there stays absent); return the key path it
    set. Raises :class:`OverrideError` for a path that leads nowhere."""
    if not dotted or "" in dotted.split("."):
        raise OverrideError("an override path is keys joined by dots")
    container, key, path = _resolve(data, dotted)
    if value is None:
        if isinstance(container, dict):
            container.pop(key, None)
        else:
            del container[key]
    else:
        container[key] = copy.deepcopy(value)
    return path


def _check_variant(source: YamlSource, index: int, item: Any, seen: set[str]) -> None:
    """Check the shape of ``variants[index]``: ``{name: text, overrides: {path: value}}``."""
    where = ("variants", index)
    if not isinstance(item, dict):
        raise source.error(where, "expected {name: ..., overrides: {path: value}}")
    for key in item:
        if key not in VARIANT_KEYS:
            raise source.error((*where, key), f"unknown key{known_hint(str(key), VARIANT_KEYS)}")
    name = item.get("name")
    if not isinstance(name, str) or not name:
        raise source.error((*where, "name"), "expected a non-empty name")
    if name in seen:
        raise source.error((*where, "name"), f"duplicate variant name {name!r}")
    seen.add(name)
    overrides = item.get("overrides", {})
    if not isinstance(overrides, dict) or not all(isinstance(k, str) for k in overrides):
        raise source.error((*where, "overrides"), "expected a mapping of dotted paths to values")


def _split_variants(source: YamlSource) -> tuple[YamlSource, list[Any]]:
    """The base scenario without ``variants:``, and the checked variant entries."""
    data = source.data
    if not isinstance(data, dict) or "variants" not in data:
        return source, []
    entries = data["variants"]
    if not isinstance(entries, list):
        raise source.error(("variants",), "expected a list of {name: ..., overrides: {...}}")
    seen: set[str] = set()
    for index, item in enumerate(entries):
        _check_variant(source, index, item, seen)
    base = {key: value for key, value in data.items() if key != "variants"}
    return YamlSource(source.file, base, source.lines), entries


def _variant_error(
    source: YamlSource, index: int, name: str, where: KeyPath, path: str, message: str
) -> ScenarioError:
    """A one-line error at the override's line that names the variant and the path."""
    line = source.line_of(("variants", index, "overrides", *where))
    return ScenarioError(source.file, line, (), f"variant {name!r}: {path}: {message}")


def _related(a: KeyPath, b: KeyPath) -> bool:
    """Whether one key path lies inside the other."""
    shorter = min(len(a), len(b))
    return a[:shorter] == b[:shorter]


def _build_variant(base: YamlSource, index: int, entry: dict[str, Any], base_dir: Path) -> Variant:
    """Apply ``entry``'s overrides to a copy of the base data and validate the result."""
    name, data = entry["name"], copy.deepcopy(base.data)
    touched: dict[KeyPath, str] = {}
    for dotted, value in (entry.get("overrides") or {}).items():
        try:
            touched[apply_override(data, dotted, value)] = dotted
        except OverrideError as exc:
            raise _variant_error(base, index, name, (dotted,), dotted, str(exc)) from None
    try:
        return Variant(name, parse_scenario(YamlSource(base.file, data, base.lines), base_dir))
    except ScenarioError as exc:
        dotted = next((d for p, d in touched.items() if _related(p, exc.path)), None)
        where = (dotted,) if dotted else ()
        raise _variant_error(base, index, name, where, format_path(exc.path), exc.message) from None


def load_variants(path: str | Path) -> tuple[Scenario, list[Variant]]:
    """The base scenario of file ``path`` and its validated ``variants:`` (maybe none)."""
    base, entries = _split_variants(load_yaml(path))
    base_dir = Path(path).parent
    scenario = parse_scenario(base, base_dir)
    variants = [_build_variant(base, i, entry, base_dir) for i, entry in enumerate(entries)]
    return scenario, variants
