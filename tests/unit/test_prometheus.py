"""The Prometheus sampler and middleware in one process, on a private registry."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import pytest

pytest.importorskip("prometheus_client", reason='needs pip install "queuekit[prometheus]"')

from prometheus_client import CollectorRegistry

from queuekit import App
from queuekit.backends.memory import MemoryBroker
from queuekit.contrib.prometheus import PrometheusMiddleware, Sampler, metrics


class LosingBroker(MemoryBroker):
    """A memory broker that reports state losses, as Redis does after a restart without persistence."""

    capabilities = dataclasses.replace(MemoryBroker.capabilities, detects_state_loss=True)

    def __init__(self) -> None:
        super().__init__()
        self.noticed: list[Any] = []

    @property
    def resets(self) -> Sequence[Any]:
        return list(self.noticed)


def test_sampler_sets_depths_and_counts_each_reset_once() -> None:
    registry = CollectorRegistry()
    broker = LosingBroker()
    app = App(broker=broker)

    @app.task(queue="sampled")
    def noop() -> None: ...

    app.enqueue_many([noop.message() for _ in range(3)])
    noop.enqueue(delay=3600)
    sampler = Sampler(metrics(registry), lambda: broker, ["sampled"], 60.0)
    sampler.sample()
    assert registry.get_sample_value("queuekit_queue_depth", {"queue": "sampled", "state": "ready"}) == 3
    assert registry.get_sample_value("queuekit_queue_depth", {"queue": "sampled", "state": "delayed"}) == 1
    assert registry.get_sample_value("queuekit_state_resets_total", {"queue": "sampled"}) is None
    broker.noticed.append(SimpleNamespace(queue="sampled"))
    sampler.sample()
    sampler.sample()
    assert registry.get_sample_value("queuekit_state_resets_total", {"queue": "sampled"}) == 1
    broker.noticed.append(SimpleNamespace(queue="sampled"))
    sampler.sample()
    assert registry.get_sample_value("queuekit_state_resets_total", {"queue": "sampled"}) == 2


def test_middleware_counts_outcomes_and_in_flight_returns_to_zero() -> None:
    registry = CollectorRegistry()
    app = App("memory://", middleware=[PrometheusMiddleware(registry, sample_every=60.0)])

    @app.task(queue="counted")
    def maybe(n: int) -> int:
        if n % 2:
            raise ValueError(n)
        return n

    app.enqueue_many([maybe.message(i) for i in range(6)])
    assert app.worker(burst=True, concurrency=2, grace=5.0).run(install_signals=False) == 0
    labels = {"queue": "counted", "task": maybe.name}
    assert registry.get_sample_value("queuekit_jobs_total", {**labels, "outcome": "succeeded"}) == 3
    assert registry.get_sample_value("queuekit_jobs_total", {**labels, "outcome": "failed"}) == 3
    assert registry.get_sample_value("queuekit_job_duration_seconds_count", labels) == 6
    assert registry.get_sample_value("queuekit_jobs_in_flight", {"queue": "counted"}) == 0
    assert registry.get_sample_value("queuekit_worker_up") == 0
    assert PrometheusMiddleware(registry).metrics is metrics(registry)  # a second one shares the metrics


def test_the_grafana_dashboard_queries_only_metrics_that_exist() -> None:
    import json
    import re
    from pathlib import Path

    dashboard = json.loads((Path(__file__).resolve().parents[2] / "docs" / "grafana-dashboard.json").read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    used = {name for expr in exprs for name in re.findall(r"queuekit_\w+", expr)}
    registry = CollectorRegistry()
    metrics(registry)
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"], "gauge": [""]}
    exposed = {family.name + suffix for family in registry.collect() for suffix in suffixes[family.type]}
    assert used <= exposed
    assert {"queuekit_jobs_total", "queuekit_queue_depth", "queuekit_state_resets_total"} <= used


def test_each_new_registry_gets_metrics_registered_in_it() -> None:
    # A registry freed by one test leaves its address to the next; metrics must follow the object.
    for _ in range(50):
        registry = CollectorRegistry()
        metrics(registry).worker_up.set(1)
        assert registry.get_sample_value("queuekit_worker_up") == 1
        del registry
