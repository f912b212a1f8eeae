"""A figure: repeated measurements of one quantity, its raw-client twin, and their ratio.

JSON form (see docs/benchmarking.md, "results.json")::

    {"unit": "jobs/s", "better": "higher", "samples": [...], "median": .., "min": .., "max": ..,
     "runs": n, "noise": ..,
     "raw": {"client": "redis-py 5.0", "samples": [...], "median": .., ...} | null,
     "ratio": {"samples": [...], "median": .., ...} | null}
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from queuekit_bench.stats import Better, paired_ratios, summarize

Figure = dict[str, Any]


def figure(
    samples: Sequence[float],
    unit: str,
    better: Better,
    raw: Sequence[float] | None = None,
    client: str | None = None,
) -> Figure:
    """Summarize runs (and the raw client's runs beside them) into one figure."""
    out: Figure = {"unit": unit, "better": better, "samples": list(samples), **summarize(samples).as_dict(),
                   "raw": None, "ratio": None}
    if raw:
        out["raw"] = {"client": client, "samples": list(raw), **summarize(raw).as_dict()}
        ratios = paired_ratios(samples, raw, better)
        if ratios:
            out["ratio"] = {"samples": ratios, **summarize(ratios).as_dict()}
    return out


def measure(
    repeats: int,
    ours: Callable[[int], float],
    raw: Callable[[int], float] | None = None,
) -> tuple[list[float], list[float]]:
    """Run queuekit and the raw client alternately, ``repeats`` times each (run index passed in).

    Alternating pairs each queuekit run with a raw run made moments apart, so a change
    in machine load hits both and their ratio stays meaningful.
    """
    mine: list[float] = []
    theirs: list[float] = []
    for index in range(repeats):
        mine.append(ours(index))
        if raw is not None:
            theirs.append(raw(index))
    return mine, theirs


def median_of(fig: Figure | None, part: str | None = None) -> float | None:
    """The median of a figure, or of its ``raw``/``ratio`` part; None when absent."""
    if not fig:
        return None
    node = fig if part is None else fig.get(part)
    if not node:
        return None
    value = node.get("median")
    return float(value) if isinstance(value, (int, float)) else None
