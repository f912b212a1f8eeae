"""Quick Redis benchmark: queuekit beside raw redis-py on the same server, same run.

    python backends/redis/bench_redis.py [--url redis://127.0.0.1:6379/0] [--jobs 20000]

Figures (jobs or commands per second, latency in ms):

* raw single LPUSH (one round trip each) and raw pipelined LPUSH (1,000 per round trip);
* single enqueue: ``RedisBroker.enqueue([env])`` and ``task.delay()``;
* batch enqueue: ``RedisBroker.enqueue(1,000 envelopes)`` and ``app.enqueue_many``;
* drain: one worker (default settings, burst mode) running ``--jobs`` no-op jobs;
* latency enqueue -> start at 200 jobs/s with an idle worker (p50, p99).

The full suite is ``queuekit bench``; this script stays small on purpose.
"""

from __future__ import annotations

import argparse
import json
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


def raw_rates(url: str, singles: int, piped: int) -> dict[str, float]:
    """Raw redis-py: LPUSH one round trip at a time, and pipelined 1,000 at a time."""
    client = redis.Redis.from_url(url)
    key = f"bench-raw-{uuid.uuid4().hex}"

    def single() -> None:
        for _ in range(singles):
            client.lpush(key, BODY)

    def pipelined() -> None:
        pipe = client.pipeline(transaction=False)
        for index in range(piped):
            pipe.lpush(key, BODY)
            if index % 1000 == 999:
                pipe.execute()
        pipe.execute()

    try:
        return {"raw_single_lpush": rate(singles, single), "raw_pipelined_lpush": rate(piped, pipelined)}
    finally:
        client.delete(key)
        client.close()


def broker_rates(url: str, singles: int, batched: int) -> dict[str, float]:
    """RedisBroker.enqueue with pre-encoded envelopes: one at a time and 1,000 at a time."""
    broker = RedisBroker(url)
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    envs = [Envelope(uuid.uuid4().hex, queue, BODY) for _ in range(singles + batched)]

    def single() -> None:
        for env in envs[:singles]:
            broker.enqueue([env])

    def batch() -> None:
        rest = envs[singles:]
        for start in range(0, len(rest), 1000):
            broker.enqueue(rest[start : start + 1000])

    try:
        return {"broker_single_enqueue": rate(singles, single), "broker_batch_enqueue": rate(batched, batch)}
    finally:
        broker.purge(queue)
        broker.close()


def app_rates(url: str, singles: int, batched: int, drained: int) -> dict[str, float]:
    """Through the App: task.delay, app.enqueue_many, and one worker draining no-op jobs."""
    app = App(url)
    queue = f"bench-{uuid.uuid4().hex[:8]}"

    @app.task(queue=queue, name="bench.noop")
    def noop(i: int) -> None:
        return None

    figures = {"app_single_delay": rate(singles, lambda: [noop.delay(i) for i in range(singles)] and None)}
    def many() -> None:
        for start in range(0, batched, 1000):
            app.enqueue_many([noop.message(i) for i in range(start, start + 1000)])

    figures["app_enqueue_many"] = rate(batched, many)
    app.broker.purge(queue)
    app.enqueue_many([noop.message(i) for i in range(drained)])
    worker = app.worker(queues=[queue], burst=True)
    figures["drain"] = rate(drained, lambda: worker.run(install_signals=False) and None)
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
    parser.add_argument("--singles", type=int, default=5000, help="one-at-a-time enqueues")
    parser.add_argument("--batched", type=int, default=50000, help="jobs enqueued in batches of 1,000")
    parser.add_argument("--latency-jobs", type=int, default=400)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    opts = parser.parse_args()
    figures = raw_rates(opts.url, opts.singles, opts.batched * 2)
    figures.update(broker_rates(opts.url, opts.singles, opts.batched))
    figures.update(app_rates(opts.url, opts.singles, opts.batched, opts.jobs))
    figures.update(latency(opts.url, opts.latency_jobs, 200.0))
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
