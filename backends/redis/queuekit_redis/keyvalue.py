"""The KeyValue primitive on Redis: one plain key per entry under ``<prefix>:kv:``.

Plain writes and ``if_absent`` are single ``SET`` commands (``NX``, ``PX``); compare-and-set,
conditional delete and counters that expire are small Lua scripts. Entries carry no hash
tag, so on a cluster they spread over the slots like results do.
"""

from __future__ import annotations

import math
import re
from typing import Any

from queuekit.keyvalue import check_key, check_ttl, check_value
from queuekit_redis.connection import Connection

_GLOB = re.compile(r"([*?\[\]\\])")


def _millis(ttl: float | None) -> int:
    """A TTL in whole milliseconds (at least 1), or 0 for no expiry."""
    check_ttl(ttl)
    return 0 if ttl is None else max(1, math.ceil(ttl * 1000))


class KeyValueOps:
    """``kv_*`` methods for :class:`~queuekit_redis.broker.RedisBroker`."""

    _conn: Connection

    def _kv(self, key: str) -> str:
        return f"{self._conn.keys.prefix}:kv:{check_key(key)}"

    def kv_get(self, key: str) -> bytes | None:
        """The value, or None when absent or expired."""
        name = self._kv(key)
        found: Any = self._conn.retrying(lambda: self._conn.run(lambda client: client.get(name)))
        return None if found is None else bytes(found)

    def kv_set(
        self, key: str, value: bytes, *, ttl: float | None = None, if_absent: bool = False,
        if_equal: bytes | None = None,
    ) -> bool:
        """SET (NX when ``if_absent``), or a compare-and-set script when ``if_equal`` is given."""
        name, millis = self._kv(key), _millis(ttl)
        check_value(value)
        if if_equal is not None:
            return bool(self._conn.script("kv_set", (name,), (value, millis, if_equal)))
        options: dict[str, Any] = {"nx": if_absent}
        if millis:
            options["px"] = millis
        return bool(self._conn.run(lambda client: client.set(name, value, **options)))

    def kv_incr(self, key: str, amount: int = 1, *, ttl: float | None = None) -> int:
        """INCRBY; a counter created by this call expires after ``ttl``."""
        return int(self._conn.script("kv_incr", (self._kv(key),), (int(amount), _millis(ttl))))

    def kv_delete(self, key: str, *, if_equal: bytes | None = None) -> bool:
        """DEL, or a script that deletes only when the value is ``if_equal``."""
        name = self._kv(key)
        if if_equal is not None:
            return bool(self._conn.script("kv_delete", (name,), (if_equal,)))
        return bool(self._conn.run(lambda client: client.delete(name)))

    def kv_add(self, key: str, member: str, *, ttl: float | None = None) -> tuple[bool, int]:
        """SADD and SCARD in one script, under ``<prefix>:kvset:``; a new set expires after ``ttl``."""
        name = f"{self._conn.keys.prefix}:kvset:{check_key(key)}"
        added, size = self._conn.script("kv_add", (name,), (check_key(member), _millis(ttl)))
        return bool(added), int(size)

    def kv_scan(self, prefix: str, limit: int = 1000) -> dict[str, bytes]:
        """SCAN for the prefix (glob characters escaped), then the values in one pipelined round trip."""
        head = f"{self._conn.keys.prefix}:kv:"
        pattern = head + _GLOB.sub(r"\\\1", prefix) + "*"

        def scan(client: Any) -> dict[str, bytes]:
            names: list[bytes] = []
            for name in client.scan_iter(match=pattern, count=1000):
                names.append(name)
                if len(names) >= limit:
                    break
            if not names:
                return {}
            pipe = client.pipeline(transaction=False)  # not MGET: on a cluster the keys span slots
            for name in names:
                pipe.get(name)
            values = pipe.execute()
            return {
                name.decode()[len(head):]: value for name, value in zip(names, values, strict=True) if value is not None
            }

        found: dict[str, bytes] = self._conn.retrying(lambda: self._conn.run(scan))
        return found
