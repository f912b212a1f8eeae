"""Worker and producer processes for the fault tests: ``python -m tests.redis.procs ...``.

Every run of the task ``job(n)`` is recorded in the test's own keys, beside the queue:
``<prefix>:runs`` (a list of "n:attempts:pid") and ``<prefix>:done`` (hash n -> count),
so the test can count runs, duplicates and losses from outside.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time

import redis

from queuekit import App
from queuekit.execution import current_job

QUEUE = "faults"


def build(url: str, prefix: str, mode: str) -> App:
    """The app both kinds of process share; ``mode`` is 'hang' or 'quick'."""
    app = App(f"{url}?prefix={prefix}&retries=20&retry_backoff=0.05", lease=2.0)
    recorder = redis.Redis.from_url(url)

    @app.task(name="faults.job", queue=QUEUE, store_result=False)
    def job(n: int) -> None:
        running = current_job()
        attempts = running.delivery.attempts if running is not None else 0
        recorder.rpush(f"{prefix}:runs", f"{n}:{attempts}:{os.getpid()}")
        if mode == "hang":
            while True:  # hold the lease until SIGKILL
                time.sleep(1)
        recorder.hincrby(f"{prefix}:done", str(n), 1)

    return app


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["worker", "producer"])
    parser.add_argument("url")
    parser.add_argument("prefix")
    parser.add_argument("--mode", default="quick", choices=["quick", "hang"])
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--prefetch", type=int, default=None)
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--on-state-loss", default="continue", choices=["continue", "exit"])
    opts = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
    app = build(opts.url, opts.prefix, opts.mode)
    if opts.role == "worker":
        return app.worker(queues=[QUEUE], concurrency=opts.concurrency, prefetch=opts.prefetch, poll=0.5,
                          on_state_loss=opts.on_state_loss).run()
    task = app.get_task("faults.job")
    numbers = range(opts.start, opts.start + opts.count)
    for first in range(0, len(numbers), opts.batch):
        chunk = numbers[first : first + opts.batch]
        if len(chunk) == 1 or first % (3 * opts.batch) == 0:
            for n in chunk:  # some one at a time, most in batches
                task.delay(n)
        else:
            app.enqueue_many([task.message(n) for n in chunk])
    app.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
