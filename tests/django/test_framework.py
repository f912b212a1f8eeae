"""The same integration on both tasks frameworks: Django 6's ``django.tasks`` and the 5.2 backport.

These run on whichever this environment has (``scripts/test`` runs Django 5.2 with the
backport on Python 3.11, ``scripts/test-django6`` runs Django 6.0 and 6.1 on Python 3.12+).
"""

from __future__ import annotations

import inspect
from typing import Any

import django
import pytest
from django.core import checks
from djsupport import run_burst, tasks_on
from qktest import tasks

from queuekit.contrib.django import compat
from queuekit.contrib.django.compat import TaskResultMismatch, TaskResultStatus


def test_the_framework_is_djangos_own_from_django_6() -> None:
    expected = "django.tasks" if django.VERSION >= (6, 0) else "django_tasks"
    assert (compat.SOURCE, compat.Task.__module__) == (expected, f"{expected}.base")
    # The example project picks the same framework as the integration, or its tasks
    # would be declared on a framework whose TASKS setting nothing reads.
    from orders.tasks import send_receipt

    assert isinstance(send_receipt, compat.Task)


def test_model_annotations_are_never_evaluated_at_runtime() -> None:
    # Django 6 does not make model fields subscriptable at runtime (the backport's
    # django_stubs_ext.monkeypatch() did), so `models.CharField[str, str]` must stay a
    # string that only the type checker reads.
    from orders.models import Order
    from qktest.models import Event

    for model in (Order, Event):
        annotations = inspect.get_annotations(model)
        assert annotations, model
        assert all(isinstance(value, str) for value in annotations.values()), annotations


def test_djangos_check_framework_runs_the_backend_checks() -> None:
    # Django 6 calls each backend's check() itself; the backport does so through its app.
    with tasks_on("nosuchbroker://host/0"):
        found = checks.run_checks()
    assert "queuekit.E001" in [message.id for message in found]


def test_get_result_through_another_task_is_a_mismatch(backend: Any) -> None:
    result = tasks.add.enqueue(1, 2)
    with pytest.raises(TaskResultMismatch):
        tasks.boom.get_result(result.id)
    assert run_burst(backend) == {"ack": 1}
    assert tasks.add.get_result(result.id).status == TaskResultStatus.SUCCESSFUL
