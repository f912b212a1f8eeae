"""What a worker runs for one Django task: the function behind its queuekit name.

Around each task the database connections are treated as Django treats them around
a request: stale or broken connections are closed before and after, and the query
log is reset. The running job's attempt number feeds ``TaskContext.attempt``; the
start time and worker id are noted on the job and kept with its result.
"""

from __future__ import annotations

import os
import socket
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from django.db import close_old_connections, reset_queries

from queuekit.contrib.django import registry
from queuekit.contrib.django.compat import (
    TaskContext,
    TaskError,
    TaskResult,
    TaskResultStatus,
    task_finished,
    task_started,
)
from queuekit.contrib.django.conversions import from_timestamp, to_json
from queuekit.errors import TaskNotRegistered
from queuekit.execution import current_job

WORKER_ID = f"{socket.gethostname()[:40]}:{os.getpid()}"
UNRECORDED = "unrecorded"


def make_runner(alias: str, path: str) -> Callable[..., Any]:
    """The function registered on the queuekit app under the Django task's path."""

    def run_django_task(*args: Any, **kwargs: Any) -> Any:
        return execute(alias, path, args, kwargs)

    run_django_task.__qualname__ = f"run_django_task[{path}]"
    return run_django_task


def execute(alias: str, path: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
    """Run the Django task known as ``path``; return its result as JSON-compatible data."""
    task = registry.lookup(alias, path)
    if task is None:  # only registered paths reach here; a reload could still drop one
        raise TaskNotRegistered(f"Django task {path!r} is no longer known to backend {alias!r}")
    job = current_job()
    job_id, attempts = (job.delivery.id, job.delivery.attempts) if job else ("", 1)
    final_attempt = job is None or attempts >= job.message.max_attempts
    started = time.time()
    if job is not None:
        job.notes.update(django_task=path, started_at=started, worker_id=WORKER_ID)
    result: TaskResult[Any] = TaskResult(
        task=task, id=job_id, status=TaskResultStatus.RUNNING,
        enqueued_at=from_timestamp(job.message.created_at) if job else None,
        started_at=from_timestamp(started), finished_at=None, last_attempted_at=from_timestamp(started),
        args=list(args), kwargs=dict(kwargs), backend=alias, errors=[],
        worker_ids=[UNRECORDED] * (attempts - 1) + [WORKER_ID],
    )
    sender = type(task.get_backend())
    reset_queries()
    close_old_connections()
    try:
        task_started.send(sender=sender, task_result=result)
        value = _call(task, result, args, kwargs)
    except BaseException as exc:
        if final_attempt or not isinstance(exc, Exception):
            _finish(result, TaskResultStatus.FAILED, error=exc)
            task_finished.send(sender=sender, task_result=result)
        raise
    finally:
        close_old_connections()
    _finish(result, TaskResultStatus.SUCCESSFUL, value=value)
    task_finished.send(sender=sender, task_result=result)
    return value


def _call(task: Any, result: TaskResult[Any], args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
    if task.takes_context:
        raw = task.call(TaskContext(task_result=result), *args, **kwargs)
    else:
        raw = task.call(*args, **kwargs)
    return to_json(raw, what=f"return value of {registry.module_path(task)}")


def _finish(result: TaskResult[Any], status: TaskResultStatus, *, value: Any = None,
            error: BaseException | None = None) -> None:
    object.__setattr__(result, "status", status)
    object.__setattr__(result, "finished_at", from_timestamp(time.time()))
    if error is not None:
        kind = type(error)
        trace = "".join(traceback.format_exception(error))
        result.errors.append(TaskError(exception_class_path=f"{kind.__module__}.{kind.__qualname__}", traceback=trace))
    else:
        object.__setattr__(result, "_return_value", value)
