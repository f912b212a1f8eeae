"""The ``OPTIONS`` of a ``TASKS`` entry, read and checked once.

Every problem is reported with the setting's full path, e.g.
``TASKS['default']['OPTIONS']['retries']``, so the reader knows where to look.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from queuekit import config
from queuekit.message import DEFAULT_MAX_SIZE


class EnqueueMode(str, enum.Enum):
    """When a Django ``enqueue()`` reaches the broker."""

    ON_COMMIT = "on_commit"  # after the surrounding transaction commits (default)
    IN_TRANSACTION = "in_transaction"  # inside it, on a SQL broker on the same database
    IMMEDIATE = "immediate"  # at once, whatever the transaction does later


class SettingsError(ValueError):
    """An option of a ``TASKS`` entry is missing or wrong; the message names it."""


_NUMBERS = {"lease": 30.0, "backoff": 1.0, "max_backoff": 3600.0, "result_ttl": 86400.0}


@dataclass(frozen=True)
class BackendSettings:
    """Validated options of one ``TASKS`` alias."""

    alias: str
    url: str
    results: str | None = None
    secret: str | None = None
    enqueue: EnqueueMode = EnqueueMode.ON_COMMIT
    database: str = "default"
    retries: int = 0
    timeout: float | None = None
    lease: float = 30.0
    backoff: float = 1.0
    max_backoff: float = 3600.0
    result_ttl: float = 86400.0
    max_message_size: int = DEFAULT_MAX_SIZE
    modules: tuple[str, ...] = ()
    broker_options: Mapping[str, Any] = field(default_factory=dict)

    def path(self, key: str) -> str:
        """The setting's full path, for messages."""
        return option_path(self.alias, key)


KNOWN = tuple(BackendSettings.__dataclass_fields__)[1:]


def option_path(alias: str, key: str) -> str:
    """``TASKS['alias']['OPTIONS']['key']``."""
    return f"TASKS[{alias!r}]['OPTIONS'][{key!r}]"


def read_settings(alias: str, params: Mapping[str, Any]) -> BackendSettings:
    """Parse a ``TASKS`` entry's OPTIONS; raise :class:`SettingsError` naming the bad one."""
    options = params.get("OPTIONS", {})
    if not isinstance(options, Mapping):
        raise SettingsError(f"TASKS[{alias!r}]['OPTIONS'] must be a dict, got {type(options).__name__}")
    unknown = sorted(set(options) - set(KNOWN))
    if unknown:
        raise SettingsError(
            f"unknown option {option_path(alias, unknown[0])}; known options: {', '.join(KNOWN)}"
        )
    values: dict[str, Any] = {"alias": alias, "url": config.resolve_url(_text(alias, options, "url"))}
    for key in ("results", "secret"):
        values[key] = _text(alias, options, key)
    values["database"] = _text(alias, options, "database") or "default"
    values["enqueue"] = _mode(alias, options)
    values["retries"] = _integer(alias, options, "retries", 0, minimum=0)
    values["max_message_size"] = _integer(alias, options, "max_message_size", DEFAULT_MAX_SIZE, minimum=1)
    for key, default in _NUMBERS.items():
        values[key] = _positive(alias, options, key, default)
    values["timeout"] = _positive(alias, options, "timeout", None)
    values["modules"] = _modules(alias, options)
    broker_options = options.get("broker_options", {})
    if not isinstance(broker_options, Mapping):
        raise SettingsError(f"{option_path(alias, 'broker_options')} must be a dict")
    values["broker_options"] = dict(broker_options)
    return BackendSettings(**values)


def _text(alias: str, options: Mapping[str, Any], key: str) -> str | None:
    value = options.get(key)
    if value is not None and (not isinstance(value, str) or not value):
        raise SettingsError(f"{option_path(alias, key)} must be a non-empty string")
    return value


def _mode(alias: str, options: Mapping[str, Any]) -> EnqueueMode:
    value = options.get("enqueue", EnqueueMode.ON_COMMIT.value)
    try:
        return EnqueueMode(value)
    except ValueError:
        choices = ", ".join(repr(m.value) for m in EnqueueMode)
        raise SettingsError(f"{option_path(alias, 'enqueue')} must be one of {choices}, got {value!r}") from None


def _integer(alias: str, options: Mapping[str, Any], key: str, default: int, *, minimum: int) -> int:
    value = options.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise SettingsError(f"{option_path(alias, key)} must be an integer of at least {minimum}, got {value!r}")
    return value


def _positive(alias: str, options: Mapping[str, Any], key: str, default: float | None) -> Any:
    value = options.get(key, default)
    if value is None:
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
        raise SettingsError(f"{option_path(alias, key)} must be a positive number of seconds, got {value!r}")
    return float(value)


def _modules(alias: str, options: Mapping[str, Any]) -> tuple[str, ...]:
    value = options.get("modules", ())
    if not isinstance(value, (list, tuple)) or not all(isinstance(item, str) and item for item in value):
        raise SettingsError(f"{option_path(alias, 'modules')} must be a list of module paths")
    return tuple(value)
