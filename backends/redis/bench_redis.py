"""Quick Redis benchmark: queuekit beside raw redis-py on the same server, same run.

    python backends/redis/bench_redis.py [--url redis://127.0.0.1:6379/0] [--jobs 20000]

Figures (jobs or commands per second, latency in ms):

* raw single LPUSH (one round trip each) and raw pipelined LPUSH (1,000 per round trip);
* single enqueue: ``RedisBroker.enqueue([env])`` and ``task.delay()``;
* batch enqueue: ``RedisBroker.enqueue(1,000 envelopes)`` and ``app.enqueue_many``;
* drain: one worker (default settings, burst mode) running ``--jobs`` no-op jobs;
* latency enqueue -> start at 200 jobs/s with an idle worker (p50, p99).

Every key it writes is under a fresh prefix and deleted at the end. On a shared machine
read the figures beside ``load_average_1min`` and ``drain_cpu_us_per_job`` (the worker
process's CPU per job, which other load does not inflate much).

The full suite is ``queuekit bench``; this script stays small on purpose.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import threading
import time
import uuid
from collections.abc import Callable

import redis
from queuekit_redis import RedisBroker

from queuekit import App
from queuekit.broker import Envelope

BODY = b'{"v":1,"task":"bench.noop","args":[1],"kwargs":{}}' + b" " * 100


def rate(count: int, fn: Callable[[], None]) -> float:
    """Run ``fn`` (which does ``count`` operations) and return operations per second."""
    start = time.perf_counter()
    fn()
    return count / (time.perf_counter() - start)


class Rates:
    """The enqueue measurements, taken in interleaved rounds so that load on a shared
    machine hits queuekit and raw redis-py alike; each figure is the median round."""

    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url.split("?")[0])  # raw redis-py: no queuekit options
        self.raw_key = f"bench-raw-{uuid.uuid4().hex}"
        self.broker = RedisBroker(url)
        self.app = App(url)
        self.queue = f"bench-{uuid.uuid4().hex[:8]}"
        task = self.app.task(queue=self.queue, name="bench.noop")(_noop)
        self.task = task
        self.samples: dict[str, list[float]] = {}

    def _add(self, name: str, count: int, fn: Callable[[], None]) -> None:
        self.samples.setdefault(name, []).append(rate(count, fn))

    def round(self, singles: int, batched: int) -> None:
        """One round of every enqueue measurement."""
        envs = [Envelope(uuid.uuid4().hex, self.queue, BODY) for _ in range(singles + batched)]
        pipe = self.client.pipeline(transaction=False)

        def raw_single() -> None:
            for _ in range(singles):
                self.client.lpush(self.raw_key, BODY)

        def raw_pipelined() -> None:
            for index in range(batched):
                pipe.lpush(self.raw_key, BODY)
                if index % 1000 == 999:
                    pipe.execute()
            pipe.execute()

        def broker_single() -> None:
            for env in envs[:singles]:
                self.broker.enqueue([env])

        def broker_batch() -> None:
            for start in range(singles, len(envs), 1000):
                self.broker.enqueue(envs[start : start + 1000])

        def app_single() -> None:
            for i in range(singles):
                self.task.delay(i)

        def app_batch() -> None:
            for start in range(0, batched, 1000):
                self.app.enqueue_many([self.task.message(i) for i in range(start, start + 1000)])

        self._add("raw_single_lpush", singles, raw_single)
        self._add("broker_single_enqueue", singles, broker_single)
        self._add("app_single_delay", singles, app_single)
        self._add("raw_pipelined_lpush", batched, raw_pipelined)
        self._add("broker_batch_enqueue", batched, broker_batch)
        self._add("app_enqueue_many", batched, app_batch)
        self.client.delete(self.raw_key)
        self.broker.purge(self.queue)

    def figures(self) -> dict[str, float]:
        """The median of every measurement."""
        return {name: statistics.median(values) for name, values in self.samples.items()}

    def close(self) -> None:
        """Release connections."""
        self.client.close()
        self.broker.close()
        self.app.close()


def _noop(i: int) -> None:
    return None


def drain(url: str, count: int) -> dict[str, float]:
    """One worker at default settings (burst mode) running ``count`` no-op jobs."""
    app = App(url)
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    task = app.task(queue=queue, name="bench.noop")(_noop)
    for start in range(0, count, 1000):
        app.enqueue_many([task.message(i) for i in range(start, min(start + 1000, count))])
    worker = app.worker(queues=[queue], burst=True)
    cpu = time.process_time()
    figures = {"drain": rate(count, lambda: worker.run(install_signals=False) and None)}
    figures["drain_cpu_us_per_job"] = 1e6 * (time.process_time() - cpu) / count  # this process, all threads
    figures["drain_acked"] = float(worker.counts["ack"])
    app.close()
    return figures


def latency(url: str, count: int, per_second: float) -> dict[str, float]:
    """Enqueue -> start latency at a fixed rate with an idle worker in this process."""
    app = App(url)
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    seen: list[float] = []
    done = threading.Event()

    @app.task(queue=queue, name="bench.stamp", store_result=False)
    def stamp(sent: float) -> None:
        seen.append(time.time() - sent)
        if len(seen) >= count:
            done.set()

    worker = app.worker(queues=[queue])
    worker.start()
    time.sleep(0.5)  # let the worker go idle (blocked on the server) before measuring
    for _ in range(count):
        stamp.delay(time.time())
        time.sleep(1 / per_second)
    done.wait(30)
    worker.stop()
    worker.join(30)
    app.close()
    ordered = sorted(seen)
    return {
        "latency_p50_ms": 1000 * statistics.median(ordered),
        "latency_p99_ms": 1000 * ordered[int(0.99 * (len(ordered) - 1))],
    }


def main() -> None:
    """Run every measurement on one server and print the figures and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--jobs", type=int, default=20000, help="jobs to drain")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds of the enqueue measurements")
    parser.add_argument("--singles", type=int, default=1000, help="one-at-a-time enqueues per round")
    parser.add_argument("--batched", type=int, default=10000, help="jobs enqueued in batches of 1,000 per round")
    parser.add_argument("--latency-jobs", type=int, default=400)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    opts = parser.parse_args()
    prefix = f"qkbench-redis-{uuid.uuid4().hex[:8]}"  # every key this run writes; deleted at the end
    opts.url = f"{opts.url}{'&' if '?' in opts.url else '?'}prefix={prefix}"
    try:
        run(opts)
    finally:
        cleanup(opts.url.split("?")[0], prefix)


def cleanup(url: str, prefix: str) -> None:
    """Delete every key of this run (queues and results)."""
    client = redis.Redis.from_url(url)
    for pattern in (f"{{{prefix}:*", f"{prefix}:*"):
        keys = list(client.scan_iter(match=pattern, count=5000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])
    client.close()


def run(opts: argparse.Namespace) -> None:
    """Measure and print."""
    rates = Rates(opts.url)
    for _ in range(opts.rounds):
        rates.round(opts.singles, opts.batched)
    figures = rates.figures()
    rates.close()
    figures.update(drain(opts.url, opts.jobs))
    figures.update(latency(opts.url, opts.latency_jobs, 200.0))
    figures["load_average_1min"] = os.getloadavg()[0]  # a shared machine: read the figures beside it
    figures["single_ratio_broker"] = figures["broker_single_enqueue"] / figures["raw_single_lpush"]
    figures["single_ratio_app"] = figures["app_single_delay"] / figures["raw_single_lpush"]
    figures["batch_ratio_broker"] = figures["broker_batch_enqueue"] / figures["raw_pipelined_lpush"]
    figures["batch_ratio_app"] = figures["app_enqueue_many"] / figures["raw_pipelined_lpush"]
    if opts.json:
        print(json.dumps(figures, indent=2))
        return
    for name, value in figures.items():
        print(f"{name:24s} {value:12.2f}")


if __name__ == "__main__":
    main()
