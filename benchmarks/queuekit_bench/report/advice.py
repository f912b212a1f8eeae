""""Which broker for what": every line is computed from this run's figures, none is written in advance.

Each rule looks at the backends that have the figure it needs, picks the best (or all
that qualify) and says by how much. A rule with no data says so instead of guessing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from queuekit_bench.report.data import Entry, count, med, num, pct, scenario
from queuekit_bench.report.matrix import KEPT, guarantees

Metric = Callable[[Entry], float | None]


@dataclass(frozen=True)
class Advice:
    """One need and the answer the figures give."""

    need: str
    answer: str


def _best(entries: list[Entry], metric: Metric, *, higher: bool, unit: str,
          show: Callable[[float], str] = num) -> str | None:
    scored = [(value, e["name"]) for e in entries if (value := metric(e)) is not None]
    if not scored:
        return None
    scored.sort(reverse=higher)
    top_value, top_name = scored[0]
    if len(scored) == 1:
        return f"{top_name} ({show(top_value)} {unit}; the only backend measured)"
    runner_value, runner_name = scored[1]
    if min(top_value, runner_value) > 0:
        factor = top_value / runner_value if higher else runner_value / top_value
        text = f"{top_name} ({show(top_value)} {unit}, {factor:.1f}x {runner_name})"
    else:
        text = f"{top_name} ({show(top_value)} {unit}; next {runner_name} {show(runner_value)})"
    return text + _shared_alternative(entries, scored, show, unit)


def _shared_alternative(entries: list[Entry], scored: list[tuple[float, str]], show: Callable[[float], str],
                        unit: str) -> str:
    """When the winner cannot be shared between processes (memory://), name the best that can."""
    local = {e["name"] for e in entries if not (e.get("capabilities") or {}).get("cross_process", True)}
    if scored[0][1] not in local:
        return ""
    shared = [(value, name) for value, name in scored if name not in local]
    return f"; across processes: {shared[0][1]} ({show(shared[0][0])} {unit})" if shared else ""


def _qualifying(entries: list[Entry], column: str, declared_too: bool = True) -> str | None:
    measured = [e for e in entries if guarantees(e)[column].verdict != "not measured"]
    if not measured:
        return None
    good = [e["name"] for e in measured if guarantees(e)[column].verdict == KEPT]
    return ", ".join(good) if good else "none of the backends measured kept it in this run"


def _drain_max(entry: Entry) -> float | None:
    found = scenario(entry, "drain")
    values = [med(entry, "drain", key) for key in (found or {}).get("figures", {})]
    present = [v for v in values if v is not None]
    return max(present) if present else None


def _scaling(entry: Entry) -> float | None:
    found = scenario(entry, "drain")
    workers = sorted((found or {}).get("workers", []))
    if len(workers) < 2:
        return None
    first, last = med(entry, "drain", f"workers_{workers[0]}"), med(entry, "drain", f"workers_{workers[-1]}")
    return last / first if first and last is not None else None


def _overhead(entry: Entry) -> float | None:
    """Geometric mean of the ratios to the raw client over enqueue and drain."""
    ratios = [r for key in (("enqueue", "single"), ("enqueue", "batch"), ("drain", "workers_1"))
              if (r := med(entry, *key, part="ratio")) is not None and r > 0]
    return math.exp(sum(math.log(r) for r in ratios) / len(ratios)) if ratios else None


def _backlog_growth(entry: Entry) -> float | None:
    found = scenario(entry, "backlog")
    growth = found.get("growth") if found else None
    return float(growth) if isinstance(growth, (int, float)) else None


def _largest_payload(entry: Entry) -> float | None:
    found = scenario(entry, "payload")
    sizes = sorted(int(k) for k in (found or {}).get("figures", {}))
    return med(entry, "payload", str(sizes[-1])) if sizes else None


def _crash_safe(entries: list[Entry]) -> str | None:
    measured = [e for e in entries if (f := scenario(e, "failure")) and f.get("mode", "").startswith("worker")]
    if not measured:
        return None
    safe = sorted((int(scenario(e, "failure")["duplicated"]), e["name"]) for e in measured  # type: ignore[index]
                  if guarantees(e)["at_least_once"].verdict == KEPT)
    if not safe:
        return "none of the backends measured finished every job after worker kills"
    return ", ".join(f"{name} ({dups} duplicated)" for dups, name in safe)


def _scaling_answer(entries: list[Entry]) -> str | None:
    answer = _best(entries, _scaling, higher=True, unit="x the rate of the fewest workers")
    best = max((v for e in entries if (v := _scaling(e)) is not None), default=None)
    if answer is not None and best is not None and best < 1.1:
        return f"none: more worker processes did not raise the drain rate on this machine (best {answer})"
    return answer


def advise(entries: list[Entry]) -> list[Advice]:
    """The whole section, one line per need."""
    lines = [
        ("Highest single-job enqueue rate",
         _best(entries, lambda e: med(e, "enqueue", "single"), higher=True, unit="jobs/s")),
        ("Highest batch enqueue rate", _best(entries, lambda e: med(e, "enqueue", "batch"), higher=True,
                                             unit="jobs/s")),
        ("Highest drain rate (best worker count)", _best(entries, _drain_max, higher=True, unit="jobs/s")),
        ("Gains most from more worker processes", _scaling_answer(entries)),
        ("Lowest p99 latency, enqueue to start",
         _best(entries, lambda e: med(e, "latency", "start_p99"), higher=False, unit="ms")),
        ("Strict FIFO with one consumer (measured)", _qualifying(entries, "fifo")),
        ("Priorities honoured (measured)", _qualifying(entries, "priorities")),
        ("Delays never run early (measured)", _qualifying(entries, "delays")),
        ("Loses nothing when workers are killed (fewest duplicates first)", _crash_safe(entries)),
        ("Flattest cost as the backlog grows", _best(entries, _backlog_growth, higher=False, unit="x cost growth")),
        ("Largest messages", _best(entries, _largest_payload, higher=True, unit="jobs/s at the largest size")),
        ("Fastest chord fan-out/fan-in (workflows)",
         _best(entries, lambda e: med(e, "workflow", "seconds"), higher=False, unit="s")),
        ("Closest to its raw client", _best(entries, _overhead, higher=True, unit="of the raw client's rate",
                                           show=pct)),
        ("Survives a broker restart (declared, not measured here)",
         ", ".join(e["name"] for e in entries if (e.get("capabilities") or {}).get("durability") in ("disk", "server"))
         or None),
        ("Enqueue inside your own database transaction (declared)",
         ", ".join(e["name"] for e in entries if (e.get("capabilities") or {}).get("transactional_enqueue")) or None),
    ]
    return [Advice(need, answer or "no data in this run") for need, answer in lines]


def _shared(entries: list[Entry]) -> list[Entry]:
    """Backends whose producers and workers may be separate processes (not ``memory://``)."""
    return [e for e in entries if (e.get("capabilities") or {}).get("cross_process", True)]


def _ranked(entries: list[Entry], metric: Metric, *, higher: bool) -> list[tuple[float, str]]:
    scored = [(value, e["name"]) for e in entries if (value := metric(e)) is not None]
    return sorted(scored, key=lambda pair: -pair[0] if higher else pair[0])


def _next(ranked: list[tuple[float, str]], unit: str, *, higher: bool) -> str:
    if len(ranked) < 2:
        return "; the only broker measured that other processes can share (memory:// is in-process only)"
    (top, _), (value, name) = ranked[0], ranked[1]
    if top > 0 and value > 0:
        if higher:
            return f", {top / value:.1f}x the next, {name} ({num(value)} {unit})"
        return f", {value / top:.1f}x lower than the next, {name} ({num(value)} {unit})"
    return f"; next {name} ({num(value)} {unit})"


def _throughput_pick(entries: list[Entry]) -> str | None:
    ranked = _ranked(_shared(entries), _drain_max, higher=True)
    if not ranked:
        return None
    value, name = ranked[0]
    return f"{name}: drained {num(value)} jobs/s at its best worker count{_next(ranked, 'jobs/s', higher=True)}"


def _latency_pick(entries: list[Entry]) -> str | None:
    ranked = _ranked(_shared(entries), lambda e: med(e, "latency", "start_p99"), higher=False)
    if not ranked:
        return None
    value, name = ranked[0]
    return f"{name}: 99% of jobs started within {num(value)} ms of the enqueue call{_next(ranked, 'ms', higher=False)}"


def _durability_pick(entries: list[Entry]) -> str | None:
    measured = [e for e in _shared(entries) if guarantees(e)["at_least_once"].verdict != "not measured"]
    if not measured:
        return None
    kept = [e for e in measured if guarantees(e)["at_least_once"].verdict == KEPT]
    level = next((d for d in ("disk", "server") if any(_durability(e) == d for e in kept)), None)
    if level is None:
        return "none: no backend measured here both keeps jobs across a restart and finished every job after kills"
    safe = [e for e in kept if _durability(e) == level]
    ranked = _ranked(safe, _drain_max, higher=True)
    value, name = ranked[0] if ranked else (None, safe[0]["name"])
    failure = scenario(next(e for e in safe if e["name"] == name), "failure") or {}
    others = [e["name"] for e in safe if e["name"] != name]
    promise = ("writes each job to disk before enqueue returns" if level == "disk"
               else "keeps jobs across a clean restart (not every crash: none here writes to disk before returning)")
    text = (f"{name}: {promise}, and lost 0 of {count(failure.get('accepted'))} "
            f"jobs over {len(failure.get('kills', []))} worker kills")
    if value is not None:
        text += f"; drains {num(value)} jobs/s"
    if others:
        text += f", the fastest of those that do both ({', '.join([name, *others])})"
    return text


def _durability(entry: Entry) -> str:
    return str((entry.get("capabilities") or {}).get("durability"))


def _transactional_pick(entries: list[Entry]) -> str | None:
    declared = [e for e in entries if (e.get("capabilities") or {}).get("transactional_enqueue")]
    if not declared:
        return "none of the backends measured can enqueue inside your own transaction"
    ranked = _ranked(declared, lambda e: med(e, "enqueue", "single"), higher=True)
    if not ranked:
        return ", ".join(e["name"] for e in declared) + " (declared; enqueue not measured)"
    value, name = ranked[0]
    others = [n for _, n in ranked[1:]]
    also = f" (also possible: {', '.join(others)})" if others else ""
    return (f"{name}: its enqueue can join your own database transaction, and it enqueued {num(value)} jobs/s "
            f"one at a time, the fastest of those that can{also}")


def _ordering_pick(entries: list[Entry]) -> str | None:
    measured = [e for e in _shared(entries) if scenario(e, "ordering")]
    if not measured:
        return None
    kept = [e for e in measured
            if guarantees(e)["fifo"].verdict == KEPT and guarantees(e)["priorities"].verdict == KEPT]
    if not kept:
        return "none: every backend measured here either does not promise FIFO and priorities or broke them"
    ordering = scenario(kept[0], "ordering") or {}
    jobs_fifo = count((ordering.get("fifo_1") or {}).get("jobs"))
    jobs_prio = count((ordering.get("priority") or {}).get("jobs"))
    names = [name for _, name in _ranked(kept, _drain_max, higher=True)] or [e["name"] for e in kept]
    names += [e["name"] for e in kept if e["name"] not in names]
    who = f"any of {', '.join(names)}" if len(kept) == len(measured) and len(kept) > 1 else ", ".join(names)
    return (f"{who}: 0 FIFO inversions in {jobs_fifo} jobs with one consumer and 0 priority inversions in "
            f"{jobs_prio}; with several consumers no broker keeps strict order")


def recommend(entries: list[Entry]) -> list[Advice]:
    """The short answer: one backend per workload, each with the figure that decided it."""
    lines = [
        ("Throughput", _throughput_pick(entries)),
        ("Latency", _latency_pick(entries)),
        ("Durability", _durability_pick(entries)),
        ("Transactional enqueue", _transactional_pick(entries)),
        ("Ordering", _ordering_pick(entries)),
    ]
    return [Advice(need, answer or "not measured in this run") for need, answer in lines]


def overhead_text(entry: Entry) -> str:
    """The geometric-mean ratio to the raw client, as a percentage."""
    return pct(_overhead(entry))
