"""Hand-written SVG charts (no plotting library): line charts and grouped horizontal bars.

Each function returns one standalone ``<svg>`` element that works inline in HTML and as a
``.svg`` file. Axes may be logarithmic, because rates of different brokers (and of the
raw clients beside them) span several orders of magnitude.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#8C6D1F", "#000000")
FONT = 'font-family="system-ui, sans-serif" font-size="12"'


@dataclass(frozen=True)
class Point:
    """One plotted value, with an optional spread (min and max of the runs)."""

    x: float
    y: float
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class Series:
    """A named line; ``dashed`` marks a raw-client baseline."""

    label: str
    points: Sequence[Point]
    color: str = PALETTE[0]
    dashed: bool = False


@dataclass(frozen=True)
class Bar:
    """One bar of a group; ``faint`` marks a raw-client baseline."""

    label: str
    value: float
    low: float | None = None
    high: float | None = None
    color: str = PALETTE[0]
    faint: bool = False


@dataclass
class Axis:
    """Maps data values to pixels, linearly or logarithmically."""

    low: float
    high: float
    start: float
    end: float
    log: bool = False
    ticks: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.log:
            self.low, self.high = max(self.low, 1e-12), max(self.high, self.low * 10)
            self.low = 10 ** math.floor(math.log10(self.low))
            self.high = 10 ** math.ceil(math.log10(self.high))
            self.ticks = _log_ticks(self.low, self.high)
        else:
            self.low = min(self.low, 0.0)
            step = _nice_step((self.high - self.low) / 5 if self.high > self.low else 1.0)
            self.high = math.ceil(self.high / step) * step if self.high > 0 else step
            self.ticks = [self.low + i * step for i in range(round((self.high - self.low) / step) + 1)]

    def __call__(self, value: float) -> float:
        if self.log:
            value = max(value, self.low)
            share = (math.log10(value) - math.log10(self.low)) / (math.log10(self.high) - math.log10(self.low))
        else:
            share = (value - self.low) / ((self.high - self.low) or 1.0)
        return self.start + share * (self.end - self.start)


def _nice_step(raw: float) -> float:
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * power:
            return float(factor * power)
    return float(10 * power)


def _log_ticks(low: float, high: float) -> list[float]:
    first, last = round(math.log10(low)), round(math.log10(high))
    ticks = [10.0**k for k in range(first, last + 1)]
    if last - first <= 2:
        ticks += [m * 10.0**k for k in range(first, last) for m in (2, 5)]
    return sorted(ticks)


def tick_label(value: float) -> str:
    """Short axis labels: 2k, 1.5M, 0.01."""
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:g}{suffix}"
    return f"{value:g}"


def _frame(width: int, height: int, title: str, body: list[str]) -> str:
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
            f'height="{height}" role="img" aria-label="{escape(title)}" {FONT}>')
    heading = (f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="14" font-weight="600">'
               f'{escape(title)}</text>')
    return "\n".join([head, f'<rect width="{width}" height="{height}" fill="white"/>', heading, *body, "</svg>"])


def _legend(entries: list[tuple[str, str, bool]], x: float, y: float) -> list[str]:
    out = []
    for index, (label, color, dashed) in enumerate(entries):
        top = y + index * 18
        dash = ' stroke-dasharray="5 3"' if dashed else ""
        out.append(f'<line x1="{x}" y1="{top}" x2="{x + 22}" y2="{top}" stroke="{color}" stroke-width="2.5"{dash}/>')
        out.append(f'<text x="{x + 28}" y="{top + 4}">{escape(label)}</text>')
    return out


def line_chart(title: str, series: Sequence[Series], *, x_label: str, y_label: str,
               log_x: bool = False, log_y: bool = False, width: int = 760, height: int = 380) -> str:
    """Lines with markers and min-max whiskers; the legend sits on the right."""
    points = [p for s in series for p in s.points]
    if not points:
        return _frame(width, 80, title, ['<text x="20" y="55">no data in this run</text>'])
    left, right, top, bottom = 70, width - 200, 40, height - 50
    ys = [v for p in points for v in (p.y, p.low, p.high) if v is not None and (v > 0 or not log_y)]
    xa = Axis(min(p.x for p in points), max(p.x for p in points), left, right, log_x)
    ya = Axis(min(ys, default=0.0), max(ys, default=1.0), bottom, top, log_y)
    body = _axes(xa, ya, left, right, top, bottom, x_label, y_label)
    for s in series:
        path = " ".join(f"{xa(p.x):.1f},{ya(p.y):.1f}" for p in s.points if p.y > 0 or not log_y)
        dash = ' stroke-dasharray="5 3"' if s.dashed else ""
        body.append(f'<polyline points="{path}" fill="none" stroke="{s.color}" stroke-width="2"{dash}/>')
        marker = 3 if len(s.points) <= 20 else 1.5
        for p in s.points:
            if log_y and p.y <= 0:
                continue
            if p.low is not None and p.high is not None:
                body.append(f'<line x1="{xa(p.x):.1f}" y1="{ya(p.low):.1f}" x2="{xa(p.x):.1f}" '
                            f'y2="{ya(p.high):.1f}" stroke="{s.color}" stroke-width="1"/>')
            body.append(f'<circle cx="{xa(p.x):.1f}" cy="{ya(p.y):.1f}" r="{marker}" fill="{s.color}">'
                        f'<title>{escape(s.label)}: {tick_label(p.x)} -> {p.y:.4g}</title></circle>')
    body += _legend([(s.label, s.color, s.dashed) for s in series], right + 20, top + 10)
    return _frame(width, height, title, body)


def _axes(xa: Axis, ya: Axis, left: float, right: float, top: float, bottom: float,
          x_label: str, y_label: str) -> list[str]:
    out = [f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#333"/>',
           f'<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" stroke="#333"/>']
    for tick in xa.ticks:
        x = xa(tick)
        out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{bottom}" stroke="#eee"/>')
        out.append(f'<text x="{x:.1f}" y="{bottom + 16}" text-anchor="middle">{tick_label(tick)}</text>')
    for tick in ya.ticks:
        y = ya(tick)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" stroke="#eee"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{tick_label(tick)}</text>')
    out.append(f'<text x="{(left + right) / 2}" y="{bottom + 36}" text-anchor="middle">{escape(x_label)}</text>')
    out.append(f'<text x="16" y="{(top + bottom) / 2}" text-anchor="middle" '
               f'transform="rotate(-90 16 {(top + bottom) / 2})">{escape(y_label)}</text>')
    return out


def bar_chart(title: str, groups: Sequence[tuple[str, Sequence[Bar]]], *, unit: str, log: bool = True,
              width: int = 760) -> str:
    """Horizontal bars grouped by backend, min-max whiskers, value labels; faint bars are baselines."""
    bars = [b for _, members in groups for b in members if b.value > 0 or not log]
    if not bars:
        return _frame(width, 80, title, ['<text x="20" y="55">no data in this run</text>'])
    left, right, top = 200, width - 90, 40
    row, gap = 16, 14
    height = top + sum(len(m) * row + gap for _, m in groups) + 50
    values = [v for b in bars for v in (b.value, b.low, b.high) if v is not None and (v > 0 or not log)]
    xa = Axis(min(values), max(values), left, right, log)
    bottom = height - 40
    body = _axes(xa, Axis(0, 1, bottom, top), left, right, top, bottom, unit, "")[:2]
    for tick in xa.ticks:
        x = xa(tick)
        body.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{bottom}" stroke="#eee"/>')
        body.append(f'<text x="{x:.1f}" y="{bottom + 16}" text-anchor="middle">{tick_label(tick)}</text>')
    body.append(f'<text x="{(left + right) / 2}" y="{bottom + 34}" text-anchor="middle">{escape(unit)}</text>')
    y = float(top + 4)
    for group, members in groups:
        body.append(f'<text x="8" y="{y + 12}" font-weight="600">{escape(group)}</text>')
        for b in members:
            body += _bar(b, xa, left, y, row)
            y += row
        y += gap
    return _frame(width, height, title, body)


def _bar(b: Bar, xa: Axis, left: float, y: float, row: float) -> list[str]:
    end = xa(b.value) if b.value > 0 or not xa.log else left
    opacity = "0.4" if b.faint else "0.9"
    out = [f'<text x="{left - 6}" y="{y + row - 5}" text-anchor="end" fill="#444">{escape(b.label)}</text>',
           f'<rect x="{left}" y="{y + 2}" width="{max(end - left, 1):.1f}" height="{row - 4}" fill="{b.color}" '
           f'fill-opacity="{opacity}"><title>{escape(b.label)}: {b.value:.4g}</title></rect>']
    if b.low is not None and b.high is not None and b.low > 0:
        mid = y + row / 2
        out.append(f'<line x1="{xa(b.low):.1f}" y1="{mid}" x2="{xa(b.high):.1f}" y2="{mid}" stroke="#222"/>')
    out.append(f'<text x="{end + 4:.1f}" y="{y + row - 5}" fill="#222">{tick_label(float(f"{b.value:.3g}"))}</text>')
    return out
