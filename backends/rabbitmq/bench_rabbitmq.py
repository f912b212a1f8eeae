"""Measure queuekit-rabbitmq beside raw pika on the same server, in the same run.

    python backends/rabbitmq/bench_rabbitmq.py [--url amqp://...] [--jobs 20000]

Prints one line per figure and the ratios the issue asks for. Every queue it uses is
named ``qkbench-<random>`` and deleted at the end. Not a test: no thresholds here.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
import uuid
from typing import Any

import pika  # type: ignore[import-untyped]

import queuekit

PERSISTENT = 2


def _raw_channel(url: str) -> tuple[Any, Any]:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    return connection, connection.channel()


def raw_confirmed_single(url: str, queue: str, count: int) -> float:
    """Publish one persistent message at a time, waiting for each confirm."""
    connection, channel = _raw_channel(url)
    channel.queue_declare(queue, durable=True)
    channel.confirm_delivery()
    props = pika.BasicProperties(delivery_mode=PERSISTENT)
    start = time.perf_counter()
    for i in range(count):
        channel.basic_publish("", queue, b"x%d" % i, props, mandatory=True)
    rate = count / (time.perf_counter() - start)
    connection.close()
    return rate


def raw_batch_confirmed(url: str, queue: str, count: int) -> float:
    """Publish persistent messages on a SelectConnection and wait for every confirm (async)."""
    from pika.adapters.select_connection import IOLoop  # type: ignore[import-untyped]

    loop = IOLoop()
    state = {"confirmed": 0, "start": 0.0, "end": 0.0}

    def on_confirm(frame: Any) -> None:
        tag = frame.method.delivery_tag
        state["confirmed"] = tag if frame.method.multiple else state["confirmed"] + 1
        if state["confirmed"] >= count:
            state["end"] = time.perf_counter()
            channel.connection.close()

    def publish_all(_frame: Any) -> None:
        props = pika.BasicProperties(delivery_mode=PERSISTENT)
        state["start"] = time.perf_counter()
        for i in range(count):
            channel.basic_publish("", queue, b"x%d" % i, props, True)

    def on_channel(opened: Any) -> None:
        global channel
        channel = opened
        opened.confirm_delivery(on_confirm, callback=lambda _f: opened.queue_declare(
            queue, durable=True, callback=publish_all))

    pika.SelectConnection(
        pika.URLParameters(url), on_open_callback=lambda conn: conn.channel(on_open_callback=on_channel),
        on_close_callback=lambda _c, _e: loop.stop(), custom_ioloop=loop,
    )
    loop.start()
    return count / (state["end"] - state["start"])


channel: Any = None


def raw_unconfirmed(url: str, queue: str, count: int) -> float:
    """Publish persistent messages without confirms (the ceiling of a Python publisher)."""
    connection, channel = _raw_channel(url)
    channel.queue_declare(queue, durable=True)
    props = pika.BasicProperties(delivery_mode=PERSISTENT)
    start = time.perf_counter()
    for i in range(count):
        channel.basic_publish("", queue, b"x%d" % i, props)
    connection.process_data_events(0)
    rate = count / (time.perf_counter() - start)
    connection.close()
    return rate


def raw_consume_ack(url: str, queue: str, count: int, prefetch: int = 100) -> float:
    """basic.consume with prefetch, ack every message as it arrives."""
    connection, channel = _raw_channel(url)
    channel.basic_qos(prefetch_count=prefetch)
    seen = [0]
    start = [0.0]

    def on_message(ch: Any, method: Any, _props: Any, _body: bytes) -> None:
        if seen[0] == 0:
            start[0] = time.perf_counter()
        ch.basic_ack(method.delivery_tag)
        seen[0] += 1
        if seen[0] >= count:
            ch.stop_consuming()

    channel.basic_consume(queue, on_message)
    channel.start_consuming()
    rate = (count - 1) / (time.perf_counter() - start[0])
    connection.close()
    return rate


class Ours:
    """queuekit's side of each figure, through the public API, on one app."""

    def __init__(self, url: str, queue: str, concurrency: int, prefetch: int) -> None:
        self.app = queuekit.App(url, default_queue=queue)
        self.concurrency, self.prefetch = concurrency, prefetch
        self.done = 0
        self.target = 0
        self.finished = threading.Event()
        self.lock = threading.Lock()

        @self.app.task(name="bench.noop", store_result=False)
        def noop(i: int) -> None:
            with self.lock:
                self.done += 1
                if self.done >= self.target:
                    self.finished.set()

        self.noop = noop
        noop.delay(-1)  # declare the queue and open the connections outside the timings
        self.drain(1)

    def single(self, count: int) -> float:
        start = time.perf_counter()
        for i in range(count):
            self.noop.delay(i)
        return count / (time.perf_counter() - start)

    def batch(self, count: int) -> float:
        start = time.perf_counter()
        self.app.enqueue_many(self.noop.message(i) for i in range(count))
        return count / (time.perf_counter() - start)

    def drain(self, count: int) -> float:
        self.done, self.target = 0, count
        self.finished.clear()
        worker = self.app.worker(concurrency=self.concurrency, prefetch=self.prefetch)
        start = time.perf_counter()
        worker.start()
        self.finished.wait(600)
        rate = count / (time.perf_counter() - start)
        worker.stop()
        worker.join(30)
        return rate


def latency_p50(app: queuekit.App, queue: str, rate: float = 200.0, count: int = 1000) -> dict[str, float]:
    """End-to-end latency (enqueue call to task start) at a fixed arrival rate."""
    latencies: list[float] = []
    got = threading.Event()

    @app.task(name="bench.stamp", store_result=False)
    def stamp(sent: float) -> None:
        latencies.append(time.time() - sent)
        if len(latencies) >= count:
            got.set()

    worker = app.worker(concurrency=2)
    worker.start()
    start = time.perf_counter()
    for i in range(count):
        pause = start + i / rate - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        stamp.delay(time.time())
    got.wait(60)
    worker.stop()
    worker.join(30)
    ordered = sorted(latencies)
    return {
        "latency_p50_ms": statistics.median(ordered) * 1000,
        "latency_p99_ms": ordered[int(len(ordered) * 0.99) - 1] * 1000,
    }


def cleanup(url: str, queues: list[str]) -> None:
    """Delete the benchmark's queues."""
    connection, channel = _raw_channel(url)
    for name in queues:
        channel.queue_delete(name)
        channel.queue_delete(f"{name}@dead")
    connection.close()


def main() -> None:
    """Run the figures in interleaved rounds (raw, then queuekit) and print medians as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="amqp://guest:guest@127.0.0.1:5672/%2F")
    parser.add_argument("--jobs", type=int, default=20000)
    parser.add_argument("--singles", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--prefetch", type=int, default=98)
    args = parser.parse_args()
    tag = uuid.uuid4().hex[:8]
    raw_q, qk_q = f"qkbench-raw-{tag}", f"qkbench-qk-{tag}"
    rows: dict[str, list[float]] = {}

    def note(name: str, value: float) -> None:
        rows.setdefault(name, []).append(value)

    try:
        ours = Ours(args.url, qk_q, args.concurrency, args.prefetch)
        for _ in range(args.rounds):
            note("raw single_confirmed", raw_confirmed_single(args.url, raw_q, args.singles))
            note("queuekit single_enqueue", ours.single(args.singles))
            note("raw batch_confirmed", raw_batch_confirmed(args.url, raw_q, args.jobs))
            note("queuekit batch_enqueue", ours.batch(args.jobs))
            note("raw consume_ack_prefetch100", raw_consume_ack(args.url, raw_q, args.jobs + args.singles))
            note("queuekit drain", ours.drain(args.jobs + args.singles))
        note("raw unconfirmed", raw_unconfirmed(args.url, raw_q, args.jobs))
        raw_consume_ack(args.url, raw_q, args.jobs)
        latency = latency_p50(ours.app, qk_q)
        ours.app.close()
    finally:
        cleanup(args.url, [raw_q, qk_q])
    pairs = {
        "drain_vs_raw_consume_ack": ("queuekit drain", "raw consume_ack_prefetch100"),
        "single_enqueue_vs_raw_confirmed": ("queuekit single_enqueue", "raw single_confirmed"),
        "batch_enqueue_vs_raw_batch_confirmed": ("queuekit batch_enqueue", "raw batch_confirmed"),
    }
    ratios = {
        name: statistics.median(a / b for a, b in zip(rows[ours_key], rows[raw_key], strict=True))
        for name, (ours_key, raw_key) in pairs.items()
    }
    medians = {name: round(statistics.median(values)) for name, values in rows.items()}
    report = {"median_rates_per_s": medians, "median_ratios_per_round": ratios, **latency}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
