"""OpenTelemetry traces for queuekit (``pip install "queuekit[otel]"``): one trace from producer to worker.

::

    from queuekit.contrib.opentelemetry import instrument

    instrument(app)  # in the producer and in the worker's app module

A PRODUCER span ``send <queue>`` covers each enqueue and a CONSUMER span ``process
<queue>`` each attempt on the worker, with the OpenTelemetry messaging semantic
conventions' attributes (``messaging.system``, ``messaging.operation.type``,
``messaging.destination.name``, ``messaging.message.id``). The producer's context
travels in the message headers (W3C ``traceparent`` and ``tracestate``, through the
globally configured propagator), so the worker's span is the producer span's child, in
the same trace; each retry is a new span in that trace. A failed attempt records the
exception and sets the span's status to error.
"""

from __future__ import annotations

import collections
import contextvars
import threading
from typing import TYPE_CHECKING, Any

from opentelemetry import context, propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from queuekit.middleware import Middleware, RunOutcome, set_header

if TYPE_CHECKING:
    from queuekit.app import App
    from queuekit.execution import Prepared
    from queuekit.message import Message

SYSTEM = "queuekit"
_PENDING_LIMIT = 10_000  # producer spans awaiting after_enqueue; an enqueue that raised never ends its span


class OpenTelemetryMiddleware(Middleware):
    """Producer and consumer spans, with the trace context carried in the message headers.

    ``tracer_provider``: where spans go (the global provider unless given).
    """

    def __init__(self, tracer_provider: trace.TracerProvider | None = None) -> None:
        self.tracer = trace.get_tracer("queuekit", tracer_provider=tracer_provider)
        self._sending: collections.OrderedDict[str, trace.Span] = collections.OrderedDict()
        self._running: dict[str, tuple[trace.Span, contextvars.Token[context.Context]]] = {}
        self._lock = threading.Lock()

    def before_enqueue(self, message: Message) -> None:
        span = self.tracer.start_span(
            f"send {message.queue}", kind=SpanKind.PRODUCER,
            attributes={**_attributes(message.queue, message.id, "send"), "queuekit.task": message.task},
        )
        carrier: dict[str, str] = {}
        propagate.inject(carrier, context=trace.set_span_in_context(span))
        for name, value in carrier.items():
            set_header(message, name, value)
        with self._lock:
            self._sending[message.id] = span
            while len(self._sending) > _PENDING_LIMIT:
                self._sending.popitem(last=False)[1].end()

    def after_enqueue(self, message: Message, job_id: str) -> None:
        with self._lock:
            span = self._sending.pop(message.id, None)
        if span is not None:
            if job_id != message.id:  # a keyed job that was already queued: the broker kept the first one
                span.set_attribute("messaging.message.id", job_id)
            span.end()

    def before_run(self, job: Prepared) -> None:
        headers = {k: v for k, v in job.message.headers.items() if isinstance(v, str)}
        parent = propagate.extract(headers)
        span = self.tracer.start_span(
            f"process {job.delivery.queue}", context=parent, kind=SpanKind.CONSUMER,
            attributes={**_attributes(job.delivery.queue, job.id, "process"), "queuekit.task": job.task.name,
                        "queuekit.attempt": job.delivery.attempts},
        )
        token = context.attach(trace.set_span_in_context(span))
        with self._lock:
            self._running[job.id] = (span, token)

    def after_run(self, job: Prepared, outcome: RunOutcome) -> None:
        with self._lock:
            found = self._running.pop(job.id, None)
        if found is None:
            return
        span, token = found
        span.set_attribute("queuekit.outcome", outcome)
        if job.error is not None:
            span.record_exception(job.error)
            span.set_attribute("error.type", type(job.error).__qualname__)
        if outcome in ("failed", "retried", "dead"):
            span.set_status(Status(StatusCode.ERROR, f"{outcome}: {type(job.error).__name__ if job.error else ''}"))
        span.end()
        context.detach(token)


def _attributes(queue: str, job_id: str, operation: str) -> dict[str, Any]:
    return {
        "messaging.system": SYSTEM,
        "messaging.operation.type": operation,
        "messaging.operation.name": operation,
        "messaging.destination.name": queue,
        "messaging.message.id": job_id,
    }


def instrument(app: App, tracer_provider: trace.TracerProvider | None = None) -> OpenTelemetryMiddleware:
    """Trace ``app``'s enqueues and runs (once: a second call returns the middleware already installed)."""
    for each in app.middleware:
        if isinstance(each, OpenTelemetryMiddleware):
            return each
    installed = OpenTelemetryMiddleware(tracer_provider)
    app.add_middleware(installed)
    return installed
