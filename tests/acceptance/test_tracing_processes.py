"""A trace across processes: enqueue here inside a span, run the job in a worker process that writes its spans to a
file; the worker's consumer span carries the producer's trace id and has the producer span as parent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("opentelemetry.sdk", reason='needs pip install "queuekit[otel]"')

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from queuekit import App
from queuekit.contrib.opentelemetry import instrument
from tests.support import wait_until

HERE = Path(__file__).parent


def test_the_worker_process_continues_the_producers_trace(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    spans_file = tmp_path / "worker-spans.jsonl"
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    producer_app = App(url)
    instrument(producer_app, tracer_provider=provider)

    @producer_app.task(queue="observed", name="observed_app.flaky", retries=1)
    def flaky(n: int) -> int:  # the worker runs its own definition of this name (observed_app.flaky)
        return n

    with provider.get_tracer("test").start_as_current_span("web request"):
        job = flaky.delay(3)
    producer_app.close()
    [producer] = [span for span in exporter.get_finished_spans() if span.kind is SpanKind.PRODUCER]
    assert producer.context is not None

    env = {**os.environ, "QUEUEKIT_BROKER_URL": url, "QK_OTEL_FILE": str(spans_file),
           "PYTHONPATH": os.pathsep.join([str(HERE), str(HERE.parents[1])])}

    def burst_until_succeeded() -> bool:  # the retry is due 0.05 s after the first attempt: a later burst runs it
        done = subprocess.run([sys.executable, "-m", "queuekit", "worker", "observed_app:app", "--burst",
                               "--concurrency", "1"], env=env, cwd=HERE, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return spans_file.exists() and "succeeded" in spans_file.read_text()

    wait_until(burst_until_succeeded, timeout=90, what="the retry to succeed in a worker process")
    spans = [json.loads(line) for line in spans_file.read_text().splitlines()]
    consumers = [span for span in spans if span["kind"] == "SpanKind.CONSUMER"]
    assert [span["attributes"]["queuekit.outcome"] for span in consumers] == ["retried", "succeeded"]
    trace_id = f"0x{producer.context.trace_id:032x}"
    parent_id = f"0x{producer.context.span_id:016x}"
    for span in consumers:
        assert span["context"]["trace_id"] == trace_id
        assert span["parent_id"] == parent_id
        assert span["attributes"]["messaging.message.id"] == job.id
    assert consumers[0]["status"]["status_code"] == "ERROR"
    assert consumers[0]["events"][0]["attributes"]["exception.message"] == "first attempt fails"
    assert consumers[0]["context"]["span_id"] != consumers[1]["context"]["span_id"]
