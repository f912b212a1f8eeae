"""Why ``Message`` and ``Envelope`` set their fields in one update of the instance's dict.

Each is built once per enqueued job. Beside each, a twin with the same fields and the
``__init__`` that ``@dataclass(frozen=True)`` generates (one ``object.__setattr__`` per
field). The trick stays while its median beats the twin's:

    pytest benchmarks/micro/test_construction.py --benchmark-group-by=group --benchmark-columns=median,ops
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import pytest
from queuekit_bench.tasks import NOOP, bench_app

from queuekit.broker import Envelope
from queuekit.message import Message, new_id


def _generated_twin(cls: type[Any]) -> type[Any]:
    """A frozen dataclass with ``cls``'s fields, in order, and the ``__init__`` dataclass generates."""
    return dataclasses.make_dataclass(
        f"_Generated{cls.__name__}", [(f.name, f.type) for f in dataclasses.fields(cls)], frozen=True)


_GeneratedEnvelope = _generated_twin(Envelope)
_GeneratedMessage = _generated_twin(Message)


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
    def build() -> Any:  # what Message's own __init__ computes too: an id and a timestamp
        return _GeneratedMessage(NOOP, ("",), {}, "q", 0, 0.0, 1, None, None, new_id(), time.time(), {})

    assert benchmark(build).task == NOOP


@pytest.mark.benchmark(group="message")
def test_task_message(benchmark: Any) -> None:
    built = benchmark(TASK.message, "")
    assert (built.task, built.args, built.max_attempts) == (NOOP, ("",), TASK.options.retries + 1)
