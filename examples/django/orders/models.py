"""One model: an order, and whether its receipt went out."""

from __future__ import annotations

from django.db import models


class Order(models.Model):
    """A customer's order."""

    email: models.EmailField[str, str] = models.EmailField()
    total_cents: models.PositiveIntegerField[int, int] = models.PositiveIntegerField()
    receipt_sent: models.BooleanField[bool, bool] = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"order {self.pk} for {self.email}"
