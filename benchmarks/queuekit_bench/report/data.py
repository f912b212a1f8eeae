"""Reading figures out of a results document, and formatting numbers for people."""

from __future__ import annotations

import math
from typing import Any

Entry = dict[str, Any]


def ok_backends(document: dict[str, Any]) -> list[Entry]:
    """Backends that ran (status ok)."""
    return [b for b in document.get("backends", []) if b.get("status") == "ok"]


def not_run(document: dict[str, Any]) -> list[Entry]:
    """Backends skipped or failed, with their reasons."""
    return [b for b in document.get("backends", []) if b.get("status") != "ok"]


def scenario(entry: Entry, name: str) -> dict[str, Any] | None:
    """A scenario's results when it ran to the end."""
    found = entry.get("scenarios", {}).get(name)
    return found if isinstance(found, dict) and found.get("status") == "ok" else None


def fig(entry: Entry, name: str, key: str) -> dict[str, Any] | None:
    """One figure of one scenario, or None."""
    found = scenario(entry, name)
    figures = found.get("figures") if found else None
    value = figures.get(key) if isinstance(figures, dict) else None
    return value if isinstance(value, dict) else None


def med(entry: Entry, name: str, key: str, part: str | None = None) -> float | None:
    """The median of a figure (or of its ``raw`` / ``ratio`` part)."""
    found = fig(entry, name, key)
    node = found if part is None or found is None else found.get(part)
    value = node.get("median") if isinstance(node, dict) else None
    return float(value) if isinstance(value, (int, float)) and not math.isnan(value) else None


def num(value: float | None, digits: int = 3) -> str:
    """A number with about ``digits`` significant digits and thousands separators; '-' for None."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    decimals = max(digits - 1 - magnitude, 0)
    return f"{value:,.{decimals}f}"


def pct(ratio: float | None) -> str:
    """A ratio to the raw client as a percentage ('-' when there is none)."""
    return "-" if ratio is None else f"{ratio * 100:.0f}%"


def with_spread(found: dict[str, Any] | None) -> str:
    """``median (min-max)`` of a figure."""
    if not found:
        return "-"
    return f"{num(found.get('median'))} ({num(found.get('min'))}-{num(found.get('max'))})"


def load_text(environment: dict[str, Any]) -> str:
    """The 1, 5 and 15-minute load averages as ``1.42 1.10 0.95`` ('unknown' when not recorded)."""
    load = environment.get("load_average")
    if not isinstance(load, list) or not all(isinstance(v, (int, float)) for v in load):
        return "unknown"
    return " ".join(f"{v:.2f}" for v in load)


def count(value: Any) -> str:
    """An integer count, or '-' when missing."""
    return str(int(value)) if isinstance(value, (int, float)) else "-"
