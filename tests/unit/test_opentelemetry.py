"""OpenTelemetry spans in one process: the SDK's in-memory exporter, the memory broker, a burst worker."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.importorskip("opentelemetry.sdk", reason='needs pip install "queuekit[otel]"')

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from queuekit import App
from queuekit.contrib.opentelemetry import instrument


@pytest.fixture
def traced() -> Iterator[tuple[App, InMemorySpanExporter, TracerProvider]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = App("memory://", backoff=0.01, max_backoff=0.01)
    assert instrument(app, tracer_provider=provider) is instrument(app, tracer_provider=provider)
    assert len(app.middleware) == 1
    yield app, exporter, provider
    app.close()


def _drain(app: App) -> None:
    while any(s.ready or s.delayed for s in app.broker.stats(None).values()):
        assert app.worker(burst=True, concurrency=1, grace=5.0).run(install_signals=False) == 0


def _kind(spans: tuple[ReadableSpan, ...], kind: SpanKind) -> list[ReadableSpan]:
    return [span for span in spans if span.kind is kind]


def test_the_consumer_span_is_the_producer_spans_child_and_a_task_span_is_its_child(
    traced: tuple[App, InMemorySpanExporter, TracerProvider],
) -> None:
    app, exporter, provider = traced
    tracer = provider.get_tracer("test")

    @app.task(queue="mail")
    def send(n: int) -> int:
        with tracer.start_as_current_span("inside the task"):
            return n

    with tracer.start_as_current_span("request") as request:
        job = send.delay(1)
    _drain(app)
    assert job.result(timeout=5) == 1
    spans = exporter.get_finished_spans()
    [producer] = _kind(spans, SpanKind.PRODUCER)
    [consumer] = _kind(spans, SpanKind.CONSUMER)
    [inside] = [span for span in spans if span.name == "inside the task"]
    trace_id = request.get_span_context().trace_id
    assert producer.parent is not None and producer.parent.span_id == request.get_span_context().span_id
    assert producer.name == "send mail" and consumer.name == "process mail"
    assert consumer.context is not None and producer.context is not None and inside.context is not None
    assert {producer.context.trace_id, consumer.context.trace_id, inside.context.trace_id} == {trace_id}
    assert consumer.parent is not None and consumer.parent.span_id == producer.context.span_id
    assert inside.parent is not None and inside.parent.span_id == consumer.context.span_id
    assert dict(consumer.attributes or {}) == {
        "messaging.system": "queuekit", "messaging.operation.type": "process", "messaging.operation.name": "process",
        "messaging.destination.name": "mail", "messaging.message.id": job.id, "queuekit.task": send.name,
        "queuekit.attempt": 1, "queuekit.outcome": "succeeded",
    }
    assert (producer.attributes or {})["messaging.operation.type"] == "send"
    assert consumer.status.status_code is StatusCode.UNSET


def test_a_retry_is_a_new_span_in_the_same_trace_and_errors_are_recorded(
    traced: tuple[App, InMemorySpanExporter, TracerProvider],
) -> None:
    app, exporter, _ = traced

    @app.task(retries=1)
    def always() -> None:
        raise ValueError("nope")

    always.delay()
    _drain(app)
    spans = exporter.get_finished_spans()
    [producer] = _kind(spans, SpanKind.PRODUCER)
    consumers = sorted(_kind(spans, SpanKind.CONSUMER), key=lambda span: (span.attributes or {})["queuekit.attempt"])
    assert [(c.attributes or {})["queuekit.outcome"] for c in consumers] == ["retried", "failed"]
    assert producer.context is not None
    for consumer in consumers:
        assert consumer.context is not None and consumer.context.trace_id == producer.context.trace_id
        assert consumer.parent is not None and consumer.parent.span_id == producer.context.span_id
        assert consumer.status.status_code is StatusCode.ERROR
        [event] = consumer.events
        assert event.name == "exception" and (event.attributes or {})["exception.message"] == "nope"
    assert consumers[0].context is not None and consumers[1].context is not None
    assert consumers[0].context.span_id != consumers[1].context.span_id
