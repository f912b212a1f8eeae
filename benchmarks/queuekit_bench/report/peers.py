"""The peers scenario and the issue-17 goals in the report: sections for the report files, lines for the terminal."""

from __future__ import annotations

from typing import Any

from queuekit_bench.goals import describe
from queuekit_bench.report.data import Entry, fig, num, scenario, with_spread

KINDS = (("drain", "drain (one worker process)"), ("enqueue", "enqueue one by one"), ("batch", "batch enqueue"))


def versus_text(entry: Entry, kind: str) -> str | None:
    """``queuekit 24,600/s vs dramatiq 2,180/s: 11.3x (goal >= 10x: met)``; None when not measured."""
    found = scenario(entry, "peers")
    node = ((found or {}).get("versus") or {}).get(kind)
    if not node:
        return None
    ratio = (node.get("ratio") or {}).get("median")
    goal = node.get("goal")
    verdict = "" if goal is None else f" (goal >= {goal:g}x: {'met' if node.get('met') else 'not met'})"
    return (f"queuekit {num(node.get('queuekit_median'))}/s vs {node.get('peer')} {num(node.get('peer_median'))}/s: "
            f"{ratio:.2f}x{verdict}" if isinstance(ratio, (int, float)) else None)


def _rows(entry: Entry) -> list[list[str]]:
    found = scenario(entry, "peers") or {}
    frameworks: dict[str, str] = found.get("frameworks") or {}
    rows = []
    jobs: dict[str, int] = found.get("jobs_by_framework") or {}
    for name, label in frameworks.items():
        cells = [with_spread(fig(entry, "peers", f"{kind}_{name}")) for kind, _ in KINDS]
        if name in jobs and jobs[name] != found.get("jobs"):
            label = f"{label} ({jobs[name]:,} jobs)"
        rows.append([entry["name"], label, *cells])
    doubled = fig(entry, "peers", "drain_queuekit_processes_2")
    if doubled:
        ratio = (doubled.get("ratio") or {}).get("median")
        times = f" ({ratio:.2f}x one process)" if isinstance(ratio, (int, float)) else ""
        rows.append([entry["name"], f"queuekit worker --processes 2{times}", with_spread(doubled), "-", "-"])
    for name, reason in {**(found.get("skipped") or {}), **(found.get("failed") or {})}.items():
        rows.append([entry["name"], name, f"not run: {reason}", "-", "-"])
    return rows


def peers_section(entries: list[Entry]) -> Any:
    """The peer comparison: every framework's figures, then queuekit against the fastest peer."""
    from queuekit_bench.report.sections import Bullets, Section, Table

    rows = [row for entry in entries for row in _rows(entry)]
    lines = [f"**{entry['name']}** {label}: {text}" for entry in entries for kind, label in KINDS
             if (text := versus_text(entry, kind))]
    headers = ["backend", "framework", "drain jobs/s median (min-max)", "enqueue one by one jobs/s",
               "batch enqueue jobs/s"]
    return Section("Peer frameworks: the issue-17 workload", [
        "Each framework, on the same broker in the same run: jobs enqueued one by one (that rate is the "
        "enqueue column), then one worker process started with the framework's own CLI at its defaults; the "
        "no-op task sends one loopback UDP datagram per completion and the drain rate runs from the first "
        "completion to the last. Frameworks take turns within each repeat. `--processes 2` is set against one "
        "process on a larger backlog, from the moment every worker process has completed a job. Batch enqueue: "
        "`enqueue_many` and the peers' batch calls (RQ's `enqueue_many`, pgqueuer's list `enqueue`), batches of "
        "1,000. The ratio is queuekit over the fastest peer, the median of per-repeat ratios, beside the goal of "
        "issue 17 for that broker.",
        Table(headers, rows), Bullets(lines or ["no peer framework ran in this run"])])


def goals_section(entries: list[Entry]) -> Any:
    """Every issue-17 goal this run measured, per backend."""
    from queuekit_bench.report.sections import Section, Table

    rows = [[entry["name"], *describe(row).rsplit(": ", 1)] for entry in entries for row in entry.get("goals") or []]
    return Section("Goals of issue 17", [
        "The goals of issue 17 whose figures this run measured (queuekit_bench/goals.py), each a ratio measured "
        "side by side in this run or, for latency and SQLite's drain, the figure itself.",
        Table(["backend", "goal: measured (bound)", "verdict"], rows)])


def goal_lines(entries: list[Entry]) -> list[str]:
    """The terminal's lines: the peer ratios and every goal measured."""
    lines = []
    for entry in entries:
        for kind, label in KINDS:
            text = versus_text(entry, kind)
            if text:
                lines.append(f"  {entry['name']}: {label}: {text}")
        lines.extend(f"  {entry['name']}: {describe(row)}" for row in entry.get("goals") or []
                     if row.get("part") != "versus")
    return lines
