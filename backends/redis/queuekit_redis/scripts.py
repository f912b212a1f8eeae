"""The Lua scripts, registered once per client and called by EVALSHA.

Each script lives in ``lua/<name>.lua`` with its KEYS and ARGV documented at the top;
``lua/common.lua`` is prepended to every one. Scripts are redis-py ``Script`` objects:
a server that forgot them (restart, ``SCRIPT FLUSH``) gets them again on the next
call. Pipelines call ``EVALSHA`` with the same digests and reload on ``NOSCRIPT``.
"""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from redis import Redis
    from redis.commands.core import Script

NAMES = (
    "enqueue", "reserve", "ack", "extend", "nack", "dead_letter", "stats", "state",
    "purge", "dead_list", "requeue_dead", "purge_dead",
)


def _source(name: str) -> str:
    return (resources.files(__package__) / "lua" / f"{name}.lua").read_text(encoding="utf-8")


def script_text(name: str) -> str:
    """The full text sent to the server for script ``name`` (common helpers first)."""
    if name not in NAMES:
        raise KeyError(f"no queuekit script named {name!r}")
    return _source("common") + "\n" + _source(name)


class Scripts:
    """One registered ``Script`` per name, bound to a client."""

    def __init__(self, client: Redis) -> None:
        self._client = client
        self._scripts: dict[str, Script] = {name: client.register_script(script_text(name)) for name in NAMES}

    def __getitem__(self, name: str) -> Script:
        return self._scripts[name]

    def sha(self, name: str) -> str:
        """The SHA1 digest ``EVALSHA`` uses for ``name``."""
        return str(self._scripts[name].sha)

    def load_all(self) -> None:
        """Load every script into the server's cache (after ``NOSCRIPT`` in a pipeline)."""
        for script in self._scripts.values():
            script.sha = self._client.script_load(script.script)

    def call(self, name: str, keys: tuple[str, ...] | list[str], args: list[Any] | tuple[Any, ...]) -> Any:
        """Run one script: a single round trip while the server has it cached."""
        return self._scripts[name](keys=keys, args=args)
