"""``QueuekitBackend``: Django's tasks framework on any queuekit broker.

    TASKS = {
        "default": {
            "BACKEND": "queuekit.contrib.django.QueuekitBackend",
            "OPTIONS": {"url": "redis://127.0.0.1:6379/0"},
        }
    }

``supports_defer``, ``supports_priority`` and ``supports_get_result`` follow what the
chosen broker declares in its :class:`~queuekit.broker.Capabilities`; async tasks are
always supported (the worker runs them to completion on its own event loop).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any, ParamSpec, TypeVar

from django.core import checks

from queuekit.broker import StateReporter
from queuekit.contrib.django import registry
from queuekit.contrib.django.binding import Binding, bind, check_queue
from queuekit.contrib.django.compat import (
    BaseTaskBackend,
    InvalidTask,
    Task,
    TaskResult,
    TaskResultDoesNotExist,
    TaskResultStatus,
    task_enqueued,
)
from queuekit.contrib.django.conversions import from_timestamp, to_json, to_timestamp
from queuekit.contrib.django.discovery import discover
from queuekit.contrib.django.results import build_result, enqueue_record, pending_key, task_path
from queuekit.message import Message

T = TypeVar("T")
P = ParamSpec("P")


class QueuekitBackend(BaseTaskBackend):
    """A Django task backend that sends tasks through queuekit to the broker its URL names."""

    supports_async_task = True

    def __init__(self, alias: str, params: dict[str, Any]) -> None:
        super().__init__(alias, params)
        self.binding: Binding = bind(alias, params)
        self._lenient = False  # set only inside validate_task; backends are per thread

    def __repr__(self) -> str:
        return f"<QueuekitBackend {self.alias!r} {self.binding!r}>"

    # -- what the broker supports ---------------------------------------------------------

    @property
    def supports_defer(self) -> bool:  # type: ignore[override]
        """``run_after`` works when the broker declares delayed delivery."""
        caps = self.binding.capabilities()
        return self._lenient or bool(caps and caps.delays)

    @property
    def supports_priority(self) -> bool:  # type: ignore[override]
        """Priorities work when the broker declares them."""
        caps = self.binding.capabilities()
        return self._lenient or bool(caps and caps.priorities)

    @property
    def supports_get_result(self) -> bool:  # type: ignore[override]
        """Results can be read from any process when a result store is available."""
        return self.binding.results() is not None

    # -- Django's backend API ---------------------------------------------------------------

    def validate_task(self, task: Task[Any, Any]) -> None:
        """Django's checks, queuekit's queue-name rule; then the task is known to this backend.

        With a misconfigured ``TASKS`` entry the task is only remembered: the system
        checks report the setting (``queuekit.E001``) instead of an import-time crash,
        and ``enqueue`` raises :class:`~queuekit.errors.ConfigurationError` naming it.
        """
        if self.binding.error is not None:
            registry.remember(self.alias, task)
            return
        # A broker that cannot be opened right now (database down, tables missing) must not
        # turn into a false "priority not supported": its own error surfaces at enqueue,
        # in the checks (queuekit.E003) and when the worker starts.
        self._lenient = self.binding.capabilities() is None
        try:
            super().validate_task(task)
        finally:
            self._lenient = False
        problem = check_queue(task.queue_name)
        if problem:
            raise InvalidTask(f"task {registry.module_path(task)}: {problem}")
        self.binding.register(task)

    def enqueue(
        self,
        task: Task[P, T],
        args: P.args,  # type: ignore[valid-type]
        kwargs: P.kwargs,  # type: ignore[valid-type]
    ) -> TaskResult[T]:
        """Send the task through queuekit; the job reaches the broker as ``OPTIONS['enqueue']`` says."""
        self.validate_task(task)
        settings, app = self.binding.require()
        path = registry.module_path(task)
        now = time.time()
        run_after = to_timestamp(task.run_after) if task.run_after is not None else None
        delay = max(run_after - now, 0.0) if run_after is not None else 0.0
        call_args = to_json(list(args), what=f"arguments of task {path}")
        call_kwargs = to_json(dict(kwargs), what=f"keyword arguments of task {path}")
        message = Message(
            task=path, args=tuple(call_args), kwargs=call_kwargs, queue=task.queue_name,
            priority=task.priority, delay=delay, max_attempts=settings.retries + 1,
            timeout=settings.timeout, created_at=now,
        )
        envelope = app.envelope(message)  # size and encoding are checked here, before any I/O
        record = None
        if self.binding.results() is not None:
            record = enqueue_record(
                message.id, path, call_args, call_kwargs, queue=task.queue_name, priority=task.priority,
                enqueued_at=now, run_after=run_after,
            )
        result: TaskResult[T] = TaskResult(
            task=task, id=message.id, status=TaskResultStatus.READY, enqueued_at=from_timestamp(now),
            started_at=None, finished_at=None, last_attempted_at=None, args=call_args, kwargs=call_kwargs,
            backend=self.alias, errors=[], worker_ids=[],
        )

        def sent() -> None:
            task_enqueued.send(type(self), task_result=result)

        self.binding.submit(envelope, run_after, record, settings.result_ttl + delay, sent)
        return result

    def get_result(self, result_id: str) -> TaskResult[Any]:
        """The job's current state, from the result store and, while it runs, the broker."""
        settings, app = self.binding.require()
        store = app.results
        if store is None:
            raise NotImplementedError(
                f"{app.redacted_url} keeps no results; set {settings.path('results')} to a result store URL"
            )
        final = app.job(result_id).outcome()  # finished only: never the app's pending record
        pending = store.load_outcome(pending_key(result_id))
        path = task_path(final, pending)
        if path is None:
            raise TaskResultDoesNotExist(result_id)
        task = self._known_task(path)
        if task is None:
            raise TaskResultDoesNotExist(
                f"{result_id}: its task {path!r} is not a task of backend {self.alias!r} in this process"
            )
        state = None
        broker = app.broker
        if final is None and broker.capabilities.job_state and isinstance(broker, StateReporter):
            state = broker.state(result_id)
        return build_result(self.alias, result_id, task, final, pending, state)

    def _known_task(self, path: str) -> Task[Any, Any] | None:
        found = registry.lookup(self.alias, path)
        if found is None:
            settings, _ = self.binding.require()
            discover(settings)  # the defining module may not be imported in this process yet
            found = registry.lookup(self.alias, path)
        return found

    def check(self, **kwargs: Any) -> Iterable[checks.CheckMessage]:
        """Configuration problems of this ``TASKS`` entry (see :mod:`queuekit.contrib.django.checks`)."""
        from queuekit.contrib.django.checks import backend_checks

        return backend_checks(self)
