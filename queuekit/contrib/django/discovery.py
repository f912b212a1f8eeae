"""Importing the modules that define Django tasks, so their ``@task`` decorators run."""

from __future__ import annotations

import importlib
import threading

from django.utils.module_loading import autodiscover_modules

from queuekit.contrib.django.settings import BackendSettings
from queuekit.errors import ConfigurationError

_done: set[tuple[str, ...]] = set()
_lock = threading.Lock()


def discover(settings: BackendSettings, *, force: bool = False) -> None:
    """Import every installed app's ``tasks`` module and the modules in ``OPTIONS['modules']``.

    Runs once per set of modules unless ``force``. A module in ``OPTIONS['modules']``
    that cannot be imported raises :class:`ConfigurationError` naming the setting.
    """
    with _lock:
        if settings.modules in _done and not force:
            return
        autodiscover_modules("tasks")
        for name in settings.modules:
            try:
                importlib.import_module(name)
            except ImportError as exc:
                raise ConfigurationError(f"{settings.path('modules')}: cannot import {name!r}: {exc}") from exc
        _done.add(settings.modules)
