"""Django's tasks framework, wherever it comes from.

Django 6 ships it as ``django.tasks``; on Django 5.2 the ``django-tasks`` backport
package provides the same API as ``django_tasks``. Everything else in this package
imports the framework from here, so the choice is made once: ``django.tasks`` whenever
it imports (also when the backport is still installed beside Django 6), else the backport.

What differs between the two is bridged here or needs nothing: the invalid-task
exception is ``InvalidTask`` in Django 6 and ``InvalidTaskError`` in the backport
(exported as ``InvalidTask``); Django 6 runs each backend's ``check()`` on its own,
the backport only with ``"django_tasks"`` in ``INSTALLED_APPS``; the backport imports
``django_stubs_ext`` and monkeypatches Django's classes to be subscriptable at
runtime, Django 6 does not (annotate models under ``from __future__ import annotations``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # type-check against the backport, whose API Django 6 adopted
    from django_tasks import TaskContext, TaskResult, TaskResultStatus, task, task_backends
    from django_tasks.backends.base import BaseTaskBackend
    from django_tasks.base import TASK_MAX_PRIORITY, TASK_MIN_PRIORITY, Task, TaskError
    from django_tasks.exceptions import InvalidTaskError as InvalidTask
    from django_tasks.exceptions import TaskResultDoesNotExist, TaskResultMismatch
    from django_tasks.signals import task_enqueued, task_finished, task_started

    SOURCE = "django_tasks"
else:
    try:
        from django.tasks import TaskContext, TaskResult, TaskResultStatus, task, task_backends
        from django.tasks import exceptions as _exceptions
        from django.tasks.backends.base import BaseTaskBackend
        from django.tasks.base import TASK_MAX_PRIORITY, TASK_MIN_PRIORITY, Task, TaskError
        from django.tasks.exceptions import TaskResultDoesNotExist, TaskResultMismatch

        InvalidTask = getattr(_exceptions, "InvalidTask", None) or _exceptions.InvalidTaskError
        from django.tasks.signals import task_enqueued, task_finished, task_started

        SOURCE = "django.tasks"
    except ImportError:
        from django_tasks import TaskContext, TaskResult, TaskResultStatus, task, task_backends
        from django_tasks.backends.base import BaseTaskBackend
        from django_tasks.base import TASK_MAX_PRIORITY, TASK_MIN_PRIORITY, Task, TaskError
        from django_tasks.exceptions import InvalidTaskError as InvalidTask
        from django_tasks.exceptions import TaskResultDoesNotExist, TaskResultMismatch
        from django_tasks.signals import task_enqueued, task_finished, task_started

        SOURCE = "django_tasks"

__all__ = [
    "SOURCE", "TASK_MAX_PRIORITY", "TASK_MIN_PRIORITY", "BaseTaskBackend", "InvalidTask", "Task",
    "TaskContext", "TaskError", "TaskResult", "TaskResultDoesNotExist", "TaskResultMismatch", "TaskResultStatus",
    "task", "task_backends", "task_enqueued", "task_finished", "task_started",
]
