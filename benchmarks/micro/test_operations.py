"""Per-operation costs: encode, decode, and enqueue / reserve / ack on each backend.

    pytest benchmarks/micro --benchmark-autosave                 # save a baseline
    pytest benchmarks/micro --benchmark-compare --benchmark-compare-fail=median:25%

These are single-threaded costs of one call; ``queuekit bench`` measures whole workloads.
"""

from __future__ import annotations

from typing import Any

from queuekit_bench.tasks import NOOP, bench_app

from queuekit import App, Delivery
from queuekit.message import decode, encode

ROUNDS = 300
CODEC = bench_app("memory://")  # the codec does not depend on the backend: measured once


def _message(app: App, queue: str, payload: int = 100) -> Any:
    return app.tasks[NOOP].build(("x" * payload,), queue=queue)


def _fill(app: App, queue: str, count: int) -> None:
    for first in range(0, count, 500):
        app.send([_message(app, queue) for _ in range(min(500, count - first))])


def test_encode(benchmark: Any) -> None:
    message = _message(CODEC, "codec")
    body = benchmark(encode, message)
    assert decode(body).id == message.id


def test_decode(benchmark: Any) -> None:
    message = _message(CODEC, "codec")
    body = encode(message)
    assert benchmark(decode, body).id == message.id


def test_enqueue_one(benchmark: Any, app: App, queue: str) -> None:
    ids = benchmark.pedantic(lambda: app.send([_message(app, queue)]), rounds=ROUNDS, iterations=1)
    assert len(ids) == 1


def test_enqueue_batch_of_100(benchmark: Any, app: App, queue: str) -> None:
    ids = benchmark.pedantic(lambda: app.send([_message(app, queue) for _ in range(100)]), rounds=50, iterations=1)
    assert len(ids) == 100


def test_reserve_one(benchmark: Any, app: App, queue: str) -> None:
    _fill(app, queue, ROUNDS + 10)
    got = benchmark.pedantic(lambda: app.broker.reserve([queue], 1, 300.0), rounds=ROUNDS, iterations=1)
    assert len(got) == 1


def test_ack_one(benchmark: Any, app: App, queue: str) -> None:
    _fill(app, queue, ROUNDS + 10)
    broker = app.broker

    def reserved() -> tuple[tuple[list[Delivery]], dict[str, Any]]:
        return (broker.reserve([queue], 1, 300.0),), {}

    benchmark.pedantic(broker.ack, setup=reserved, rounds=ROUNDS, iterations=1)
    assert broker.stats([queue])[queue].in_flight == 0


def test_reserve_and_ack(benchmark: Any, app: App, queue: str) -> None:
    _fill(app, queue, ROUNDS + 10)
    broker = app.broker

    def cycle() -> int:
        got = broker.reserve([queue], 1, 300.0)
        broker.ack(got)
        return len(got)

    assert benchmark.pedantic(cycle, rounds=ROUNDS, iterations=1) == 1
