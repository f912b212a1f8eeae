"""A row per event a task records, so tests can see what ran and what was committed."""

from __future__ import annotations

from django.db import models


class Event(models.Model):
    """Something a task did."""

    label: models.CharField[str, str] = models.CharField(max_length=200)

    def __str__(self) -> str:
        return self.label
