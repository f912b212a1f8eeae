"""An app for the observability tests: tasks that log, fail on purpose, and (optionally) trace.

Environment: QUEUEKIT_BROKER_URL is the broker; with QK_OTEL_FILE set, the app is
instrumented with OpenTelemetry and this process's spans are written to that file as
JSON, one span per line.
"""

from __future__ import annotations

import json
import logging
import os

from queuekit import App

app = App(backoff=0.05, max_backoff=0.1)
library = logging.getLogger("somelibrary")  # not queuekit's: its lines pass through the same handler


@app.task(queue="observed")
def work(n: int) -> int:
    """Log a line (from queuekit's and another logger), fail when ``n`` is a multiple of 5."""
    logging.getLogger("queuekit.observed").info("working on %d", n)
    library.warning("library line for %d", n)
    if n % 5 == 0:
        raise ValueError(f"{n} is a multiple of 5")
    return n


@app.task(queue="observed", retries=1)
def flaky(n: int) -> int:
    """Fail on the first attempt, succeed on the second."""
    from queuekit import current_job

    job = current_job()
    if job is not None and job.delivery.attempts == 1:
        raise RuntimeError("first attempt fails")
    return n


def _trace_to_file(path: str) -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

    from queuekit.contrib.opentelemetry import instrument

    class FileExporter(SpanExporter):
        def export(self, spans):  # type: ignore[no-untyped-def]
            with open(path, "a") as out:
                for span in spans:
                    out.write(json.dumps(json.loads(span.to_json())) + "\n")
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(FileExporter()))
    trace.set_tracer_provider(provider)
    instrument(app)


if os.environ.get("QK_OTEL_FILE"):
    _trace_to_file(os.environ["QK_OTEL_FILE"])
