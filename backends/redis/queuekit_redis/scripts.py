"""The Lua scripts, registered once per client and called by EVALSHA.

Each script lives in ``lua/<name>.lua`` with its KEYS and ARGV documented at the top
and a ``-- needs:`` line naming the helpers of ``lua/common.lua`` it uses; only those
(and what they need in turn) are prepended, since every function a script defines
costs time on every call. Scripts are redis-py ``Script`` objects:
a server that forgot them (restart, ``SCRIPT FLUSH``) gets them again on the next
call. Pipelines call ``EVALSHA`` with the same digests and reload on ``NOSCRIPT``.
"""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from redis import Redis, RedisCluster
    from redis.commands.core import Script

QUEUE_SCRIPTS = (
    "enqueue", "reserve", "ack", "extend", "nack", "dead_letter", "stats", "state",
    "purge", "dead_list", "requeue_dead", "purge_dead", "waiting",
)  # each takes the keys of one queue (keys.SCRIPT_KEYS), enqueue and reserve one or more
NAMES = (*QUEUE_SCRIPTS, "save_results", "kv_set", "kv_incr", "kv_delete", "kv_add")  # the rest take result or kv keys


def _source(name: str) -> str:
    return (resources.files(__package__) / "lua" / f"{name}.lua").read_text(encoding="utf-8")


def _helpers() -> dict[str, tuple[list[str], str]]:
    """common.lua's blocks: name -> (dependencies, text), in file order."""
    blocks: dict[str, tuple[list[str], str]] = {}
    for chunk in _source("common").split("\n--- ")[1:]:
        head, _, text = chunk.partition("\n")
        name, _, deps = head.partition(":")
        blocks[name.strip()] = (deps.split(), text)
    return blocks


def _needs(source: str) -> list[str]:
    for line in source.splitlines():
        if line.startswith("-- needs:"):
            return line.removeprefix("-- needs:").split()
    return []


def script_text(name: str) -> str:
    """The full text sent to the server for script ``name``: the helpers it needs, then it."""
    if name not in NAMES:
        raise KeyError(f"no queuekit script named {name!r}")
    source, blocks = _source(name), _helpers()
    wanted: set[str] = set()
    pending = _needs(source)
    while pending:
        helper = pending.pop()
        if helper not in blocks:
            raise KeyError(f"script {name!r} needs unknown helper {helper!r}")
        if helper not in wanted:
            wanted.add(helper)
            pending.extend(blocks[helper][0])
    return "".join(text for helper, (_, text) in blocks.items() if helper in wanted) + source


class Scripts:
    """One registered ``Script`` per name, bound to a client."""

    def __init__(self, client: Redis | RedisCluster) -> None:
        self._client = client
        self._scripts: dict[str, Script] = {name: client.register_script(script_text(name)) for name in NAMES}

    def __getitem__(self, name: str) -> Script:
        return self._scripts[name]

    def sha(self, name: str) -> str:
        """The SHA1 digest ``EVALSHA`` uses for ``name``."""
        return str(self._scripts[name].sha)

    def load(self, name: str) -> None:
        """Load one script into the server's cache (after ``NOSCRIPT``)."""
        script = self._scripts[name]
        script.sha = self._client.script_load(script.script)

    def load_all(self) -> None:
        """Load every script into the server's cache (after ``NOSCRIPT`` in a pipeline)."""
        for script in self._scripts.values():
            script.sha = self._client.script_load(script.script)

    def call(self, name: str, keys: tuple[str, ...] | list[str], args: list[Any] | tuple[Any, ...]) -> Any:
        """Run one script: a single round trip while the server has it cached."""
        return self._scripts[name](keys=keys, args=args)
