"""A report :class:`~qsim.report.document.Document` as Markdown (GitHub flavour), with its
plots linked as the PNG files beside it. Each block type has its renderer in :data:`RENDERERS`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from qsim.report.document import (
    Bullets,
    Chart,
    Code,
    Document,
    Image,
    Paragraph,
    Table,
    Verdicts,
)

__all__ = ["RENDERERS", "render_markdown"]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(block: Table) -> str:
    lines = [
        "| " + " | ".join(_cell(h) or " " for h in block.header) + " |",
        "|" + "|".join("---" for _ in block.header) + "|",
    ]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in block.rows]
    if block.note:
        lines += ["", f"_{block.note}_"]
    return "\n".join(lines)


def _image(block: Image) -> str:
    return f"![{block.title}]({block.name}.png)\n\n_{block.title}. {block.caption}_"


def _chart(block: Chart) -> str:
    """The static plots that show what the interactive chart does (PNG beside the report)."""
    images = [f"![{name}]({name}.png)" for name in block.fallback]
    text = f"_{block.title}. {block.caption}_"
    if not images:
        return f"{text} (interactive in report.html)"
    return "\n\n".join([*images, text + " Interactive in report.html."])


def _verdicts(block: Verdicts) -> str:
    lines = [
        f"- **{v.state.upper()}**: {v.headline}" + (f" ({v.detail})" if v.detail else "")
        for v in block.items
    ]
    return "\n".join(lines) + (f"\n\n{block.why}" if block.why else "")


RENDERERS: dict[type, Callable[[Any], str]] = {
    Paragraph: lambda block: block.text,
    Bullets: lambda block: "\n".join(f"- {item}" for item in block.items),
    Table: _table,
    Image: _image,
    Code: lambda block: f"```sh\n{block.text}\n```",
    Chart: _chart,
    Verdicts: _verdicts,
}
"""Block type -> its Markdown."""


def render_markdown(document: Document) -> str:
    """The Markdown text of ``document``."""
    parts = [f"# {document.title}", f"_{document.subtitle}_"]
    for section in document.sections:
        parts.append(f"## {section.title}")
        parts += [RENDERERS[type(block)](block) for block in section.blocks]
    return "\n\n".join(parts) + "\n"
