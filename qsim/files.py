"""Reading the data files a scenario refers to (traces, empirical samples), with clear errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from qsim.spec import fail

T = TypeVar("T")


def read_text_file(path: Path, read: Callable[[Path], T]) -> T:
    """``read(path)``, with an unreadable or non-UTF-8 file reported as a validation error."""
    try:
        return read(path)
    except OSError as exc:
        raise fail(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise fail(f"cannot read {path}: not UTF-8 text (byte {exc.start})") from None
