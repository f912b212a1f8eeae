"""The report's content, independent of format: sections of paragraphs, tables, plots and lists.

report.md and index.html render the same sections, so they always say the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from queuekit_bench.report.advice import advise, recommend
from queuekit_bench.report.data import Entry, count, fig, load_text, num, ok_backends, pct, scenario, with_spread
from queuekit_bench.report.matrix import COLUMNS, dead_text, guarantees
from queuekit_bench.report.peers import goals_section, peers_section
from queuekit_bench.report.terminal import footnotes, in_process, table


@dataclass(frozen=True)
class Table:
    """A table: header cells and rows of text cells."""

    headers: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class Plot:
    """A reference to one of the drawn plots, by name."""

    name: str


@dataclass(frozen=True)
class Bullets:
    """A list of short lines."""

    items: list[str]


Block = str | Table | Plot | Bullets


@dataclass
class Section:
    """A titled part of the report."""

    title: str
    blocks: list[Block] = field(default_factory=list)


def _figure_rows(entries: list[Entry], items: list[tuple[str, str, str]]) -> list[list[str]]:
    rows = []
    for entry in entries:
        for name, key, label in items:
            found = fig(entry, name, key)
            if found:
                raw = found.get("raw") or {}
                ratio = (found.get("ratio") or {}).get("median")
                rows.append([entry["name"], label, with_spread(found), f"{num(raw.get('median'))}",
                             pct(ratio), str(raw.get("client") or "-")])
    return rows


FIGURE_HEADERS = ["backend", "figure", "queuekit median (min-max)", "raw client", "queuekit/raw", "raw client used"]


def _run(document: dict[str, Any]) -> Section:
    env = document.get("environment", {})
    settings = document.get("settings", {})
    facts = [
        ["date (UTC)", str(document.get("started"))], ["duration", f"{document.get('duration_s')} s"],
        ["profile / repeats", f"{settings.get('profile')} / {settings.get('repeats')}"],
        ["seed", str(settings.get("seed"))], ["Python", f"{env.get('python')} ({env.get('implementation')})"],
        ["platform", str(env.get("platform"))], ["CPUs", str(env.get("cpu_count"))],
        ["load average at start (1, 5, 15 min)", load_text(env)],
        ["queuekit distributions", ", ".join(f"{k} {v}" for k, v in env.get("queuekit", {}).items())],
        ["client libraries", ", ".join(f"{k} {v}" for k, v in env.get("client_libraries", {}).items())],
    ]
    backends = [[b["name"], b["url"], b.get("server") or "-", b["status"] + (f": {b['reason']}" if b.get("reason")
                 else ""), b.get("raw_client") or b.get("raw_unavailable") or "-"]
                for b in document.get("backends", [])]
    blocks: list[Block] = [Table(["", ""], facts),
                           Table(["backend", "URL", "server", "status", "raw baseline"], backends)]
    if document.get("interrupted"):
        blocks.insert(0, "**This run was interrupted**: only the figures that finished are shown.")
    return Section("Run and environment", blocks)


def _throughput(entries: list[Entry]) -> Section:
    items = [("enqueue", "single", "enqueue, one at a time"), ("enqueue", "batch", "enqueue, batches"),
             ("enqueue", "delay", "task.delay(), one at a time"),
             ("enqueue", "enqueue_many", "app.enqueue_many, batches of 1,000"),
             ("enqueue", "build", "enqueue_many's messages built and encoded, not sent"),
             ("enqueue", "threads_8", "8 threads calling delay() (baseline: 1 thread)"),
             ("enqueue", "threads_8_window", "8 threads calling delay() (baseline: raw, 8 confirms in flight)"),
             ("enqueue", "producers", "enqueue, concurrent producers"), ("drain", "workers_1", "drain, 1 worker")]
    return Section("Throughput (jobs/s)", [
        "Each figure is the median of the repeated runs, with the slowest and fastest run. The raw client "
        "does the same work on the same server in the same run; queuekit/raw is the median of the paired "
        "per-run ratios, so machine load that hits both cancels out.",
        Plot("throughput"), Table(FIGURE_HEADERS, _figure_rows(entries, items))])


def _drain(entries: list[Entry]) -> Section:
    items = []
    for entry in entries:
        for w in (scenario(entry, "drain") or {}).get("workers", []):
            found = fig(entry, "drain", f"workers_{w}")
            items.append([entry["name"], str(w), with_spread(found)])
    return Section("Drain rate by worker processes", [
        "N jobs wait; then 1, 2, 4 worker processes (each with the configured threads) work until all are "
        "acknowledged. memory:// cannot be shared between processes, so its workers are threads.",
        Plot("drain"), Table(["backend", "worker processes", "jobs/s median (min-max)"], items)])


def _latency(entries: list[Entry]) -> Section:
    rows = []
    for entry in entries:
        found = scenario(entry, "latency")
        if found:
            cells = [num((fig(entry, "latency", f"{kind}_{p}") or {}).get("median"))
                     for kind in ("start", "done") for p in ("p50", "p90", "p99", "max")]
            rows.append([entry["name"], num(found.get("rate")), *cells, num(found.get("producer_max_lag_ms"))])
    headers = ["backend", "rate/s", "start p50", "p90", "p99", "max", "done p50", "p90", "p99", "max",
               "producer lag ms"]
    return Section("Latency (ms from the enqueue call)", [
        "A producer enqueues at a fixed rate while idle workers wait. Figures are medians over runs of each "
        "run's percentile. A large producer lag means the producer could not keep the rate.",
        Plot("latency"), Table(headers, rows)])


def _matrix(entries: list[Entry]) -> Section:
    rows = [[entry["name"], *(guarantees(entry)[c].text() for c in COLUMNS)] for entry in entries]
    return Section("Guarantees matrix: declared / measured", [
        "Each cell reads `declared / measured: verdict`. **kept**: declared and not broken in this run. "
        "**VIOLATED**: declared, and the run saw it broken. **not promised**: the backend does not declare "
        "it, so what was measured is information, not a fault. **not measured**: this bench cannot observe it "
        "(broker restarts, transactions). FIFO is measured with one consumer at concurrency 1; with several "
        "consumers inversions are expected and only reported.",
        Table(["backend", *COLUMNS], rows)])


def _failure(entries: list[Entry]) -> Section:
    rows = []
    for entry in entries:
        f = scenario(entry, "failure")
        if f:
            drained = f.get("drain_after_last_kill_s")
            redelivery = f.get("redelivery_ms") or {}
            rows.append([entry["name"], str(f.get("mode")), str(f.get("seed")), str(len(f.get("kills", []))),
                         count(f.get("accepted")), _lost(entry, f), count(f.get("duplicated")),
                         dead_text(f).removesuffix(" dead-lettered").replace(" dead-lettered", ""),
                         count(f.get("unexpected")), count(f.get("max_exec")),
                         "never" if drained is None else num(drained),
                         f"{num(redelivery.get('p50'))}/{num(redelivery.get('p99'))}"])
    headers = ["backend", "mode", "seed", "kills", "accepted", "lost", "duplicated", "dead-lettered",
               "unexpected", "max runs", "drained s after last kill", "redelivery ms p50/p99"]
    return Section("Delivery under failure (SIGKILL)", [
        "Worker processes are killed with SIGKILL at random moments (the seed replays them; `--kills N` sets "
        "how many) while jobs of 1-20 ms run, and a new worker is started after each kill; the backlog is "
        "topped up while kills remain, so every kill lands on busy workers. The jobs use the task defaults "
        "(no retries), so a job whose workers keep dying is dead-lettered after the app's `redeliveries` "
        "allowance, as in an application. The ledger, written by producers and workers to files outside the "
        "broker, decides: lost = accepted, never finished and not in the dead-letter queue; duplicated = "
        "finished more than once; dead-lettered = set aside by the worker (never started: the ledger has no "
        "start of it, the crash-loop case that must stay 0); unexpected = finished but never accepted (must "
        "be 0).", Table(headers, rows)])


def _lost(entry: Entry, failure: dict[str, Any]) -> str:
    lost = count(failure.get("lost"))
    return f"{lost}: memory keeps nothing across a kill" if in_process(entry) else lost


def _scaled(entries: list[Entry], name: str, title: str, unit: str, intro: str) -> Section:
    rows = []
    for entry in entries:
        found = scenario(entry, name)
        for key in sorted((found or {}).get("figures", {}), key=float):
            rows.extend(_figure_rows([entry], [(name, key, f"{int(float(key)):,}")]))
    return Section(title, [intro, Plot(name), Table([h.replace("figure", unit) for h in FIGURE_HEADERS], rows)])


def _workflow(entries: list[Entry]) -> Section:
    rows = []
    for entry in entries:
        found = scenario(entry, "workflow")
        if found:
            rows.append([entry["name"], f"{count(found.get('members'))}",
                         f"{count(found.get('workers'))} x {count(found.get('concurrency'))} "
                         f"({found.get('worker_kind')})", with_spread(fig(entry, "workflow", "seconds")),
                         with_spread(fig(entry, "workflow", "members_per_s")),
                         with_spread(fig(entry, "workflow", "join_s")), str(found.get("result_store"))])
    headers = ["backend", "members", "workers x threads", "seconds median (min-max)", "members/s median (min-max)",
               "join s median (min-max)", "result store"]
    return Section("Workflow: chord fan-out/fan-in", [
        "`chord(group(member.s(i) for i in range(N)), total.s()).delay()` with idle workers waiting: seconds from "
        "the `delay()` call until the callback has run. Inside are enqueueing the members, running them, storing "
        "each result, counting each member done, joining their results and running the callback. The join is the "
        "part from the last member's end to the callback's end (reading every member's result, starting the "
        "callback, running it). Every run checks "
        "that the callback returned the sum of the members' results, else the scenario fails. Brokers that keep "
        "no results (RabbitMQ) use an SQLite file beside the run as their result store, so their figure includes "
        "it.", Table(headers, rows)])


def _soak(entries: list[Entry]) -> Section:
    rows = []
    for entry in entries:
        found = scenario(entry, "soak")
        if found:
            first, last = found.get("first_quarter") or {}, found.get("last_quarter") or {}
            rows.append([entry["name"], num(found.get("duration_s")), str(found.get("worker_kind")),
                         f"{int(found.get('completed', 0)):,}", num(first.get("jobs_per_s")),
                         num(last.get("jobs_per_s")), _change(first.get("jobs_per_s"), last.get("jobs_per_s")),
                         num(first.get("rss_mb")), num(last.get("rss_mb")),
                         _change(first.get("rss_mb"), last.get("rss_mb")), count(found.get("min_waiting")),
                         f"{found.get('dry_share', 0.0) * 100:.0f}%"])
    headers = ["backend", "seconds", "worker", "jobs done", "jobs/s 1st quarter", "jobs/s last quarter", "change",
               "RSS MiB 1st quarter", "RSS MiB last quarter", "change", "fewest waiting",
               "looks at none waiting"]
    return Section("Soak: one worker over time", [
        "One worker (the configured threads) drains a queue that the harness keeps topped up, for `--duration` "
        "seconds; every interval the harness reads the worker's completions and its resident memory "
        "(`VmRSS`). The first quarter of the run is set against the last: a worker that leaks memory or slows "
        "down as it ages shows it here. RSS is the median of a quarter's samples. Fewest waiting: the smallest "
        "backlog the producer saw, and the share of its looks that found none; where that share is large the "
        "worker waited for work, and its rate is partly the producer's. For `memory://` the worker is "
        "a thread of the harness, so its RSS is the harness's, broker included.",
        Plot("soak_rate"), Plot("soak_rss"), Table(headers, rows)])


def _change(first: Any, last: Any) -> str:
    if not isinstance(first, (int, float)) or not isinstance(last, (int, float)) or not first:
        return "-"
    return f"{(last - first) / first * 100:+.0f}%"


def build_sections(document: dict[str, Any]) -> list[Section]:
    """Every section of the report, in order."""
    entries = ok_backends(document)
    summary = Section("Summary", [Table(*table(entries)), *footnotes(entries),
                                  "raw% = queuekit's rate as a share of the raw client's on the same server in the "
                                  "same run. lost/dup/dead (kills): jobs never finished nor dead-lettered / "
                                  "finished twice / dead-lettered, after that many kills of worker processes. "
                                  "backlog growth: cost per job at the deepest backlog over the shallowest "
                                  "(1.0 = depth is free). chord s: seconds from fanning a chord out to its "
                                  "callback's end (see Workflow). soak (when run): jobs/s and worker RSS (MiB), "
                                  "first quarter > last quarter (see Soak)."])
    left_out = [e["name"] for e in entries if not (e.get("capabilities") or {}).get("cross_process", True)]
    advice = Section("Which broker for what", [
        "In short, from this run's figures"
        + (f" ({', '.join(left_out)} left out: it cannot be shared between processes)" if left_out else "") + ":",
        Bullets([f"**{a.need}**: {a.answer}" for a in recommend(entries)]),
        "The rules behind it, need by need (best value and its margin over the next backend). Rerun on your "
        "own machine and workload before deciding.",
        Bullets([f"**{a.need}**: {a.answer}" for a in advise(entries)])])
    return [
        advice, summary, _throughput(entries), _drain(entries), _latency(entries), _matrix(entries),
        _failure(entries),
        _scaled(entries, "backlog", "Backlog scaling (microseconds per reserve+ack)", "jobs waiting",
                "Cost of one reserve plus one ack with this many jobs waiting; a flat line means depth is free."),
        _scaled(entries, "payload", "Payload size (jobs/s, one at a time)", "argument bytes",
                "Jobs per second when each job is enqueued, then reserved and acknowledged, one at a time, "
                "for each argument size."),
        _workflow(entries), *([_soak(entries)] if "soak" in document.get("settings", {}).get("scenarios", []) else []),
        *([peers_section(entries)] if any(scenario(e, "peers") for e in entries) else []),
        *([goals_section(entries)] if any(e.get("goals") for e in entries) else []),
        _run(document),
    ]
