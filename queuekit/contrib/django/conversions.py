"""Conversions between Django's values and queuekit's records: JSON data and times."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from django.conf import settings
from django.utils import timezone as django_timezone

from queuekit.errors import SerializationError


def to_json(value: Any, *, what: str) -> Any:
    """``value`` as plain JSON data (tuples become lists, bytes UTF-8 text), as Django stores it.

    Raises :class:`SerializationError` naming ``what`` and the offending type.
    """
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise SerializationError(f"{what}: bytes that are not UTF-8 cannot be stored as JSON") from None
    if isinstance(value, Mapping):
        return {to_json(key, what=what): to_json(item, what=what) for key, item in value.items()}
    if isinstance(value, Sequence):
        return [to_json(item, what=what) for item in value]
    raise SerializationError(
        f"{what}: a {type(value).__module__}.{type(value).__qualname__} is not JSON data; "
        "pass ids or plain values (str, int, float, bool, None, lists, dicts)"
    )


def from_timestamp(timestamp: float | None) -> datetime | None:
    """A Unix time as Django wants it: aware UTC with ``USE_TZ``, naive local time without."""
    if timestamp is None:
        return None
    moment = datetime.fromtimestamp(timestamp, timezone.utc)
    return moment if settings.USE_TZ else django_timezone.make_naive(moment)


def to_timestamp(moment: datetime) -> float:
    """A Django datetime as Unix time; naive ones are in the current time zone, as Django reads them."""
    if django_timezone.is_naive(moment):
        moment = django_timezone.make_aware(moment)
    return moment.timestamp()
