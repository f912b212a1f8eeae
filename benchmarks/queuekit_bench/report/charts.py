"""The report's plots, drawn from a results document."""

from __future__ import annotations

import itertools
from typing import Any

from queuekit_bench.report.data import Entry, fig, ok_backends, scenario
from queuekit_bench.report.svg import PALETTE, Bar, Point, Series, bar_chart, line_chart

THROUGHPUT = (("enqueue", "single", "enqueue 1 by 1"), ("enqueue", "batch", "enqueue in batches"),
              ("drain", "workers_1", "drain, 1 worker"))


def _point(x: float, found: dict[str, Any] | None) -> Point | None:
    if not found or not isinstance(found.get("median"), (int, float)):
        return None
    return Point(x, float(found["median"]), found.get("min"), found.get("max"))


def throughput(entries: list[Entry]) -> str:
    """Throughput per backend, each bar beside its raw client's (faint)."""
    groups = []
    for index, entry in enumerate(entries):
        color = PALETTE[index % len(PALETTE)]
        bars = []
        for name, key, label in THROUGHPUT:
            found = fig(entry, name, key)
            if not found:
                continue
            bars.append(Bar(label, found["median"], found["min"], found["max"], color))
            raw = found.get("raw")
            if raw:
                bars.append(Bar("  raw client", raw["median"], raw["min"], raw["max"], color, faint=True))
        if bars:
            groups.append((entry["name"], bars))
    return bar_chart("Throughput beside the raw client (faint bars), jobs/s", groups, unit="jobs/s (log scale)")


def drain(entries: list[Entry]) -> str:
    """Drain rate against the number of worker processes."""
    series = []
    for index, entry in enumerate(entries):
        found = scenario(entry, "drain")
        points = [p for w in (found or {}).get("workers", [])
                  if (p := _point(float(w), fig(entry, "drain", f"workers_{w}"))) is not None]
        if points:
            series.append(Series(entry["name"], points, PALETTE[index % len(PALETTE)]))
    return line_chart("Drain rate by worker processes", series, x_label="worker processes",
                      y_label="jobs/s", log_y=True)


def latency(entries: list[Entry]) -> str:
    """Latency distribution: share of jobs started (solid) and finished (dashed) within x ms."""
    series = []
    for index, entry in enumerate(entries):
        found = scenario(entry, "latency")
        curve = (found or {}).get("curve", {})
        color = PALETTE[index % len(PALETTE)]
        for key, suffix, dashed in (("start_ms", "started", False), ("done_ms", "finished", True)):
            values = curve.get(key) or []
            if values:
                step = 100.0 / (len(values) - 1) if len(values) > 1 else 100.0
                points = [Point(max(v, 0.01), i * step) for i, v in enumerate(values)]
                series.append(Series(f"{entry['name']} {suffix}", points, color, dashed))
    return line_chart("Latency distribution (share of jobs within x ms of enqueue)", series,
                      x_label="milliseconds after the enqueue call (log scale)", y_label="% of jobs",
                      log_x=True)


def _scaled(entries: list[Entry], name: str, title: str, x_label: str, y_label: str, log_y: bool = True) -> str:
    series = []
    for index, entry in enumerate(entries):
        found = scenario(entry, name)
        figures = (found or {}).get("figures", {})
        color = PALETTE[index % len(PALETTE)]
        ours = [p for k in sorted(figures, key=float) if (p := _point(float(k), figures[k])) is not None]
        raws = [p for k in sorted(figures, key=float) if (p := _point(float(k), figures[k].get("raw"))) is not None]
        if ours:
            series.append(Series(entry["name"], ours, color))
        if raws:
            series.append(Series(f"{entry['name']} raw client", raws, color, dashed=True))
    return line_chart(title, series, x_label=x_label, y_label=y_label, log_x=True, log_y=log_y)


def soak(entries: list[Entry], key: str) -> str:
    """The soak over time: jobs/s between consecutive samples (``key="rate"``) or the worker's RSS (``"rss_mb"``)."""
    series = []
    for index, entry in enumerate(entries):
        samples = (scenario(entry, "soak") or {}).get("samples") or []
        if key == "rate":
            points = [Point(b["t"], (b["completed"] - a["completed"]) / (b["t"] - a["t"]))
                      for a, b in itertools.pairwise(samples) if b["t"] > a["t"]]
        else:
            points = [Point(x["t"], x[key]) for x in samples]
        if points:
            series.append(Series(entry["name"], points, PALETTE[index % len(PALETTE)]))
    if key == "rate":
        return line_chart("Soak: jobs/s of one worker over time (each point: one sampling interval)", series,
                          x_label="seconds into the soak", y_label="jobs/s")
    return line_chart("Soak: the worker's resident memory over time", series,
                      x_label="seconds into the soak", y_label="RSS, MiB")


def charts(document: dict[str, Any]) -> dict[str, str]:
    """Every plot, by file name (without .svg); the soak's only when a soak ran."""
    entries = ok_backends(document)
    drawn = {
        "throughput": throughput(entries),
        "drain": drain(entries),
        "latency": latency(entries),
        "backlog": _scaled(entries, "backlog", "Reserve+ack cost against backlog depth (dashed: raw client)",
                           "jobs waiting (log scale)", "microseconds per job"),
        "payload": _scaled(entries, "payload", "Jobs/s by message size, each enqueued, reserved and acked "
                           "one at a time (dashed: raw client)", "argument bytes (log scale)", "jobs/s"),
    }
    if any(scenario(entry, "soak") for entry in entries):
        drawn.update(soak_rate=soak(entries, "rate"), soak_rss=soak(entries, "rss_mb"))
    return drawn
