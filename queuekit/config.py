"""Where settings come from: argument > environment > config file > default.

The config file is the ``[tool.queuekit]`` table of the nearest ``pyproject.toml``
or the top level of the nearest ``queuekit.toml``, searched from the working
directory upwards. Its keys are checked (a mistyped one is an error, not a silent
fall-back to the default), and a relative file path in one of its URLs is relative to the
file, so every directory below it opens the same database.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from queuekit.errors import ConfigurationError
from queuekit.registry import anchor_url
from queuekit.urls import check_options

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

DEFAULT_URL = "sqlite:///queuekit.db"
ENV_URL = "QUEUEKIT_BROKER_URL"
ENV_RESULTS = "QUEUEKIT_RESULTS_URL"
ENV_SECRET = "QUEUEKIT_SECRET"
KEYS = ("url", "results", "secret")  # what a config file may set
_URL_KEYS = ("url", "results")


def _read_file(start: Path) -> tuple[dict[str, Any], Path | None]:
    for folder in (start, *start.parents):
        dedicated = folder / "queuekit.toml"
        if dedicated.is_file():
            return _checked(_load(dedicated), dedicated), dedicated
        project = folder / "pyproject.toml"
        if project.is_file():
            table = _load(project).get("tool", {}).get("queuekit")
            if isinstance(table, dict):
                return _checked(table, project), project
    return {}, None


def _where(path: Path) -> str:
    return f"[tool.queuekit] in {path}" if path.name == "pyproject.toml" else str(path)


def _checked(table: dict[str, Any], path: Path) -> dict[str, Any]:
    """The table, once every key is known and every value a string."""
    check_options(table, KEYS, where=_where(path))
    for key, value in table.items():
        if not isinstance(value, str):
            raise ConfigurationError(f"{key} in {_where(path)} must be a string, got {type(value).__name__}")
    return table


def _load(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path} is not valid TOML: {exc}") from None


def file_settings(start: Path | None = None) -> Mapping[str, Any]:
    """The queuekit table of the nearest config file, or an empty mapping."""
    settings, _ = _read_file(start or Path.cwd())
    return settings


def _pick(explicit: str | None, env: str, key: str, default: str | None) -> str | None:
    if explicit:
        return explicit
    if os.environ.get(env):
        return os.environ[env]
    settings, path = _read_file(Path.cwd())
    value: str | None = settings.get(key)
    if value and key in _URL_KEYS and path is not None:
        value = anchor_url(value, path.parent)  # sqlite:///jobs.db next to the file, from any directory
    return value or default


def resolve_url(explicit: str | None = None) -> str:
    """The broker URL: argument, ``QUEUEKIT_BROKER_URL``, config file ``url``, or the default."""
    url = _pick(explicit, ENV_URL, "url", DEFAULT_URL)
    assert url is not None
    return url


def resolve_results_url(explicit: str | None = None) -> str | None:
    """A separate result store URL, if one is configured."""
    return _pick(explicit, ENV_RESULTS, "results", None)


def resolve_secret(explicit: str | bytes | None = None) -> str | bytes | None:
    """The HMAC signing secret, if signing is configured."""
    if explicit:
        return explicit
    return _pick(None, ENV_SECRET, "secret", None)
