"""Django ``TaskResult`` records from what queuekit keeps.

Two records answer for a job, both in the result store:

* the **enqueue record**, kept under ``<job id>.enqueued`` when the job reaches the
  broker: the task's path, arguments, queue, priority and enqueue time (queuekit's
  own outcome does not carry them);
* the job's **outcome**, written by the worker when the job finishes: status, return
  value or error, attempts, start and finish times, worker id.

Separate keys mean neither can overwrite the other, whatever order they land in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from queuekit.broker import JobStatus, Outcome
from queuekit.contrib.django.compat import Task, TaskError, TaskResult, TaskResultStatus
from queuekit.contrib.django.conversions import from_timestamp
from queuekit.contrib.django.runner import UNRECORDED

PENDING_SUFFIX = ".enqueued"
DEAD_ERROR_PATH = "queuekit.errors.JobFailed"


def pending_key(job_id: str) -> str:
    """Where the enqueue record of a job is kept."""
    return job_id + PENDING_SUFFIX


def enqueue_record(
    job_id: str, path: str, args: Sequence[Any], kwargs: Mapping[str, Any], *,
    queue: str, priority: int, enqueued_at: float, run_after: float | None,
) -> Outcome:
    """The record that lets ``get_result`` answer for a job that has not finished."""
    document = {
        "task": path, "args": list(args), "kwargs": dict(kwargs), "queue": queue,
        "priority": priority, "enqueued_at": enqueued_at, "run_after": run_after,
    }
    return Outcome(pending_key(job_id), JobStatus.QUEUED, result=document, finished_at=enqueued_at)


def task_path(final: Outcome | None, pending: Outcome | None) -> str | None:
    """The Django task a job ran, from whichever record names it."""
    if pending is not None and isinstance(pending.result, Mapping):
        path = pending.result.get("task")
        if isinstance(path, str):
            return path
    if final is not None:
        path = final.extra.get("django_task") or final.extra.get("task")
        if isinstance(path, str):
            return path
    return None


def build_result(
    alias: str, job_id: str, task: Task[Any, Any], final: Outcome | None, pending: Outcome | None,
    state: JobStatus | None,
) -> TaskResult[Any]:
    """The Django view of a job from its records and, for unfinished jobs, the broker's state."""
    info: Mapping[str, Any] = pending.result if pending and isinstance(pending.result, Mapping) else {}
    status, errors = _status(final, state)
    extra = final.extra if final is not None else {}
    started = extra.get("started_at")
    attempts = final.attempts if final is not None else 0
    worker_ids = [UNRECORDED] * max(attempts - 1, 0) + [str(extra.get("worker_id", UNRECORDED))] if attempts else []
    result: TaskResult[Any] = TaskResult(
        task=_variant(task, info), id=job_id, status=status,
        enqueued_at=from_timestamp(info.get("enqueued_at")),
        started_at=from_timestamp(started), last_attempted_at=from_timestamp(started),
        finished_at=from_timestamp(final.finished_at) if final is not None else None,
        args=list(info.get("args", [])), kwargs=dict(info.get("kwargs", {})), backend=alias,
        errors=errors, worker_ids=worker_ids,
    )
    if final is not None and final.status is JobStatus.SUCCEEDED:
        object.__setattr__(result, "_return_value", final.result)
    return result


def _status(final: Outcome | None, state: JobStatus | None) -> tuple[TaskResultStatus, list[TaskError]]:
    if final is not None:
        if final.status is JobStatus.SUCCEEDED:
            return TaskResultStatus.SUCCESSFUL, []
        path = final.extra.get("exception")
        trace = final.traceback or final.error or "no error recorded"
        return TaskResultStatus.FAILED, [TaskError(exception_class_path=str(path or DEAD_ERROR_PATH), traceback=trace)]
    if state is JobStatus.RUNNING:
        return TaskResultStatus.RUNNING, []
    if state is JobStatus.DEAD:
        trace = "dead-lettered without a recorded outcome; see `queuekit dlq list <queue>`"
        return TaskResultStatus.FAILED, [TaskError(exception_class_path=DEAD_ERROR_PATH, traceback=trace)]
    return TaskResultStatus.READY, []


def _variant(task: Task[Any, Any], info: Mapping[str, Any]) -> Task[Any, Any]:
    """The task with the queue, priority and run_after the job was sent with."""
    queue, priority, run_after = info.get("queue"), info.get("priority"), info.get("run_after")
    if queue == task.queue_name and priority == task.priority and run_after is None:
        return task
    try:
        return task.using(
            queue_name=queue if isinstance(queue, str) else None,
            priority=priority if isinstance(priority, int) else None,
            run_after=from_timestamp(run_after) if isinstance(run_after, (int, float)) else None,
        )
    except Exception:  # settings changed since: the task's own defaults still identify it
        return task
