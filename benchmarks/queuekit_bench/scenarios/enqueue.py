"""Enqueue: single-message and batch rates from one producer, and with concurrent producers.

``single`` and ``batch`` time the send of messages built beforehand; ``delay`` and
``enqueue_many`` time what a user writes (``task.delay()`` one by one, ``app.enqueue_many``
in batches of 1,000, messages built inside the timing) beside the raw client's single
command and its batch of 1,000 (pipelined RPUSH, executemany, ...). ``build``: the messages
of ``enqueue_many`` built and encoded but never sent, beside the same raw batches: how much
of ``enqueue_many`` is the core's work before any I/O. ``threads_8``: 8 threads
of one process calling ``delay()`` at once, beside one thread doing the same (its "raw").
``threads_8_window`` (RabbitMQ): the same 8 threads beside the raw client publishing with 8
confirms in flight on one channel, the most this server's confirm cycle gives 8 waiting
publishers whatever the client does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from queuekit_bench.agents import wait
from queuekit_bench.context import BackendRun, reply_float
from queuekit_bench.figures import Figure, figure, measure
from queuekit_bench.raw import RawQueue, WindowedPublisher
from queuekit_bench.stats import rate


def run(ctx: BackendRun) -> dict[str, Any]:
    """Figures in jobs/s: ``single``, ``batch``, ``delay``, ``enqueue_many``, ``build`` (with raw baselines),
    ``threads_8`` (beside one thread) and ``producers``."""
    s = ctx.settings
    ctx.say(f"enqueue: {s.enqueue_jobs} single, {s.batch_jobs} in batches of {s.batch_size}")
    single = _one_producer(ctx, "single", s.enqueue_jobs, 1)
    batch = _one_producer(ctx, "batch", s.batch_jobs, s.batch_size)
    ctx.say(f"enqueue: {s.enqueue_jobs} by task.delay(), {s.batch_jobs} by enqueue_many in batches of {API_BATCH}")
    delay = _through_api(ctx, "delay", s.enqueue_jobs, 1)
    many = _through_api(ctx, "enqueue_many", s.batch_jobs, API_BATCH)
    build = _through_api(ctx, "build", s.batch_jobs, API_BATCH)
    ctx.say(f"enqueue: {THREADS} threads calling task.delay() at once, beside one thread")
    threads, window = _threads(ctx)
    ctx.say(f"enqueue: {s.producers} concurrent producers")
    producers = _many_producers(ctx)
    figures = {"single": single, "batch": batch, "delay": delay, "enqueue_many": many, "build": build,
               "threads_8": threads, "producers": producers}
    if window is not None:
        figures["threads_8_window"] = window
    return {"figures": figures,
            "producers": s.producers, "batch_size": s.batch_size, "api_batch_size": API_BATCH, "threads": THREADS,
            "producer_kind": "process" if ctx.cross_process else "thread"}


def _one_producer(ctx: BackendRun, mode: str, count: int, size: int) -> Figure:
    queue = ctx.queue(f"enq-{mode}")
    raw = ctx.raw(f"enq_{mode}")
    body = ctx.body()
    command = {"queue": queue, "count": count, "mode": "batch" if size > 1 else "single", "batch": size}

    def ours(_: int) -> float:
        reply = ctx.producer.produce(command)
        ctx.app.broker.purge(queue)
        return rate(count, reply_float(reply, "t_end") - reply_float(reply, "t_start"))

    mine, theirs = measure(ctx.settings.repeats, ours, _raw_push(raw, body, count, size))
    return figure(mine, "jobs/s", "higher", theirs, raw.client if raw else None)


API_BATCH = 1000  # enqueue_many's batch, and the raw client's
THREADS = 8


def _through_api(ctx: BackendRun, mode: str, count: int, size: int) -> Figure:
    """``task.delay()`` (size 1), ``app.enqueue_many`` or its building alone, beside the raw client
    pushing the same counts."""
    queue = ctx.queue(f"enq-{mode}")
    raw = ctx.raw(f"enq_{mode}")
    command = {"queue": queue, "count": count, "mode": mode, "batch": size}

    def ours(_: int) -> float:
        reply = ctx.producer.produce(command)
        ctx.app.broker.purge(queue)
        return rate(count, reply_float(reply, "t_end") - reply_float(reply, "t_start"))

    mine, theirs = measure(ctx.settings.repeats, ours, _raw_push(raw, ctx.body(), count, size))
    return figure(mine, "jobs/s", "higher", theirs, raw.client if raw else None)


def _threads(ctx: BackendRun) -> tuple[Figure, Figure | None]:
    """``THREADS`` threads of one process calling ``delay()`` together, beside one thread, and beside
    the raw client keeping ``THREADS`` confirmed publishes in flight when it can (RabbitMQ)."""
    queue = ctx.queue("enq-threads")
    count = ctx.settings.enqueue_jobs
    raw = ctx.raw("enq_window")
    windowed = raw if isinstance(raw, WindowedPublisher) else None
    body = ctx.body()

    def calls(threads: int) -> float:
        reply = ctx.producer.produce({"queue": queue, "count": count, "mode": "delay", "threads": threads})
        ctx.app.broker.purge(queue)
        return rate(count, reply_float(reply, "t_end") - reply_float(reply, "t_start"))

    mine: list[float] = []
    one: list[float] = []
    window: list[float] = []
    for _ in range(ctx.settings.repeats):  # alternated, so that load hits all three alike
        mine.append(calls(THREADS))
        one.append(calls(1))
        if windowed is not None:
            window.append(rate(count, windowed.publish_window(body, count, THREADS)))
            windowed.purge()
    threads = figure(mine, "jobs/s", "higher", one, "queuekit, 1 thread calling delay()")
    if windowed is None or not window:
        return threads, None
    return threads, figure(mine, "jobs/s", "higher", window, f"{windowed.client}, {THREADS} confirms in flight")


def _raw_push(raw: RawQueue | None, body: bytes, count: int, size: int) -> Callable[[int], float] | None:
    if raw is None:
        return None

    def theirs(_: int) -> float:
        started = time.perf_counter()
        for first in range(0, count, size):
            raw.push([body] * min(size, count - first))
        elapsed = time.perf_counter() - started
        raw.purge()
        return rate(count, elapsed)

    return theirs


def _many_producers(ctx: BackendRun) -> Figure:
    s = ctx.settings
    agents = ctx.workers(s.producers)
    queue = ctx.queue("enq-producers")
    each = max(s.enqueue_jobs // s.producers, 1)

    def ours(index: int) -> float:
        futures = [agent.submit({"op": "produce", "queue": queue, "count": each, "mode": "single",
                                 "producer": f"r{index}p{n}"}) for n, agent in enumerate(agents)]
        replies = [wait(f) for f in futures]
        ctx.app.broker.purge(queue)
        began = min(reply_float(r, "t_start") for r in replies)
        ended = max(reply_float(r, "t_end") for r in replies)
        return rate(each * len(agents), ended - began)

    return figure(measure(s.repeats, ours)[0], "jobs/s", "higher")
