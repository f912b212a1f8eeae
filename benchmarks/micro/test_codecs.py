"""Per-codec costs: build a message, encode it, decode it, signed and not, and an outcome.

    pytest benchmarks/micro/test_codecs.py --benchmark-group-by=func --benchmark-columns=median,ops

Each codec is measured on the same 100-byte-argument message the other micro-benchmarks send.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from queuekit_bench.tasks import NOOP, bench_app

from queuekit.broker import JobStatus, Outcome
from queuekit.codec import Codec, codec_named
from queuekit.message import DEFAULT_MAX_SIZE, Message, Signer

APP = bench_app("memory://")
SIGNER = Signer.from_secret("micro")
NAMES = ["json", "msgspec"]


@pytest.fixture(params=NAMES)
def codec(request: pytest.FixtureRequest) -> Codec:
    if request.param == "msgspec":
        pytest.importorskip("msgspec")
    return codec_named(str(request.param))


def _message() -> Message:
    return APP.tasks[NOOP].build(("x" * 100,), queue="codec")


def test_build(benchmark: Any) -> None:
    assert benchmark(_message).task == NOOP


def test_encode(benchmark: Any, codec: Codec) -> None:
    message = _message()
    body = benchmark(codec.encode, message, max_size=DEFAULT_MAX_SIZE)
    assert codec.decode(body, max_size=DEFAULT_MAX_SIZE).id == message.id


def test_decode(benchmark: Any, codec: Codec) -> None:
    message = _message()
    body = codec.encode(message, max_size=DEFAULT_MAX_SIZE)
    assert benchmark(codec.decode, body, max_size=DEFAULT_MAX_SIZE).id == message.id


def test_encode_signed(benchmark: Any, codec: Codec) -> None:
    body = benchmark(codec.encode, _message(), max_size=DEFAULT_MAX_SIZE, signer=SIGNER)
    assert b'"sig"' in body


def test_decode_signed(benchmark: Any, codec: Codec) -> None:
    message = _message()
    body = codec.encode(message, max_size=DEFAULT_MAX_SIZE, signer=SIGNER)
    assert benchmark(codec.decode, body, max_size=DEFAULT_MAX_SIZE, signer=SIGNER).id == message.id


def test_encode_outcome(benchmark: Any, codec: Codec) -> None:
    outcome = Outcome("0" * 32, JobStatus.SUCCEEDED, result=None, attempts=1, finished_at=time.time())
    assert codec.decode_outcome(benchmark(codec.encode_outcome, outcome)) == outcome
