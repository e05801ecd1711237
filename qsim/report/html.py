"""A report :class:`~qsim.report.document.Document` as one self-contained HTML page.

Styles are inline, static plots are embedded as base64 PNGs, and interactive charts are drawn by
plotly.js, inlined once per page from the ``plotly`` package (MIT; hover values, zoom, click a
legend entry to hide or show a series), so the file opens from disk with no network access and
can be mailed on its own; the viewport meta and a fluid layout make it readable on a phone.
Plotly was chosen over Bokeh and Vega-Lite because one file (plotly.min.js) carries everything,
its figures are plain JSON that Python writes without plotly's own Python API, and hover, zoom
and legend toggling work with no code of ours. Each block type has its renderer in
:data:`RENDERERS`.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from functools import cache
from html import escape
from importlib import resources
from pathlib import Path
from typing import Any

from qsim.report.document import (
    Bullets,
    Chart,
    Code,
    Document,
    Image,
    Paragraph,
    Section,
    Table,
    Verdicts,
)

__all__ = ["RENDERERS", "plotly_js", "render_html"]

CSS = """
:root { color-scheme: light; --ink: #1d2329; --muted: #5b6670; --line: #d9dee3; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: var(--ink); background: #fff; }
main { max-width: 62rem; margin: 0 auto; padding: 1rem 1.25rem 3rem; }
h1 { font-size: 1.6rem; margin: 0.5rem 0 0.2rem; }
h2 { font-size: 1.25rem; margin-top: 2rem; padding-bottom: 0.2rem;
     border-bottom: 1px solid var(--line); }
.sub, .note, figcaption { color: var(--muted); }
.note, figcaption { font-size: 0.9rem; }
nav ol { padding-left: 1.2rem; margin: 0.5rem 0; columns: 2 14rem; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: 0.5rem 0; font-variant-numeric: tabular-nums; }
th, td { padding: 0.3rem 0.7rem; border-bottom: 1px solid var(--line); text-align: left;
         vertical-align: top; }
th { background: #f3f5f7; }
td.met { color: #1a6e2e; font-weight: 600; }
td.missed { color: #b3261e; font-weight: 600; }
td.undecided { color: #8a5a00; font-weight: 600; }
figure { margin: 1rem 0 1.5rem; }
img { max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 4px; }
pre { background: #f3f5f7; padding: 0.75rem; border-radius: 4px; overflow-x: auto;
      white-space: pre-wrap; word-break: break-all; }
.verdicts { display: grid; gap: 0.6rem; margin: 0.8rem 0; }
.verdict { border: 1px solid var(--line); border-left: 6px solid var(--muted);
           border-radius: 6px; padding: 0.6rem 0.9rem; background: #fafbfc; }
.verdict .state { font-weight: 700; text-transform: uppercase; font-size: 0.8rem;
                  letter-spacing: 0.04em; }
.verdict .headline { font-size: 1.1rem; font-weight: 600; margin: 0.1rem 0; }
.verdict .detail { color: var(--muted); font-size: 0.95rem; }
.verdict.met { border-left-color: #1a6e2e; } .verdict.met .state { color: #1a6e2e; }
.verdict.missed { border-left-color: #b3261e; } .verdict.missed .state { color: #b3261e; }
.verdict.undecided { border-left-color: #8a5a00; } .verdict.undecided .state { color: #8a5a00; }
.verdict.info { border-left-color: #1f5fa8; } .verdict.info .state { color: #1f5fa8; }
.why { margin: 0.6rem 0 0; }
.chart { width: 100%; min-height: 300px; }
@media (max-width: 40rem) { body { font-size: 15px; } main { padding: 0.75rem; }
  th, td { padding: 0.25rem 0.4rem; } }
@media print { nav { display: none; } h2 { break-after: avoid; } figure { break-inside: avoid; } }
"""
VERDICTS = {"met", "missed", "undecided"}


def _anchor(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def _paragraph(block: Paragraph, _folder: Path) -> str:
    return f"<p>{escape(block.text)}</p>"


def _bullets(block: Bullets, _folder: Path) -> str:
    return "<ul>" + "".join(f"<li>{escape(item)}</li>" for item in block.items) + "</ul>"


def _cell(text: str) -> str:
    css = f' class="{text}"' if text in VERDICTS else ""
    return f"<td{css}>{escape(text)}</td>"


def _table(block: Table, _folder: Path) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in block.header)
    body = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in block.rows)
    note = f'<p class="note">{escape(block.note)}</p>' if block.note else ""
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    return f'<div class="scroll">{table}</div>{note}'


def _image(block: Image, folder: Path) -> str:
    data = base64.b64encode((folder / f"{block.name}.png").read_bytes()).decode("ascii")
    caption = f"<strong>{escape(block.title)}.</strong> {escape(block.caption)}"
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{escape(block.title)}">'
        f"<figcaption>{caption} ({escape(block.name)}.svg and .png in this folder)"
        "</figcaption></figure>"
    )


def _verdicts(block: Verdicts, _folder: Path) -> str:
    items = "".join(
        f'<div class="verdict {_state_class(v.state)}" data-state="{escape(v.state)}">'
        f'<div class="state">{escape(v.state)}</div>'
        f'<div class="headline">{escape(v.headline)}</div>'
        + (f'<div class="detail">{escape(v.detail)}</div>' if v.detail else "")
        + "</div>"
        for v in block.items
    )
    why = f'<p class="why">{escape(block.why)}</p>' if block.why else ""
    return f'<div class="verdicts">{items}</div>{why}'


def _state_class(state: str) -> str:
    return state if state in VERDICTS else "info"


def _chart(block: Chart, _folder: Path) -> str:
    figure = json.dumps(block.figure, separators=(",", ":"), allow_nan=False)
    figure = figure.replace("</", "<\\/")  # a "</script>" inside a string ends no script
    element = f"chart-{_anchor(block.name)}"
    caption = f"<strong>{escape(block.title)}.</strong> {escape(block.caption)}"
    return (
        f'<figure><div class="chart" id="{element}" data-chart="{escape(block.name)}"></div>'
        f"<figcaption>{caption}</figcaption></figure>"
        f"<script>(function(){{var f={figure};"
        f'Plotly.newPlot("{element}",f.data,f.layout,'
        '{responsive:true,displaylogo:false,modeBarButtonsToRemove:["toImage"]});})();</script>'
    )


@cache
def plotly_js() -> str:
    """plotly.js (minified) from the ``plotly`` package, to inline once per page."""
    return (resources.files("plotly") / "package_data" / "plotly.min.js").read_text("utf-8")


def _code(block: Code, _folder: Path) -> str:
    return f"<pre><code>{escape(block.text)}</code></pre>"


RENDERERS: dict[type, Callable[[Any, Path], str]] = {
    Paragraph: _paragraph,
    Bullets: _bullets,
    Table: _table,
    Image: _image,
    Code: _code,
    Chart: _chart,
    Verdicts: _verdicts,
}
"""Block type -> its HTML."""


def _section(section: Section, folder: Path) -> str:
    blocks = "\n".join(RENDERERS[type(block)](block, folder) for block in section.blocks)
    heading = f"<h2>{escape(section.title)}</h2>"
    return f'<section id="{_anchor(section.title)}">{heading}\n{blocks}</section>'


def render_html(document: Document, folder: Path) -> str:
    """The page for ``document``; images are read from ``folder`` and embedded."""
    toc = "".join(
        f'<li><a href="#{_anchor(s.title)}">{escape(s.title)}</a></li>' for s in document.sections
    )
    sections = "\n".join(_section(section, folder) for section in document.sections)
    charts = any(isinstance(b, Chart) for s in document.sections for b in s.blocks)
    script = f"<script>{plotly_js()}</script>" if charts else ""
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(document.title)}</title>
<style>{CSS}</style>
{script}
</head>
<body>
<main>
<header><h1>{escape(document.title)}</h1><p class="sub">{escape(document.subtitle)}</p></header>
<nav><ol>{toc}</ol></nav>
{sections}
</main>
</body>
</html>
"""
