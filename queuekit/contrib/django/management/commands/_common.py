"""What both management commands need: the queuekit backend of an alias, its tasks imported."""

from __future__ import annotations

from django.core.management.base import CommandError, CommandParser

from queuekit.contrib.django.backend import QueuekitBackend
from queuekit.contrib.django.compat import task_backends
from queuekit.contrib.django.discovery import discover
from queuekit.errors import QueuekitError


def add_backend_argument(parser: CommandParser) -> None:
    """``--backend ALIAS``."""
    parser.add_argument("--backend", default="default", help="the TASKS alias to serve (default: 'default')")


def queuekit_backend(alias: str) -> QueuekitBackend:
    """The alias's backend with every task module imported; CommandError naming the problem."""
    try:
        backend = task_backends[alias]
    except Exception as exc:  # Django raises InvalidTaskBackend(Error) for unknown aliases
        raise CommandError(f"TASKS has no usable entry {alias!r}: {exc}") from None
    if not isinstance(backend, QueuekitBackend):
        raise CommandError(
            f"TASKS[{alias!r}] uses {type(backend).__module__}.{type(backend).__qualname__}, "
            "not queuekit.contrib.django.QueuekitBackend"
        )
    try:
        settings, _ = backend.binding.require()
        discover(settings)
    except QueuekitError as exc:
        raise CommandError(str(exc)) from None
    return backend
