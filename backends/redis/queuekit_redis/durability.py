"""What the server's persistence settings mean for queued jobs, read at connect.

| server settings                                  | declared durability |
| ------------------------------------------------ | ------------------- |
| ``appendonly yes`` + ``appendfsync always``      | ``disk``            |
| ``appendonly yes`` (everysec / no), or RDB saves | ``server``          |
| neither (``save ""``, ``appendonly no``)         | ``none``            |
| any ``allkeys-*`` eviction policy                | ``none``            |
| settings unreadable (``CONFIG`` disabled), no AOF | ``none``           |
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import redis

from queuekit.broker import Durability

DEFAULT_MAX_BULK = 512 * 1024 * 1024


@dataclass(frozen=True)
class Fingerprint:
    """The server's identity and persistence settings as seen at connect."""

    version: str
    run_id: str
    aof: bool
    appendfsync: str | None  # None: CONFIG GET not allowed
    save: str | None  # RDB save points; "" means none; None: unknown
    maxmemory_policy: str
    max_bulk: int

    @property
    def durability(self) -> Durability:
        """The durability these settings give accepted jobs."""
        if self.maxmemory_policy.startswith("allkeys-"):
            return Durability.NONE  # queue keys may be evicted under memory pressure
        if self.aof:
            return Durability.DISK if self.appendfsync == "always" else Durability.SERVER
        return Durability.SERVER if self.save else Durability.NONE

    def describe(self) -> str:
        """One line for logs and reports."""
        save = "unknown" if self.save is None else repr(self.save)
        return (
            f"durability: {self.durability.value} (redis {self.version}, appendonly={'yes' if self.aof else 'no'}, "
            f"appendfsync={self.appendfsync or 'unknown'}, save={save}, maxmemory-policy={self.maxmemory_policy})"
        )

    def warnings(self) -> list[tuple[str, bool]]:
        """What an operator should hear about, each with whether they must act.

        An eviction policy that drops queue keys loses jobs while everything runs: act.
        No persistence is a choice the declared durability (``none``) already reports,
        which a worker logs at its start.
        """
        found: list[tuple[str, bool]] = []
        if self.maxmemory_policy.startswith("allkeys-"):
            found.append((
                f"maxmemory-policy {self.maxmemory_policy} may evict queue keys: jobs can vanish silently; "
                "use noeviction", True,
            ))
        if not self.aof and self.save == "":
            found.append(("no persistence (save \"\", appendonly no): a server restart loses every queued job", False))
        elif not self.aof and self.save is None:
            found.append(("persistence settings unreadable (CONFIG GET refused) and AOF off: assuming none", False))
        return found


def _config(found: Any, name: str) -> str | None:
    if not isinstance(found, dict):
        return None  # CONFIG GET refused (disabled or renamed on managed servers)
    value = found.get(name, found.get(name.encode()))
    return value.decode() if isinstance(value, bytes) else value


def probe(client: redis.Redis) -> Fingerprint:
    """Read the fingerprint in one round trip (raises redis-py errors)."""
    pipe = client.pipeline(transaction=False)
    for section in ("server", "persistence", "memory"):
        pipe.info(section)
    for name in ("proto-max-bulk-len", "appendfsync", "save"):
        pipe.config_get(name)
    server, persistence, memory, bulk_cfg, fsync_cfg, save_cfg = pipe.execute(raise_on_error=False)
    info: dict[str, Any] = {}
    for section in (server, persistence, memory):
        if isinstance(section, Exception):
            raise section
        info.update(section)
    bulk = _config(bulk_cfg, "proto-max-bulk-len")
    return Fingerprint(
        version=str(info.get("redis_version", "?")),
        run_id=str(info.get("run_id", "")),
        aof=bool(int(info.get("aof_enabled", 0))),
        appendfsync=_config(fsync_cfg, "appendfsync"),
        save=_config(save_cfg, "save"),
        maxmemory_policy=str(info.get("maxmemory_policy", "noeviction")),
        max_bulk=int(bulk) if bulk and bulk.isdigit() else DEFAULT_MAX_BULK,
    )


_STRENGTH = {Durability.NONE: 0, Durability.SERVER: 1, Durability.DISK: 2}


def probe_cluster(client: Any) -> Fingerprint:
    """The weakest primary's fingerprint; the run id names every primary's run id."""
    found = [probe(client.get_redis_connection(node)) for node in client.get_primaries()]
    weakest = min(found, key=lambda fingerprint: _STRENGTH[fingerprint.durability])
    return replace(weakest, run_id=",".join(sorted(fingerprint.run_id for fingerprint in found)))
