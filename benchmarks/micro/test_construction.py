"""Why ``Message`` and ``Envelope`` set their fields in one update of the instance's dict.

Each is built once per enqueued job. Beside each, a twin with the same fields and the
``__init__`` that ``@dataclass(frozen=True)`` generates (one ``object.__setattr__`` per
field). The trick stays while its median beats the twin's:

    pytest benchmarks/micro/test_construction.py --benchmark-group-by=group --benchmark-columns=median,ops
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from typing import Any

import pytest
from queuekit_bench.tasks import NOOP, bench_app

from queuekit.broker import Envelope
from queuekit.message import Message, new_id


@dataclasses.dataclass(frozen=True)
class _GeneratedEnvelope:
    id: str
    queue: str
    body: bytes
    priority: int = 0
    delay: float = 0.0
    key: str | None = None


@dataclasses.dataclass(frozen=True)
class _GeneratedMessage:
    task: str
    args: tuple[Any, ...]
    kwargs: Mapping[str, Any]
    queue: str
    priority: int
    delay: float
    max_attempts: int
    timeout: float | None
    key: str | None
    id: str
    created_at: float
    headers: Mapping[str, Any]


BODY = b"x" * 200
TASK = bench_app("memory://").tasks[NOOP]


@pytest.mark.benchmark(group="envelope")
def test_envelope_one_update(benchmark: Any) -> None:
    built = benchmark(Envelope, "0" * 32, "q", BODY, 1, 0.0, None)
    assert (built.id, built.queue, built.body, built.priority) == ("0" * 32, "q", BODY, 1)


@pytest.mark.benchmark(group="envelope")
def test_envelope_generated_init(benchmark: Any) -> None:
    built = benchmark(_GeneratedEnvelope, "0" * 32, "q", BODY, 1, 0.0, None)
    assert dataclasses.astuple(built) == dataclasses.astuple(Envelope("0" * 32, "q", BODY, 1, 0.0, None))


@pytest.mark.benchmark(group="message")
def test_message_one_update(benchmark: Any) -> None:
    built = benchmark(Message, NOOP, ("",), {}, "q", 0, 0.0, 1, None)
    assert built.task == NOOP and len(built.id) == 32 and built.headers == {}


@pytest.mark.benchmark(group="message")
def test_message_generated_init(benchmark: Any) -> None:
    def build() -> _GeneratedMessage:  # what Message's own __init__ computes too: an id and a timestamp
        return _GeneratedMessage(NOOP, ("",), {}, "q", 0, 0.0, 1, None, None, new_id(), time.time(), {})

    assert benchmark(build).task == NOOP


@pytest.mark.benchmark(group="message")
def test_task_message(benchmark: Any) -> None:
    built = benchmark(TASK.message, "")
    assert (built.task, built.args, built.max_attempts) == (NOOP, ("",), TASK.options.retries + 1)
