"""report.md: the sections as Markdown, plots linked from plots/."""

from __future__ import annotations

from typing import Any

from queuekit_bench.report.sections import Bullets, Plot, Section, Table


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table(t: Table) -> str:
    """A GitHub-flavoured Markdown table."""
    if not t.rows:
        return "_no data in this run_"
    head = "| " + " | ".join(_cell(h) for h in t.headers) + " |"
    rule = "|" + "|".join("---" for _ in t.headers) + "|"
    body = ["| " + " | ".join(_cell(c) for c in r) + " |" for r in t.rows]
    return "\n".join([head, rule, *body])


def render_markdown(document: dict[str, Any], sections: list[Section], plots: dict[str, str]) -> str:
    """The whole report; ``plots`` maps plot names to relative file paths."""
    out = [f"# queuekit bench report ({document.get('started')})", ""]
    for section in sections:
        out += [f"## {section.title}", ""]
        for block in section.blocks:
            if isinstance(block, Table):
                out.append(table(block))
            elif isinstance(block, Plot):
                if block.name in plots:
                    out.append(f"![{block.name}]({plots[block.name]})")
            elif isinstance(block, Bullets):
                out += [f"- {item}" for item in block.items]
            else:
                out.append(block)
            out.append("")
    return "\n".join(out)
