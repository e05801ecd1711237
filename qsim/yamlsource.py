"""Safe YAML loading that remembers the line of every key and list item.

Only ``yaml.SafeLoader`` constructs values, so a scenario never builds Python objects.
Duplicate keys in one mapping are an error (plain ``safe_load`` would keep the last silently).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from qsim.errors import ScenarioError

__all__ = ["YamlSource", "load_yaml"]

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class YamlSource:
    """Parsed YAML data with the line (1-based) where each key path starts."""

    file: str
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)

    def line_of(self, path: Path_) -> int | None:
        """Line of the deepest prefix of ``path`` that the file spells out."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return None

    def error(self, path: Path_, message: str) -> ScenarioError:
        """A located :class:`ScenarioError` for ``path``."""
        return ScenarioError(self.file, self.line_of(path), path, message)


def _record_lines(node: yaml.Node, path: Path_, lines: dict[Path_, int], file: str) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[object] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            child = (*path, key)
            if key in seen:
                line = key_node.start_mark.line + 1
                raise ScenarioError(file, line, child, "duplicate key")
            seen.add(key)
            lines[child] = key_node.start_mark.line + 1
            _record_lines(value_node, child, lines, file)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = (*path, index)
            lines[child] = item.start_mark.line + 1
            _record_lines(item, child, lines, file)


def load_yaml(path: str | Path, text: str | None = None) -> YamlSource:
    """Load ``path`` (or ``text`` attributed to it) safely, with line numbers."""
    file = str(path)
    if text is None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ScenarioError(file, None, (), f"cannot read file: {exc.strerror}") from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise ScenarioError(file, None, (), "the file is empty")
        lines: dict[Path_, int] = {(): node.start_mark.line + 1}
        _record_lines(node, (), lines, file)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark else None
        raise ScenarioError(file, line, (), f"invalid YAML: {exc.problem}") from None
    finally:
        loader.dispose()
    return YamlSource(file=file, data=data, lines=lines)
