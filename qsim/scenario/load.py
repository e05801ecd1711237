"""Loading: YAML text -> validated :class:`Scenario`, every error located by file, line and key."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from qsim.errors import ScenarioError
from qsim.scenario.model import Scenario, check_scenario
from qsim.yamlsource import YamlSource

__all__ = ["load_scenario", "parse_scenario", "with_overrides"]


def _data_path(data: Any, loc: Sequence[str | int]) -> tuple[str | int, ...]:
    """Drop the parts of a pydantic error location that are not keys of the data (union tags)."""
    path: list[str | int] = []
    node = data
    for part in loc:
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if not (in_dict or in_list):
            continue  # a union tag or model name, not a key of the file
        node = node[part]
        path.append(part)
    return tuple(path)


def _first_error(error: ValidationError, source: YamlSource) -> ScenarioError:
    details = error.errors()
    # a failed item also makes its tuple "too short": report the item, not the tuple
    specific = [d for d in details if d["type"] != "too_short"] or details
    located = []
    for detail in specific:
        path = _data_path(source.data, detail["loc"])
        ctx = detail.get("ctx") or {}
        message = ctx.get("detail", detail["msg"])
        if "key" in ctx:
            path = (*path, ctx["key"])
        path = (*path, *ctx.get("at", ()))
        if detail["type"] == "missing":
            message = "missing required key"
            path = (*path, detail["loc"][-1])
        located.append(source.error(path, message))
    return min(located, key=lambda e: e.line or 0)


def parse_scenario(source: YamlSource, base_dir: Path | str = ".") -> Scenario:
    """Validate loaded YAML into a :class:`Scenario`; errors are located :class:`ScenarioError`."""
    try:
        scenario = Scenario.model_validate(source.data, context={"base_dir": str(base_dir)})
    except ValidationError as exc:
        raise _first_error(exc, source) from None
    check_scenario(scenario, source)
    return scenario


def load_scenario(path: str | Path) -> Scenario:
    """Load and validate a scenario file. Relative file references resolve next to it. A file
    with ``variants:`` gives its base scenario, once every variant has been validated too."""
    from qsim.scenario.variants import load_variants  # variants build on parse_scenario

    return load_variants(path)[0]


def with_overrides(scenario: Scenario, **changes: Any) -> Scenario:
    """A copy of ``scenario`` with top-level values replaced (None leaves a value as it is)."""
    update = {key: value for key, value in changes.items() if value is not None}
    changed = scenario.model_copy(update=update)
    warmup = 0.0 if changed.auto_warmup else changed.fixed_warmup
    if warmup >= changed.duration:
        raise ScenarioError(
            "command line", None, ("duration",),
            f"must be longer than the warm-up ({warmup:g}s), got {changed.duration:g}s",
        )  # fmt: skip
    return changed
