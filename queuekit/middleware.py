"""Middleware: hooks around enqueueing, running and the worker's life, for metrics, tracing and auditing.

::

    class Audit(queuekit.Middleware):
        def after_run(self, job, outcome):
            log.info("%s %s: %s", job.task.name, job.id, outcome)

    app = App(url, middleware=[Audit()])

Every hook is a no-op here; a subclass overrides the ones it needs. The core calls
them through :func:`call_hooks`, which logs a hook that raises (one line, naming the
hook and the class) and carries on: a broken middleware never loses or fails a job.
``before_*`` and ``on_worker_start`` hooks run in the order the middleware was
installed, ``after_*`` and ``on_worker_stop`` in reverse, so the first installed wraps
the others. With no middleware installed the core pays one falsy check per call site.

Where each hook runs:

* ``before_enqueue(message)``: in :meth:`App.send`, for each message before it is encoded;
  it may add string headers with :func:`set_header`. Names starting with ``qk.`` are
  reserved for queuekit.
* ``after_enqueue(message, job_id)``: once the broker took the batch.
* ``before_run(job)``: on the worker, in the job's context (``queuekit.current_job()`` is
  the job), just before the task function is called.
* ``after_run(job, outcome)``: still in the job's context, once the attempt's fate is known, with ``outcome`` one of
  :data:`OUTCOMES`; ``job.error`` is the exception the attempt raised, if any. Also, without
  ``before_run``, for a job that will not run: ``dead`` (its workers were lost too often) or
  ``cancelled`` (before it started).
* ``on_worker_start(worker)`` / ``on_worker_stop(worker)``: around :meth:`Worker.run`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, cast

from queuekit.broker import JobStatus
from queuekit.errors import SerializationError
from queuekit.message import RESERVED_PREFIX

if TYPE_CHECKING:
    from queuekit.execution import Completion, Prepared
    from queuekit.message import Message
    from queuekit.worker import Worker

log = logging.getLogger("queuekit.middleware")

RunOutcome = Literal["succeeded", "failed", "retried", "dead", "cancelled"]
OUTCOMES: tuple[RunOutcome, ...] = ("succeeded", "failed", "retried", "dead", "cancelled")


class Middleware:
    """Base class of middleware: every hook does nothing; override the ones you need."""

    def before_enqueue(self, message: Message) -> None:
        """Called for each message before it is encoded and sent; may add string headers."""

    def after_enqueue(self, message: Message, job_id: str) -> None:
        """Called for each message once the broker has taken it, with the id it was stored under."""

    def before_run(self, job: Prepared) -> None:
        """Called on the worker just before the task runs, inside the job's context."""

    def after_run(self, job: Prepared, outcome: RunOutcome) -> None:
        """Called once an attempt's fate is known: succeeded, failed, retried, dead or cancelled."""

    def on_worker_start(self, worker: Worker) -> None:
        """Called when a worker starts, before it reserves anything."""

    def on_worker_stop(self, worker: Worker) -> None:
        """Called when a worker has stopped and settled everything."""


def set_header(message: Message, name: str, value: str) -> None:
    """Add a string header to a message in ``before_enqueue`` (it travels, signed, to the worker).

    Names starting with ``qk.`` are queuekit's own; the headers together must stay
    under :data:`queuekit.message.MAX_HEADERS_SIZE` bytes (checked when the message is encoded).
    """
    if type(name) is not str or type(value) is not str:
        raise SerializationError(f"header {name!r}: names and values must be strings, got {type(value).__name__}")
    if name.startswith(RESERVED_PREFIX):
        raise SerializationError(f"header {name!r}: names starting with {RESERVED_PREFIX!r} are reserved for queuekit")
    cast("dict[str, Any]", message.headers)[name] = value


_REVERSED = frozenset({"after_enqueue", "after_run", "on_worker_stop"})


def call_hooks(middleware: Sequence[Middleware], hook: str, *args: Any) -> None:
    """Call ``hook`` on every middleware (``after`` hooks in reverse order); log and swallow what one raises."""
    for each in reversed(middleware) if hook in _REVERSED else middleware:
        try:
            getattr(each, hook)(*args)
        except Exception as exc:
            log.error("middleware %s.%s raised %s: %s (ignored; the job goes on)",
                      type(each).__qualname__, hook, type(exc).__name__, str(exc)[:300])


def call_after_run(middleware: Sequence[Middleware], job: Prepared, completion: Completion) -> None:
    """Tell every middleware how the attempt ended."""
    call_hooks(middleware, "after_run", job, outcome_of(completion))


def outcome_of(completion: Completion) -> RunOutcome:
    """The middleware's name for a completion's fate."""
    action = completion.action.value
    if action == "retry":
        return "retried"
    status = completion.outcome.status if completion.outcome is not None else None
    if status is JobStatus.CANCELLED:
        return "cancelled"
    if action == "dead":
        return "failed" if status is JobStatus.FAILED else "dead"
    return "succeeded"
