"""The one summary table printed at the end of a run."""

from __future__ import annotations

from typing import Any

from queuekit_bench.report.advice import recommend
from queuekit_bench.report.data import Entry, count, load_text, med, not_run, num, ok_backends, pct, scenario
from queuekit_bench.report.matrix import violations
from queuekit_bench.report.peers import goal_lines

HEADERS = ("backend", "enqueue/s (raw%)", "batch/s (raw%)", "drain/s 1w (raw%)", "drain/s max",
           "p50/p99 start ms", "FIFO inv", "prio inv", "lost/dup/dead (kills)", "backlog growth", "chord s")
SOAK_HEADER = "soak jobs/s, MB (1st>last q)"  # a column only when a soak ran


def _rate_cell(entry: Entry, name: str, key: str) -> str:
    value = med(entry, name, key)
    if value is None:
        return "-"
    ratio = med(entry, name, key, part="ratio")
    return f"{num(value)} ({pct(ratio)})" if ratio is not None else num(value)


def _drain_max(entry: Entry) -> str:
    found = scenario(entry, "drain")
    if not found:
        return "-"
    best = max(((med(entry, "drain", f"workers_{w}") or 0.0, w) for w in found.get("workers", [])), default=None)
    return f"{num(best[0])} ({best[1]}w)" if best else "-"


def _latency(entry: Entry) -> str:
    p50, p99 = med(entry, "latency", "start_p50"), med(entry, "latency", "start_p99")
    return "-" if p50 is None else f"{num(p50)}/{num(p99)}"


def _order(entry: Entry, key: str) -> str:
    found = scenario(entry, "ordering")
    part = found.get(key) if found else None
    return count(part.get("inversions")) if isinstance(part, dict) else "-"


IN_PROCESS_NOTE = ("* {names}: the broker lives in the memory of the process that was killed, and memory keeps "
                   "nothing across a kill: every job not yet done was lost (by design, not a fault)")


def in_process(entry: Entry) -> bool:
    """True when the failure run killed the broker itself (``memory://``): nothing survives that."""
    found = scenario(entry, "failure")
    return bool(found) and str(found.get("mode", "")).startswith("broker")  # type: ignore[union-attr]


def _failure(entry: Entry) -> str:
    found = scenario(entry, "failure")
    if not found:
        return "-"
    cells = f"{count(found.get('lost'))}/{count(found.get('duplicated'))}/{count(found.get('dead_lettered'))}"
    return f"{cells} ({len(found.get('kills', []))})" + ("*" if in_process(entry) else "")


def soak_change(entry: Entry) -> str:
    """``jobs/s>jobs/s, MB>MB``: the soak's first quarter against its last ('-' without a soak)."""
    found = scenario(entry, "soak")
    if not found:
        return "-"
    first, last = found.get("first_quarter") or {}, found.get("last_quarter") or {}
    return (f"{num(first.get('jobs_per_s'))}>{num(last.get('jobs_per_s'))}, "
            f"{num(first.get('rss_mb'))}>{num(last.get('rss_mb'))}")


def footnotes(entries: list[Entry]) -> list[str]:
    """Notes the table's starred cells point to."""
    killed = [e["name"] for e in entries if in_process(e)]
    return [IN_PROCESS_NOTE.format(names=", ".join(killed))] if killed else []


def _backlog(entry: Entry) -> str:
    found = scenario(entry, "backlog")
    growth = found.get("growth") if found else None
    return f"{growth:.2f}" if isinstance(growth, (int, float)) else "-"


def row(entry: Entry) -> list[str]:
    """One backend's cells, in HEADERS order."""
    return [entry["name"], _rate_cell(entry, "enqueue", "single"), _rate_cell(entry, "enqueue", "batch"),
            _rate_cell(entry, "drain", "workers_1"), _drain_max(entry), _latency(entry),
            _order(entry, "fifo_1"), _order(entry, "priority"), _failure(entry), _backlog(entry),
            num(med(entry, "workflow", "seconds"))]


def table(entries: list[Entry]) -> tuple[list[str], list[list[str]]]:
    """Headers and rows of the summary table; the soak column only when some backend ran the soak."""
    soaked = any(scenario(entry, "soak") for entry in entries)
    headers = [*HEADERS, SOAK_HEADER] if soaked else list(HEADERS)
    return headers, [row(entry) + ([soak_change(entry)] if soaked else []) for entry in entries]


def format_table(headers: tuple[str, ...] | list[str], rows: list[list[str]]) -> str:
    """A plain-text table with aligned columns."""
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows, strict=False)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(headers, widths, strict=False)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=False)) for r in rows]
    return "\n".join(line.rstrip() for line in lines)


def summary_table(document: dict[str, Any]) -> str:
    """The table, then skipped backends, failed scenarios and declared guarantees the run saw broken."""
    entries = ok_backends(document)
    parts = ["", format_table(*table(entries)), *footnotes(entries)]
    notes = [f"  {e['name']}: {e['status']}: {e.get('reason')}" for e in not_run(document)]
    for entry in ok_backends(document):
        for name, result in entry.get("scenarios", {}).items():
            if result.get("status") != "ok":
                notes.append(f"  {entry['name']}: {name} {result.get('status')}: {result.get('reason')}")
        broken = violations(entry)
        if broken:
            notes.append(f"  {entry['name']}: declared but not kept in this run: {', '.join(broken)}")
    if notes:
        parts += ["", "not run / problems:", *notes]
    goals = goal_lines(entries)
    if goals:
        parts += ["", "goals of issue 17 (each ratio: the median of per-repeat ratios in this run):", *goals]
    if entries:
        parts += ["", "which broker for what (details in the report):",
                  *(f"  {a.need}: {a.answer}" for a in recommend(entries))]
    parts.append("\nraw% = queuekit's rate as a share of the raw client on the same server in the same run. "
                 "Noisy machine? Compare ratios, not rates. "
                 f"(load average at start: {load_text(document.get('environment', {}))})")
    if document.get("interrupted"):
        parts.append("INTERRUPTED: figures above cover only what finished.")
    return "\n".join(parts)
