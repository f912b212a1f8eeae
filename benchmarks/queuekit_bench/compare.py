"""``--compare``: which figures got worse than an older run by more than the measured noise.

Where a figure has a ratio to the raw client, the ratio is compared: machine load moves
queuekit and the raw client together, so the ratio is far steadier than a rate on a
shared machine. Otherwise the figure itself is compared.

A change counts as a regression when it is worse by more than the tolerance:
``max(5 %, noise_old + noise_new)``, where a run's noise is its relative half-range
(see :class:`queuekit_bench.stats.Summary`). A guarantee kept before and broken now is
always a regression.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from queuekit_bench.report.data import num, ok_backends
from queuekit_bench.report.matrix import KEPT, VIOLATED, guarantees
from queuekit_bench.report.terminal import format_table

FLOOR = 0.05


@dataclass(frozen=True)
class Finding:
    """One compared figure (or guarantee) of one backend."""

    backend: str
    figure: str  # "scenario/key" or "guarantee/name"
    basis: str  # "ratio", "absolute" or "guarantee"
    old: float | str
    new: float | str
    change: float  # relative, positive = better
    tolerance: float
    regression: bool

    @property
    def improvement(self) -> bool:
        """Better by more than the tolerance."""
        return self.basis != "guarantee" and self.change > self.tolerance


def _noise(node: dict[str, Any]) -> float:
    value = node.get("noise", 0.0)
    return float(value) if isinstance(value, (int, float)) else 0.0


def _compare_figure(backend: str, label: str, old: dict[str, Any], new: dict[str, Any]) -> Finding | None:
    if old.get("ratio") and new.get("ratio"):
        basis, before, after, higher = "ratio", old["ratio"], new["ratio"], True
    else:
        basis, before, after, higher = "absolute", old, new, old.get("better", "higher") == "higher"
    a, b = before.get("median"), after.get("median")
    if not isinstance(a, (int, float)) or not isinstance(b, (int, float)) or a == 0:
        return None
    change = (b - a) / abs(a) if higher else (a - b) / abs(a)
    tolerance = max(FLOOR, _noise(before) + _noise(after))
    return Finding(backend, label, basis, float(a), float(b), change, tolerance, change < -tolerance)


def _figures(entry: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, result in entry.get("scenarios", {}).items():
        if isinstance(result, dict) and result.get("status") == "ok":
            for key, fig in (result.get("figures") or {}).items():
                if isinstance(fig, dict):
                    out[f"{name}/{key}"] = fig
    return out


def compare(old: dict[str, Any], new: dict[str, Any]) -> list[Finding]:
    """Every figure and guarantee present in both runs for the same backend name."""
    before = {e["name"]: e for e in ok_backends(old)}
    findings: list[Finding] = []
    for entry in ok_backends(new):
        previous = before.get(entry["name"])
        if previous is None:
            continue
        old_figs, new_figs = _figures(previous), _figures(entry)
        for label in sorted(set(old_figs) & set(new_figs)):
            found = _compare_figure(entry["name"], label, old_figs[label], new_figs[label])
            if found is not None:
                findings.append(found)
        old_cells, new_cells = guarantees(previous), guarantees(entry)
        for column, cell in new_cells.items():
            was = old_cells[column]
            if was.verdict == KEPT and cell.verdict == VIOLATED:
                findings.append(Finding(entry["name"], f"guarantee/{column}", "guarantee", was.measured,
                                        cell.measured, -1.0, 0.0, True))
    return findings


def render_comparison(findings: list[Finding]) -> str:
    """Regressions and improvements as a table, with a count of unchanged figures."""
    shown = [f for f in findings if f.regression or f.improvement]
    steady = len(findings) - len(shown)
    if not findings:
        return "compare: no figure is present in both runs for the same backend"
    rows = [[f.backend, f.figure, f.basis, _value(f.old), _value(f.new),
             f"{f.change * 100:+.0f}%" if f.basis != "guarantee" else "broken",
             f"±{f.tolerance * 100:.0f}%", "REGRESSION" if f.regression else "improved"] for f in shown]
    head = f"compare: {sum(f.regression for f in findings)} regression(s), " \
           f"{sum(f.improvement for f in findings)} improvement(s), {steady} within noise"
    if not rows:
        return head
    return head + "\n" + format_table(["backend", "figure", "basis", "old", "new", "change", "noise", "verdict"],
                                      rows)


def _value(value: float | str) -> str:
    return num(value) if isinstance(value, float) else value
