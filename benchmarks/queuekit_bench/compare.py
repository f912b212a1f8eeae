"""``--compare``: which figures got worse than an older run by more than the run-to-run noise.

Where a figure has a ratio to the raw client, the ratio is compared: machine load moves
queuekit and the raw client together, so the ratio is far steadier than a rate on a
shared machine. Otherwise the figure itself is compared.

A change counts as a regression only when both hold:

* the per-run samples say so: a one-sided Mann-Whitney U test (:func:`stats.rank_test`)
  on the old and new runs gives p <= ``ALPHA``. With 3 runs a side this means every new
  run is worse than every old one; with 2 or fewer a side no change can be told from noise;
* the medians differ by more than the tolerance, the largest of ``FLOOR``, the two runs'
  own spread (their relative ranges added: twice :attr:`stats.Summary.noise` each) and the *drift* between
  the two runs: ``DRIFT_FACTOR`` times the median change of every figure compared. Load
  from other work moves every figure of a run at once; a figure that moved several times
  more than all the others did is what a change of code looks like.

Latency maxima (one job per run) are shown but never judged. A guarantee kept before and
broken now is always a regression.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from queuekit_bench.report.data import num, ok_backends
from queuekit_bench.report.matrix import KEPT, VIOLATED, guarantees
from queuekit_bench.report.terminal import format_table
from queuekit_bench.stats import median, rank_test, smallest_p

FLOOR = 0.10
ALPHA = 0.05
DRIFT_FACTOR = 3.0


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
    p_worse: float = 0.0  # rank test: chance that runs this much worse come from the old distribution
    p_better: float = 1.0
    decidable: bool = True  # enough runs a side for the rank test to reach ALPHA

    @property
    def improvement(self) -> bool:
        """Better by more than the tolerance, and the rank test agrees."""
        return self.basis != "guarantee" and self.change > self.tolerance and self.p_better <= ALPHA


def _noise(node: dict[str, Any]) -> float:
    value = node.get("noise", 0.0)
    return float(value) if isinstance(value, (int, float)) else 0.0


def _samples(node: dict[str, Any]) -> list[float]:
    found = node.get("samples")
    if not isinstance(found, list):
        return []
    return [float(v) for v in found if isinstance(v, (int, float))]


def _compare_figure(backend: str, label: str, old: dict[str, Any], new: dict[str, Any],
                    drift: float = 0.0) -> Finding | None:
    if old.get("ratio") and new.get("ratio"):
        basis, before, after, higher = "ratio", old["ratio"], new["ratio"], True
    else:
        basis, before, after, higher = "absolute", old, new, old.get("better", "higher") == "higher"
    a, b = before.get("median"), after.get("median")
    if not isinstance(a, (int, float)) or not isinstance(b, (int, float)) or a == 0:
        return None
    change = (b - a) / abs(a) if higher else (a - b) / abs(a)
    tolerance = max(FLOOR, 2.0 * (_noise(before) + _noise(after)), drift)  # the two runs' full ranges
    runs_a, runs_b = _samples(before) or [float(a)], _samples(after) or [float(b)]
    lower_new = (runs_b, runs_a) if higher else (runs_a, runs_b)  # (worse side, better side) if it regressed
    p_worse = rank_test(*lower_new)
    p_better = rank_test(*reversed(lower_new))
    decidable = smallest_p(len(runs_a), len(runs_b)) <= ALPHA
    judged = not label.endswith("_max")  # one job's time per run: shown, never a verdict
    regression = judged and change < -tolerance and p_worse <= ALPHA
    return Finding(backend, label, basis, float(a), float(b), change, tolerance, regression, p_worse, p_better,
                   decidable)


def _basis_medians(old: dict[str, Any], new: dict[str, Any]) -> tuple[Any, Any]:
    """The two medians a figure is compared on (its ratios' when both runs have one)."""
    if old.get("ratio") and new.get("ratio"):
        return old["ratio"].get("median"), new["ratio"].get("median")
    return old.get("median"), new.get("median")


def drift(medians: list[tuple[Any, Any]]) -> float:
    """How far the whole run moved: ``DRIFT_FACTOR`` x the median relative change over every figure.

    Changes are taken as ``|log(new / old)|`` so that halving and doubling weigh the same,
    and returned as a relative change (0.5 = 50 %).
    """
    logs = [abs(math.log(b / a)) for a, b in medians
            if isinstance(a, (int, float)) and isinstance(b, (int, float)) and a > 0 and b > 0]
    if not logs:
        return 0.0
    return math.exp(DRIFT_FACTOR * median(logs)) - 1.0


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
    pairs: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = []
    for entry in ok_backends(new):
        previous = before.get(entry["name"])
        if previous is None:
            continue
        old_figs, new_figs = _figures(previous), _figures(entry)
        for label in sorted(set(old_figs) & set(new_figs)):
            pairs.append((entry["name"], label, old_figs[label], new_figs[label]))
    tolerance = drift([(_basis_medians(o, n)) for _, _, o, n in pairs])
    for name, label, old_fig, new_fig in pairs:
        found = _compare_figure(name, label, old_fig, new_fig, tolerance)
        if found is not None:
            findings.append(found)
    for entry in ok_backends(new):
        previous = before.get(entry["name"])
        if previous is None:
            continue
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
    if not findings:
        return "compare: no figure is present in both runs for the same backend"
    undecidable = sum(1 for f in findings if not f.decidable)
    steady = len(findings) - len(shown)
    head = (f"compare: {sum(f.regression for f in findings)} regression(s), "
            f"{sum(f.improvement for f in findings)} improvement(s), {steady} within noise "
            f"(a regression: worse by more than max({FLOOR:.0%}, the two runs' ranges added, {DRIFT_FACTOR:.0f}x the "
            f"median change of all figures) with a rank test p <= {ALPHA})")
    if undecidable:
        head += f"; {undecidable} figure(s) have too few runs to tell (use --repeats 3 or more)"
    if not shown:
        return head
    rows = [[f.backend, f.figure, f.basis, _value(f.old), _value(f.new),
             f"{f.change * 100:+.0f}%" if f.basis != "guarantee" else "broken",
             f"±{f.tolerance * 100:.0f}%", _p(f), "REGRESSION" if f.regression else "improved"] for f in shown]
    return head + "\n" + format_table(
        ["backend", "figure", "basis", "old", "new", "change", "noise", "p", "verdict"], rows)


def _p(finding: Finding) -> str:
    if finding.basis == "guarantee":
        return "-"
    return f"{finding.p_worse if finding.regression else finding.p_better:.3f}"


def _value(value: float | str) -> str:
    return num(value) if isinstance(value, float) else value
