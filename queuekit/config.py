"""Where settings come from: argument > environment > config file > default.

The config file is the ``[tool.queuekit]`` table of the nearest ``pyproject.toml``
or the top level of the nearest ``queuekit.toml``, searched from the working
directory upwards.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from queuekit.errors import ConfigurationError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

DEFAULT_URL = "sqlite:///queuekit.db"
ENV_URL = "QUEUEKIT_BROKER_URL"
ENV_RESULTS = "QUEUEKIT_RESULTS_URL"
ENV_SECRET = "QUEUEKIT_SECRET"


def _read_file(start: Path) -> tuple[dict[str, Any], Path | None]:
    for folder in (start, *start.parents):
        dedicated = folder / "queuekit.toml"
        if dedicated.is_file():
            return _load(dedicated), dedicated
        project = folder / "pyproject.toml"
        if project.is_file():
            table = _load(project).get("tool", {}).get("queuekit")
            if isinstance(table, dict):
                return table, project
    return {}, None


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
    value = file_settings().get(key)
    if value is not None and not isinstance(value, str):
        raise ConfigurationError(f"[tool.queuekit] {key} must be a string, got {type(value).__name__}")
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
