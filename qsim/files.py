"""Reading the files a user hands qsim (scenarios, traces, empirical samples, fit inputs).

Only regular files are read, up to :data:`MAX_FILE_BYTES` (``QSIM_MAX_FILE_BYTES`` raises it):
a device such as ``/dev/zero`` would exhaust memory and a named pipe with no writer would
block for ever, so both are refused before they are opened.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from qsim.spec import fail

T = TypeVar("T")

MAX_FILE_BYTES = 256 * 1024**2
"""The largest input file read by default (256 MiB: some 15 million trace lines)."""
LIMIT_VARIABLE = "QSIM_MAX_FILE_BYTES"


def file_limit() -> int:
    """The size limit in bytes: ``$QSIM_MAX_FILE_BYTES`` when set to a whole number, else
    :data:`MAX_FILE_BYTES`."""
    text = os.environ.get(LIMIT_VARIABLE, "").strip()
    return int(text) if text.isdigit() else MAX_FILE_BYTES


def _size(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")


def input_problem(path: Path) -> str | None:
    """Why ``path`` must not be read (not a regular file, or too large), or None. A missing or
    unreadable file is left to ``open``, whose own error is clearer."""
    try:
        info = path.stat()
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file (qsim reads files, not devices, pipes or folders)"
    limit = file_limit()
    if info.st_size > limit:
        return (
            f"{_size(info.st_size)}, above the {_size(limit)} limit for input files "
            f"(set {LIMIT_VARIABLE} to raise it)"
        )
    return None


def read_text_file(path: Path, read: Callable[[Path], T]) -> T:
    """``read(path)``, with an unreadable, non-regular, oversized or non-UTF-8 file reported
    as a validation error."""
    problem = input_problem(path)
    if problem is not None:
        raise fail(f"cannot read {path}: {problem}")
    try:
        return read(path)
    except OSError as exc:
        raise fail(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise fail(f"cannot read {path}: not UTF-8 text (byte {exc.start})") from None
