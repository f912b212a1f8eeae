"""Prometheus metrics for queuekit (``pip install "queuekit[prometheus]"``), with prometheus_client.

``queuekit worker mod:app --metrics-port 9100`` installs :class:`PrometheusMiddleware` and
serves ``/metrics``; with ``--processes N`` the supervisor serves the sum over its worker
processes (prometheus_client's multiprocess mode: it sets ``PROMETHEUS_MULTIPROC_DIR``
for its children). In code::

    from queuekit.contrib.prometheus import PrometheusMiddleware

    app.add_middleware(PrometheusMiddleware())

Metrics (see docs/observability.md): ``queuekit_jobs_total{queue,task,outcome}``,
``queuekit_job_duration_seconds{queue,task}``, ``queuekit_job_wait_seconds{queue}``,
``queuekit_jobs_in_flight{queue}``, ``queuekit_queue_depth{queue,state}`` (sampled every
``sample_every`` seconds from ``broker.stats()``, not per job),
``queuekit_state_resets_total{queue}`` (losses of a queue's data the broker noticed, on
brokers that declare ``detects_state_loss``: :class:`queuekit.broker.StateLossReporter`) and ``queuekit_worker_up``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from queuekit.broker import StateLossReporter
from queuekit.middleware import Middleware, RunOutcome

if TYPE_CHECKING:
    from queuekit.broker import Broker
    from queuekit.execution import Prepared
    from queuekit.worker import Worker

SAMPLE_EVERY = 5.0  # seconds between two samples of the queue depths
STATES = ("ready", "delayed", "in_flight", "dead")
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)
WAIT_BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)


@dataclass(frozen=True)
class Metrics:
    """queuekit's metric objects in one registry."""

    jobs: Counter
    duration: Histogram
    wait: Histogram
    in_flight: Gauge
    depth: Gauge
    resets: Counter
    worker_up: Gauge


# Keyed weakly by the registry itself: an id() outlives its registry and is reused by the next one.
_made: weakref.WeakKeyDictionary[CollectorRegistry, Metrics] = weakref.WeakKeyDictionary()
_made_lock = threading.Lock()


def metrics(registry: CollectorRegistry = REGISTRY) -> Metrics:
    """The metrics registered in ``registry``, created on first use (once per registry)."""
    with _made_lock:
        found = _made.get(registry)
        if found is None:
            found = _made[registry] = _create(registry)
        return found


def _create(registry: CollectorRegistry) -> Metrics:
    return Metrics(
        jobs=Counter("queuekit_jobs", "Job attempts by fate (succeeded, failed, retried, dead, cancelled)",
                     ["queue", "task", "outcome"], registry=registry),
        duration=Histogram("queuekit_job_duration_seconds", "Run time of one attempt", ["queue", "task"],
                           buckets=DURATION_BUCKETS, registry=registry),
        wait=Histogram("queuekit_job_wait_seconds", "Time from enqueue to the first attempt's start", ["queue"],
                       buckets=WAIT_BUCKETS, registry=registry),
        in_flight=Gauge("queuekit_jobs_in_flight", "Jobs running now", ["queue"], registry=registry,
                        multiprocess_mode="livesum"),
        depth=Gauge("queuekit_queue_depth", "Jobs per queue and state, sampled from the broker",
                    ["queue", "state"], registry=registry, multiprocess_mode="mostrecent"),
        resets=Counter("queuekit_state_resets", "Losses of a queue's data the broker noticed (e.g. a Redis "
                       "restart without persistence)", ["queue"], registry=registry),
        worker_up=Gauge("queuekit_worker_up", "Worker processes running", registry=registry,
                        multiprocess_mode="livesum"),
    )


class PrometheusMiddleware(Middleware):
    """Counts, times and samples what a worker does into prometheus_client metrics.

    ``registry``: where the metrics live (the default registry unless given);
    ``sample_every``: seconds between two samples of the queue depths while a worker runs.
    """

    def __init__(self, registry: CollectorRegistry = REGISTRY, *, sample_every: float = SAMPLE_EVERY) -> None:
        self.metrics = metrics(registry)
        self.sample_every = sample_every
        self._started: dict[str, float] = {}
        self._sampler: Sampler | None = None

    def before_run(self, job: Prepared) -> None:
        queue = job.delivery.queue
        self._started[job.id] = time.perf_counter()
        self.metrics.in_flight.labels(queue).inc()
        if job.delivery.attempts == 1:
            self.metrics.wait.labels(queue).observe(max(time.time() - job.message.created_at, 0.0))

    def after_run(self, job: Prepared, outcome: RunOutcome) -> None:
        queue, task = job.delivery.queue, job.task.name
        self.metrics.jobs.labels(queue, task, outcome).inc()
        started = self._started.pop(job.id, None)
        if started is not None:
            self.metrics.duration.labels(queue, task).observe(time.perf_counter() - started)
            self.metrics.in_flight.labels(queue).dec()

    def on_worker_start(self, worker: Worker) -> None:
        self.metrics.worker_up.inc()
        self._sampler = Sampler(self.metrics, lambda: worker.app.broker, worker.queues, self.sample_every)
        self._sampler.start()

    def on_worker_stop(self, worker: Worker) -> None:
        self.metrics.worker_up.dec()
        if self._sampler is not None:
            self._sampler.stop()
            self._sampler = None


class Sampler:
    """A thread that samples queue depths and noticed state resets every few seconds."""

    def __init__(self, metrics: Metrics, broker: Callable[[], Broker], queues: Sequence[str] | None,
                 every: float) -> None:
        self.metrics, self.broker, self.queues, self.every = metrics, broker, queues, every
        self._stop = threading.Event()
        self._resets_seen = 0
        self._thread = threading.Thread(target=self._loop, name="queuekit-metrics", daemon=True)

    def start(self) -> None:
        """Sample now and then every ``every`` seconds, until :meth:`stop`."""
        self._thread.start()

    def stop(self) -> None:
        """Stop sampling."""
        self._stop.set()
        self._thread.join(timeout=self.every + 5)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.sample()
            except Exception as exc:  # an unreachable broker must not end the sampling
                logging.getLogger("queuekit.metrics").warning("sampling queue depths failed: %s", str(exc)[:200])
            self._stop.wait(self.every)

    def sample(self) -> None:
        """Read the queue depths and any new state resets once."""
        broker = self.broker()
        for queue, stats in broker.stats(list(self.queues) if self.queues else None).items():
            for state in STATES:
                self.metrics.depth.labels(queue, state).set(getattr(stats, state))
        if not (broker.capabilities.detects_state_loss and isinstance(broker, StateLossReporter)):
            return
        resets = broker.resets
        for reset in resets[self._resets_seen:]:
            self.metrics.resets.labels(getattr(reset, "queue", "")).inc()
        self._resets_seen = max(self._resets_seen, len(resets))


MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
SUPERVISED = "QUEUEKIT_METRICS_SUPERVISED"  # set by the supervisor: its children count, it serves


def serve(port: int, addr: str = "0.0.0.0", registry: CollectorRegistry = REGISTRY) -> Callable[[], None]:
    """Serve ``registry`` on ``/metrics`` from a background thread; return a function that stops it."""
    from prometheus_client import start_http_server

    server, thread = start_http_server(port, addr, registry=registry)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return stop


def instrument_worker(app: Any, port: int, addr: str = "0.0.0.0") -> Callable[[], None]:
    """``--metrics-port``: count this worker's jobs; serve them unless a supervisor serves the sum."""
    app.add_middleware(PrometheusMiddleware())
    if os.environ.get(SUPERVISED):
        return lambda: None
    return serve(port, addr)


def serve_children(
    port: int, addr: str = "0.0.0.0",
) -> tuple[dict[str, str], Callable[[int], None], Callable[[], None]]:
    """For a supervisor: the environment its children need, a call for each dead child, and a stop.

    The children write their metrics to files in a fresh directory; the supervisor serves
    their sum (prometheus_client's multiprocess mode) and removes the directory on stop.
    """
    import shutil
    import tempfile

    from prometheus_client import multiprocess

    folder = tempfile.mkdtemp(prefix="queuekit-metrics-")
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=folder)  # type: ignore[no-untyped-call]
    stop_serving = serve(port, addr, registry)

    def child_exited(pid: int) -> None:
        multiprocess.mark_process_dead(pid, folder)  # type: ignore[no-untyped-call]

    def stop() -> None:
        stop_serving()
        shutil.rmtree(folder, ignore_errors=True)

    return {MULTIPROC_DIR: folder, SUPERVISED: "1"}, child_exited, stop
