"""index.html: one self-contained file (inline SVG and CSS, no scripts, no external links)."""

from __future__ import annotations

import re
from html import escape
from typing import Any

from queuekit_bench.report.sections import Bullets, Plot, Section, Table

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; padding: 0 1rem; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.85rem; }
th, td { border: 1px solid #ddd; padding: 0.25rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } tr:nth-child(even) td { background: #fafafa; }
.kept { color: #09692e; } .VIOLATED { color: #b00020; font-weight: 600; } .muted { color: #777; }
figure { margin: 1rem 0; } svg { max-width: 100%; height: auto; }
"""

_BOLD = re.compile(r"\*\*(.+?)\*\*")
_CODE = re.compile(r"`(.+?)`")


def inline(text: str) -> str:
    """Escape text, then render the two Markdown marks the sections use (**bold**, `code`)."""
    safe = escape(text)
    return _CODE.sub(r"<code>\1</code>", _BOLD.sub(r"<strong>\1</strong>", safe))


def _cell(text: str) -> str:
    for verdict in ("VIOLATED", "kept"):
        if text.endswith(f": {verdict}"):
            return f'<td class="{verdict}">{inline(text)}</td>'
    if text.endswith(("not promised", "not measured")):
        return f'<td class="muted">{inline(text)}</td>'
    return f"<td>{inline(text)}</td>"


def table(t: Table) -> str:
    """An HTML table."""
    if not t.rows:
        return '<p class="muted">no data in this run</p>'
    head = "".join(f"<th>{inline(h)}</th>" for h in t.headers)
    rows = "".join("<tr>" + "".join(_cell(c) for c in r) + "</tr>" for r in t.rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def render_html(document: dict[str, Any], sections: list[Section], plots: dict[str, str]) -> str:
    """The whole report as one HTML page; ``plots`` maps plot names to SVG text."""
    title = f"queuekit bench report ({document.get('started')})"
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>", f"<h1>{escape(title)}</h1>"]
    for section in sections:
        parts.append(f"<h2>{escape(section.title)}</h2>")
        for block in section.blocks:
            if isinstance(block, Table):
                parts.append(table(block))
            elif isinstance(block, Plot):
                if block.name in plots:
                    parts.append(f"<figure>{plots[block.name]}</figure>")
            elif isinstance(block, Bullets):
                parts.append("<ul>" + "".join(f"<li>{inline(i)}</li>" for i in block.items) + "</ul>")
            else:
                parts.append(f"<p>{inline(block)}</p>")
    parts.append("</body></html>")
    return "\n".join(parts)
