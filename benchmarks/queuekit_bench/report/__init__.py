"""Report files: results.json, report.md, index.html (self-contained) and plots/*.svg."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from queuekit_bench.report.charts import charts
from queuekit_bench.report.html import render_html
from queuekit_bench.report.markdown import render_markdown
from queuekit_bench.report.sections import build_sections


def write_report(document: dict[str, Any], out: Path) -> list[Path]:
    """Write every report file into ``out``; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    plots = out / "plots"
    plots.mkdir(exist_ok=True)
    results = out / "results.json"
    results.write_text(json.dumps(document, indent=1, sort_keys=False) + "\n")
    drawn = charts(document)
    for name, svg in drawn.items():
        (plots / f"{name}.svg").write_text(svg)
    sections = build_sections(document)
    markdown = out / "report.md"
    markdown.write_text(render_markdown(document, sections, {name: f"plots/{name}.svg" for name in drawn}))
    html = out / "index.html"
    html.write_text(render_html(document, sections, drawn))
    return [results, markdown, html, plots]
