"""A synthetic but complete results document, built with the harness's own figure helper."""

from __future__ import annotations

from typing import Any

from queuekit_bench import SCHEMA, SCHEMA_VERSION
from queuekit_bench.figures import figure
from queuekit_bench.settings import QUICK

CAPS = {"durability": "disk", "fifo": True, "priorities": True, "delays": True, "at_least_once": True,
        "lease_expiry": True, "dedup": True, "results": False, "job_state": False,
        "transactional_enqueue": False, "cross_process": True, "max_message_size": None}


def rates(median: float, raw: float | None = None) -> dict[str, Any]:
    ours = [median * 0.95, median, median * 1.05]
    theirs = [raw * 0.95, raw, raw * 1.05] if raw else None
    return figure(ours, "jobs/s", "higher", theirs, "rawlib 1.0" if raw else None)


def backend(name: str, speed: float, *, fifo_inversions: int = 0, lost: int = 0, p99: float = 5.0,
            caps: dict[str, Any] | None = None) -> dict[str, Any]:
    ok = {"status": "ok", "reason": None, "seconds": 1.0}
    return {
        "name": name, "url": f"{name}://host/", "status": "ok", "reason": None, "server": f"{name} 1.0",
        "capabilities": {**CAPS, **(caps or {})}, "raw_client": "rawlib 1.0", "raw_unavailable": None,
        "scenarios": {
            "enqueue": {**ok, "figures": {"single": rates(speed, speed * 2), "batch": rates(speed * 5, speed * 8),
                                          "producers": rates(speed * 2)},
                        "producers": 4, "batch_size": 100, "producer_kind": "process"},
            "drain": {**ok, "figures": {"workers_1": rates(speed, speed * 3), "workers_2": rates(speed * 1.5)},
                      "jobs": 400, "workers": [1, 2], "concurrency": 2, "worker_kind": "process"},
            "latency": {**ok, "figures": {"start_p50": figure([1.0, 1.2], "ms", "lower"),
                                          "start_p99": figure([p99, p99 * 1.1], "ms", "lower")},
                        "rate": 200.0, "jobs_per_run": 300, "runs": [], "producer_max_lag_ms": 1.0,
                        "curve": {"start_ms": [0.5, 1.0, p99], "done_ms": [0.6, 1.1, p99 + 1]}},
            "ordering": {**ok, "fifo_1": {"jobs": 200, "inversions": fifo_inversions, "descents": fifo_inversions},
                         "fifo_n": {"jobs": 200, "inversions": 40, "descents": 20, "consumers": 4},
                         "priority": {"jobs": 200, "inversions": 0, "descents": 0},
                         "delay": {"jobs": 10, "early": 0, "never_ran": 0}},
            "failure": {**ok, "seed": 7, "mode": "worker processes killed", "kills": [{"pid": 1, "t": 1.0}],
                        "drained": lost == 0, "drain_after_last_kill_s": 2.5 if lost == 0 else None,
                        "accepted": 300, "unknown": 0, "lost": lost, "recovered": 0, "unexpected": 0,
                        "duplicated": 3, "dup_rate": 0.01, "max_exec": 2, "redelivery_ms": {"count": 0}},
            "backlog": {**ok, "figures": {"1000": figure([10.0, 11.0], "us/job", "lower", [2.0, 2.0], "rawlib"),
                                          "10000": figure([20.0, 21.0], "us/job", "lower", [2.0, 2.1], "rawlib")},
                        "depths": [1000, 10000], "sample": 200, "growth": 2.0},
            "payload": {**ok, "figures": {"100": rates(speed, speed * 2)}, "sizes": [100], "jobs": [10],
                        "skipped": {}},
            "workflow": {**ok, "figures": {"seconds": figure([200 / speed, 220 / speed], "s", "lower"),
                                           "members_per_s": figure([speed, speed * 0.9], "jobs/s", "higher"),
                                           "join_s": figure([20 / speed, 22 / speed], "s", "lower")},
                         "members": 200, "workers": 2, "concurrency": 2, "worker_kind": "process",
                         "callback_total": 19900, "callback_results": [19900, 19900], "result_store": "broker"},
        },
    }


def sample_document(alpha_speed: float = 1000.0, beta_speed: float = 100.0, **beta: Any) -> dict[str, Any]:
    return {
        "schema": SCHEMA, "schema_version": SCHEMA_VERSION, "run_id": "abc123", "started": "2026-11-25T04:00:00+00:00",
        "finished": "2026-11-25T04:01:00+00:00", "duration_s": 60.0, "interrupted": False,
        "settings": QUICK.as_dict(),
        "environment": {"python": "3.11.7", "implementation": "CPython", "platform": "Linux", "machine": "x86_64",
                        "cpu_count": 2, "load_average": [1.0, 1.0, 1.0], "sqlite": "3.40.1",
                        "queuekit": {"queuekit": "0.1.0"}, "client_libraries": {"redis": "5.0"}},
        "backends": [
            backend("alpha", alpha_speed), backend("beta", beta_speed, **beta),
            {"name": "gamma", "url": "gamma://h/", "status": "skipped", "reason": "backend not installed: gamma",
             "server": None, "capabilities": None, "raw_client": None, "raw_unavailable": None, "scenarios": {}},
        ],
    }
