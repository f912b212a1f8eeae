"""The Django tasks each ``TASKS`` alias knows, by module path.

A Django task joins this registry when Django validates it against a queuekit
backend, which happens when its ``@task`` decorator runs (and again for every
``.using(...)`` variant). The worker imports the ``tasks`` module of every installed
app, plus the modules named in ``OPTIONS['modules']``, so that the same tasks are
known there. Only tasks in this registry are registered on the worker's queuekit app;
a message naming anything else is dead-lettered unrun, and nothing a message says is
ever imported.
"""

from __future__ import annotations

import threading
from typing import Any

from queuekit.contrib.django.compat import Task

_lock = threading.Lock()
_known: dict[str, dict[str, Task[Any, Any]]] = {}


def module_path(task: Task[Any, Any]) -> str:
    """The name a Django task travels under: its function's module and qualified name."""
    return f"{task.func.__module__}.{task.func.__qualname__}"


def remember(alias: str, task: Task[Any, Any]) -> bool:
    """Record a task for an alias; True if its path was new (or now names another function)."""
    path = module_path(task)
    with _lock:
        tasks = _known.setdefault(alias, {})
        previous = tasks.get(path)
        if previous is not None and previous.func is task.func:
            return False
        tasks[path] = task  # a reloaded module replaces its older function
        return True


def known(alias: str) -> dict[str, Task[Any, Any]]:
    """A snapshot of the tasks an alias knows, by module path."""
    with _lock:
        return dict(_known.get(alias, {}))


def lookup(alias: str, path: str) -> Task[Any, Any] | None:
    """The task an alias knows under ``path``, or None."""
    with _lock:
        return _known.get(alias, {}).get(path)
