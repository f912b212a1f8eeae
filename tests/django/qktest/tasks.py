"""Plain Django tasks exercised by the tests."""

from __future__ import annotations

from typing import Any

from django.db import connection

from qktest.models import Event
from queuekit.contrib.django.compat import TaskContext, task


class Boom(Exception):
    """Raised on purpose."""


@task
def add(a: int, b: int) -> int:
    return a + b


@task
async def async_add(a: int, b: int) -> int:
    return a + b


@task(takes_context=True)
def flaky(context: TaskContext, fail_until: int) -> dict[str, Any]:
    if context.attempt <= fail_until:
        raise Boom(f"attempt {context.attempt} fails")
    return {"attempt": context.attempt, "result_id": context.task_result.id}


@task
def boom(message: str) -> None:
    raise Boom(message)


@task
def record(label: str) -> str:
    Event.objects.create(label=label)
    return label


@task
def leave_transaction_open(label: str) -> None:
    """Leaves the thread's connection inside an uncommitted transaction."""
    connection.set_autocommit(False)
    Event.objects.create(label=label)


@task
def unserializable_result() -> object:
    return object()


def not_a_task() -> str:
    return "a module-level function that no @task decorated"
