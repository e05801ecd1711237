"""Units inside scenario strings: durations, rates and sizes.

A bare number is in the base unit (seconds, messages per second, bytes).
Parsers raise :class:`UnitError` with a message that says what was expected.
"""

from __future__ import annotations

import math
import re

__all__ = ["UnitError", "parse_duration", "parse_rate", "parse_size"]

DURATION_UNITS: dict[str, float] = {
    "us": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "min": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}
RATE_UNITS: dict[str, float] = {"s": 1.0, "m": 1 / 60, "min": 1 / 60, "h": 1 / 3600, "d": 1 / 86400}
SIZE_UNITS: dict[str, float] = {"B": 1.0, "KB": 1024.0, "MB": 1024.0**2, "GB": 1024.0**3}

_NUMBER = r"(?P<number>[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"
_DURATION_RE = re.compile(rf"^{_NUMBER}\s*(?P<unit>[a-z]+)$")
_RATE_RE = re.compile(rf"^{_NUMBER}\s*/\s*(?P<unit>[a-z]+)$")
_SIZE_RE = re.compile(rf"^{_NUMBER}\s*(?P<unit>[A-Za-z]+)$")


class UnitError(ValueError):
    """A value that is not a valid quantity of the expected kind."""


def _bare_number(value: object) -> float | None:
    """The value as a finite float if it is a plain number (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _parse(value: object, pattern: re.Pattern[str], units: dict[str, float], what: str) -> float:
    number = _bare_number(value)
    if number is None and isinstance(value, str):
        match = pattern.match(value.strip())
        if match and match["unit"] in units:
            number = float(match["number"]) * units[match["unit"]]
    if number is None or number < 0:
        raise UnitError(f"expected {what}, got {value!r}")
    return number


def parse_duration(value: object) -> float:
    """Seconds from ``250ms``, ``2s``, ``5m``, ``1h``, ``1d`` or a bare number of seconds."""
    return _parse(value, _DURATION_RE, DURATION_UNITS, "a duration such as 250ms, 2s, 5m or 1h")


def parse_rate(value: object) -> float:
    """Messages per second from ``50/s``, ``3000/min``, ``120/h`` or a bare number per second."""
    return _parse(value, _RATE_RE, RATE_UNITS, "a rate such as 50/s, 3000/min or 120/h")


def parse_size(value: object) -> float:
    """Bytes from ``512B``, ``4KB``, ``1MB``, ``1GB`` (powers of 1024) or a bare number of bytes."""
    return _parse(value, _SIZE_RE, SIZE_UNITS, "a size such as 512B, 4KB or 1MB")
