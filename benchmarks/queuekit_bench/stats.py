"""Percentiles, medians with spread, and paired ratios: the arithmetic behind every figure."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Better = Literal["higher", "lower"]


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) by linear interpolation between closest ranks.

    This is the "inclusive" definition (numpy's default, ``statistics.quantiles`` with
    ``method='inclusive'``): p0 is the minimum, p100 the maximum.
    """
    if not values:
        raise ValueError("percentile of an empty sample")
    return _ranked(sorted(values), q)


def _ranked(ordered: Sequence[float], q: float) -> float:
    """:func:`percentile` of an already sorted, non-empty sample (sort once, ask many times)."""
    if not 0.0 <= q <= 100.0 or math.isnan(q):
        raise ValueError(f"percentile must be within 0..100, got {q}")
    position = (len(ordered) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    fraction = position - low
    if fraction == 0.0 or ordered[low] == ordered[high]:
        return float(ordered[low])
    return float(ordered[low] + (ordered[high] - ordered[low]) * fraction)


def median(values: Sequence[float]) -> float:
    """The median (p50)."""
    return percentile(values, 50.0)


def latency_summary(values_ms: Sequence[float]) -> dict[str, float | int]:
    """count, p50, p90, p99, max and mean of a latency sample in milliseconds."""
    if not values_ms:
        return {"count": 0}
    ordered = sorted(values_ms)
    return {
        "count": len(values_ms),
        "p50": _ranked(ordered, 50),
        "p90": _ranked(ordered, 90),
        "p99": _ranked(ordered, 99),
        "max": float(ordered[-1]),
        "mean": sum(values_ms) / len(values_ms),
    }


def quantile_curve(values: Sequence[float], points: int = 51) -> list[float]:
    """``points`` evenly spaced percentiles (p0 .. p100), for plotting a distribution."""
    if not values:
        return []
    if points < 2:
        raise ValueError("a quantile curve needs at least 2 points")
    ordered = sorted(values)  # once, not once per point: 51 sorts of 20k samples took ~300 ms
    return [_ranked(ordered, 100.0 * i / (points - 1)) for i in range(points)]


@dataclass(frozen=True)
class Summary:
    """The median of repeated runs with its spread.

    ``noise`` is the half-range relative to the median, (max - min) / (2 * median):
    how far one run may stray from the median on this machine, used by ``--compare``.
    """

    median: float
    low: float
    high: float
    count: int

    @property
    def noise(self) -> float:
        """Relative half-range; 0 for a single run or a zero median."""
        if self.count < 2 or self.median == 0:
            return 0.0
        return (self.high - self.low) / (2.0 * abs(self.median))

    def as_dict(self) -> dict[str, float | int]:
        """JSON form."""
        return {"median": self.median, "min": self.low, "max": self.high, "runs": self.count,
                "noise": self.noise}


def summarize(samples: Sequence[float]) -> Summary:
    """Median, minimum and maximum of repeated measurements."""
    if not samples:
        raise ValueError("cannot summarize zero runs")
    return Summary(median(samples), float(min(samples)), float(max(samples)), len(samples))


def paired_ratios(measured: Sequence[float], raw: Sequence[float], better: Better) -> list[float]:
    """Per-run ratio of queuekit to the raw client, oriented so that 1.0 is the raw limit.

    For rates (higher is better) it is queuekit / raw; for costs (lower is better)
    raw / queuekit. Either way a ratio of 0.25 reads "a quarter of the raw client's speed".
    Runs are paired in order (each queuekit run beside the raw run made next to it).
    """
    if len(measured) != len(raw):
        raise ValueError(f"cannot pair {len(measured)} runs with {len(raw)} raw runs")
    ratios = []
    for ours, theirs in zip(measured, raw, strict=True):
        numerator, denominator = (ours, theirs) if better == "higher" else (theirs, ours)
        ratios.append(numerator / denominator if denominator > 0 else math.nan)
    return [r for r in ratios if not math.isnan(r)]


def rate(count: int, seconds: float) -> float:
    """Items per second; infinite durations give 0, zero durations are clamped to 1 ns."""
    if seconds == math.inf:
        return 0.0
    return count / max(seconds, 1e-9)


EXACT_LIMIT = 20_000  # splits of the pooled sample enumerated for an exact rank test


def _mid_ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks, tied values sharing the mean of their ranks."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for position in range(start, end + 1):
            ranks[order[position]] = (start + end) / 2.0 + 1.0
        start = end + 1
    return ranks


def rank_test(lower: Sequence[float], higher: Sequence[float]) -> float:
    """One-sided Mann-Whitney U test: the p-value that ``higher`` tends to exceed ``lower`` by chance.

    Small samples are tested exactly, every split of the pooled values being enumerated
    (ties at mid-rank); large ones by the normal approximation with tie and continuity
    corrections. With 3 runs a side the smallest possible p-value is 1/20 = 0.05, reached
    only when every run of ``higher`` exceeds every run of ``lower``.
    """
    n, m = len(lower), len(higher)
    if n == 0 or m == 0:
        raise ValueError("a rank test needs at least one value on each side")
    pooled = [*lower, *higher]
    ranks = _mid_ranks(pooled)
    offset = m * (m + 1) / 2.0
    observed = sum(ranks[n:]) - offset  # U of ``higher``: pairs where it is greater, ties counting half
    if math.comb(n + m, m) <= EXACT_LIMIT:
        total = at_least = 0
        for chosen in itertools.combinations(ranks, m):
            total += 1
            if sum(chosen) - offset >= observed - 1e-9:
                at_least += 1
        return at_least / total
    size = n + m
    ties = sum(t**3 - t for t in _tie_sizes(pooled))
    variance = n * m / 12.0 * ((size + 1) - ties / (size * (size - 1)))
    if variance <= 0:
        return 1.0
    z = (observed - n * m / 2.0 - 0.5) / math.sqrt(variance)
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def smallest_p(n: int, m: int) -> float:
    """The smallest p-value :func:`rank_test` can give with ``n`` and ``m`` values (exact range)."""
    return 1.0 / math.comb(n + m, m) if n and m else 1.0


def _tie_sizes(values: Sequence[float]) -> list[int]:
    counts: dict[float, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return [c for c in counts.values() if c > 1]
