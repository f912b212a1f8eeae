"""The Django app that brings the management commands and the system checks."""

from __future__ import annotations

from django.apps import AppConfig


class QueuekitConfig(AppConfig):
    """``queuekit.contrib.django`` in ``INSTALLED_APPS``."""

    name = "queuekit.contrib.django"
    label = "queuekit"
    verbose_name = "queuekit"

    def ready(self) -> None:
        """Register the deployment check that probes each broker."""
        from queuekit.contrib.django import checks

        checks.register()
