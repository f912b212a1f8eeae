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


def queuekit_figures(
    url: str, queue: str, jobs: int, singles: int, concurrency: int, prefetch: int
) -> dict[str, float]:
    """Batch enqueue, single enqueue and drain through queuekit's public API."""
    app = queuekit.App(url, default_queue=queue)
    done = [0]
    finished = threading.Event()
    lock = threading.Lock()

    @app.task(name="bench.noop", store_result=False)
    def noop(i: int) -> None:
        with lock:
            done[0] += 1
            if done[0] >= jobs + singles:
                finished.set()

    noop.delay(-1)  # declare the queue and open the connection outside the timings
    done[0] -= 1
    start = time.perf_counter()
    for i in range(singles):
        noop.delay(i)
    single = singles / (time.perf_counter() - start)
    start = time.perf_counter()
    app.enqueue_many(noop.message(i) for i in range(jobs))
    batch = jobs / (time.perf_counter() - start)
    worker = app.worker(concurrency=concurrency, prefetch=prefetch)
    start = time.perf_counter()
    worker.start()
    finished.wait(600)
    drain = (jobs + singles) / (time.perf_counter() - start)
    worker.stop()
    worker.join(30)
    latency = latency_p50(app, queue)
    app.close()
    return {"single_enqueue": single, "batch_enqueue": batch, "drain": drain, **latency}


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
    """Run every figure and print them as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="amqp://guest:guest@127.0.0.1:5672/%2F")
    parser.add_argument("--jobs", type=int, default=20000)
    parser.add_argument("--singles", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--prefetch", type=int, default=98)
    args = parser.parse_args()
    tag = uuid.uuid4().hex[:8]
    raw_q, qk_q = f"qkbench-raw-{tag}", f"qkbench-qk-{tag}"
    try:
        raw = {
            "single_confirmed": raw_confirmed_single(args.url, raw_q, args.singles),
            "batch_confirmed": raw_batch_confirmed(args.url, raw_q, args.jobs),
            "unconfirmed": raw_unconfirmed(args.url, raw_q, args.jobs),
        }
        raw["consume_ack_prefetch100"] = raw_consume_ack(args.url, raw_q, 2 * args.jobs + args.singles)
        ours = queuekit_figures(args.url, qk_q, args.jobs, args.singles, args.concurrency, args.prefetch)
    finally:
        cleanup(args.url, [raw_q, qk_q])
    ratios = {
        "drain_vs_raw_consume_ack": ours["drain"] / raw["consume_ack_prefetch100"],
        "single_enqueue_vs_raw_confirmed": ours["single_enqueue"] / raw["single_confirmed"],
        "batch_enqueue_vs_raw_batch_confirmed": ours["batch_enqueue"] / raw["batch_confirmed"],
        "batch_enqueue_vs_raw_unconfirmed": ours["batch_enqueue"] / raw["unconfirmed"],
    }
    print(json.dumps({"raw_pika": raw, "queuekit": ours, "ratios": ratios}, indent=2))


if __name__ == "__main__":
    main()
