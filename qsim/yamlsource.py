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
from qsim.files import input_problem

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


MAX_VALUES = 1_000_000
"""The most values a file may expand to through aliases (a guard against alias bombs)."""


class _LineRecorder:
    """Walks the node tree once, recording the line of each key and item.

    A node reached again through an alias is not walked again: its size is remembered, so a
    file whose aliases would expand to millions of values is refused in linear time, and an
    alias that contains itself is refused outright.
    """

    def __init__(self, file: str) -> None:
        self.file = file
        self.lines: dict[Path_, int] = {}
        self._sizes: dict[int, int] = {}
        self._open: set[int] = set()

    def _fail(self, node: yaml.Node, path: Path_, message: str) -> ScenarioError:
        return ScenarioError(self.file, node.start_mark.line + 1, path, message)

    def walk(self, node: yaml.Node, path: Path_ = ()) -> int:
        """Record lines below ``node``; return how many values it expands to."""
        key = id(node)
        if key in self._open:
            raise self._fail(node, path, "a YAML alias refers to a node that contains it")
        if key in self._sizes:
            return self._sizes[key]
        self._open.add(key)
        size = 1 + sum(
            self.walk(child, child_path) for child, child_path in self._children(node, path)
        )
        self._open.discard(key)
        if size > MAX_VALUES:
            raise self._fail(
                node, path, f"expands to more than {MAX_VALUES:,} values through aliases"
            )
        self._sizes[key] = size
        return size

    def _children(self, node: yaml.Node, path: Path_) -> list[tuple[yaml.Node, Path_]]:
        children: list[tuple[yaml.Node, Path_]] = []
        if isinstance(node, yaml.MappingNode):
            seen: set[object] = set()
            for key_node, value_node in node.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
                child = (*path, key)
                if key in seen:
                    raise self._fail(key_node, child, "duplicate key")
                seen.add(key)
                self.lines.setdefault(child, key_node.start_mark.line + 1)
                children.append((value_node, child))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                child = (*path, index)
                self.lines.setdefault(child, item.start_mark.line + 1)
                children.append((item, child))
        return children


def load_yaml(path: str | Path, text: str | None = None) -> YamlSource:
    """Load ``path`` (or ``text`` attributed to it) safely, with line numbers."""
    file = str(path)
    if text is None:
        problem = input_problem(Path(path))
        if problem is not None:
            raise ScenarioError(file, None, (), f"cannot read file: {problem}")
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ScenarioError(file, None, (), f"cannot read file: {exc.strerror}") from None
        except UnicodeDecodeError as exc:
            raise ScenarioError(file, None, (), f"not UTF-8 text (byte {exc.start})") from None
    try:
        return _parse(file, text)
    except RecursionError:
        raise ScenarioError(file, None, (), "invalid YAML: nested too deeply") from None
    except yaml.YAMLError as exc:  # reader errors (control characters) carry no mark
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ScenarioError(file, None, (), f"invalid YAML: {problem}") from None
    except (ValueError, OverflowError) as exc:  # a value YAML cannot build (a bad date, say)
        raise ScenarioError(file, None, (), f"invalid YAML value: {exc}") from None


def _parse(file: str, text: str) -> YamlSource:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise ScenarioError(file, None, (), "the file is empty")
        recorder = _LineRecorder(file)
        recorder.lines[()] = node.start_mark.line + 1
        recorder.walk(node)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or ""
        if "another document" in problem:
            problem = "invalid YAML: a scenario is a single document, found a second one"
        else:
            problem = f"invalid YAML: {problem}"
        raise ScenarioError(file, line, (), problem) from None
    finally:
        loader.dispose()
    return YamlSource(file=file, data=data, lines=recorder.lines)
