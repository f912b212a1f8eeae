"""Shared small state for the core's features, and where an app finds it.

Periodic jobs (the leader lease, the last tick), rate limits (a GCRA cell per task),
cancel flags, progress and worker heartbeats all live in a :class:`~queuekit.broker.KeyValue`.
:func:`state_for` picks the one an app uses: its broker's if the broker declares
``key_value``, else its result store's, else a :class:`LocalKeyValue` in this process.
The scope says which: ``shared`` state is seen by every process using the broker;
``process`` state only by this one (rate limits are then per process, and two worker
processes could both lead the schedules: the worker warns).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from queuekit.broker import KeyValue

if TYPE_CHECKING:
    from queuekit.app import App

MAX_KEY = 200
MAX_VALUE = 65536

Scope = Literal["shared", "process"]


def check_key(key: str) -> str:
    """Return ``key`` if it is a usable key; raise ValueError naming the limit otherwise."""
    if not isinstance(key, str) or not 0 < len(key) <= MAX_KEY or "\x00" in key:
        raise ValueError(f"key-value key {str(key)[:60]!r} must be 1-{MAX_KEY} characters without NUL")
    return key


def check_value(value: bytes) -> bytes:
    """Return ``value`` if it is bytes within the size limit; raise otherwise."""
    if not isinstance(value, bytes):
        raise TypeError(f"key-value values are bytes, got {type(value).__name__}")
    if len(value) > MAX_VALUE:
        raise ValueError(f"key-value value of {len(value)} bytes is over the {MAX_VALUE}-byte limit")
    return value


def check_ttl(ttl: float | None) -> float | None:
    """Return ``ttl`` if it is None or a positive number of seconds."""
    if ttl is not None and not ttl > 0:
        raise ValueError(f"ttl must be a positive number of seconds or None, got {ttl!r}")
    return ttl


class LocalKeyValue:
    """An in-process :class:`~queuekit.broker.KeyValue`: one lock, one dict, a clock.

    The memory broker keeps its state here; an app whose broker and result store have no
    shared state of their own falls back to one (scope ``process``).
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._kv_lock = threading.Lock()
        self._kv_items: dict[str, tuple[bytes, float | None]] = {}
        self._kv_sets: dict[str, tuple[set[str], float | None]] = {}

    def _live(self, key: str) -> bytes | None:
        found = self._kv_items.get(key)
        if found is None:
            return None
        if found[1] is not None and found[1] <= self._clock():
            del self._kv_items[key]
            return None
        return found[0]

    def _expiry(self, ttl: float | None) -> float | None:
        return None if ttl is None else self._clock() + ttl

    def kv_get(self, key: str) -> bytes | None:
        """The value, or None when absent or expired."""
        check_key(key)
        with self._kv_lock:
            return self._live(key)

    def kv_set(
        self, key: str, value: bytes, *, ttl: float | None = None, if_absent: bool = False,
        if_equal: bytes | None = None,
    ) -> bool:
        """Write, optionally only if absent or only if the current value equals ``if_equal``."""
        check_key(key), check_value(value), check_ttl(ttl)
        with self._kv_lock:
            current = self._live(key)
            if (if_absent and current is not None) or (if_equal is not None and current != if_equal):
                return False
            self._kv_items[key] = (value, self._expiry(ttl))
            return True

    def kv_incr(self, key: str, amount: int = 1, *, ttl: float | None = None) -> int:
        """Add to a counter (absent: 0); ``ttl`` applies when the counter is created."""
        check_key(key), check_ttl(ttl)
        with self._kv_lock:
            current = self._live(key)
            value = int(current) + amount if current is not None else amount
            expiry = self._kv_items[key][1] if current is not None else self._expiry(ttl)
            self._kv_items[key] = (str(value).encode(), expiry)
            return value

    def kv_delete(self, key: str, *, if_equal: bytes | None = None) -> bool:
        """Delete (only if the value is ``if_equal``, when given)."""
        check_key(key)
        with self._kv_lock:
            current = self._live(key)
            if current is None or (if_equal is not None and current != if_equal):
                return False
            del self._kv_items[key]
            return True

    def kv_scan(self, prefix: str, limit: int = 1000) -> dict[str, bytes]:
        """Live keys starting with ``prefix``, at most ``limit``."""
        found: dict[str, bytes] = {}
        with self._kv_lock:
            for key in [k for k in self._kv_items if k.startswith(prefix)]:
                value = self._live(key)
                if value is not None:
                    found[key] = value
                    if len(found) >= limit:
                        break
        return found


    def kv_add(self, key: str, member: str, *, ttl: float | None = None) -> tuple[bool, int]:
        """Add to a set; (new, size)."""
        check_key(key), check_key(member), check_ttl(ttl)
        with self._kv_lock:
            found = self._kv_sets.get(key)
            if found is None or (found[1] is not None and found[1] <= self._clock()):
                found = self._kv_sets[key] = (set(), self._expiry(ttl))
            members = found[0]
            added = member not in members
            members.add(member)
            return added, len(members)


@dataclass(frozen=True)
class SharedState:
    """The key-value store an app's features use, and who else sees it."""

    store: KeyValue
    scope: Scope
    where: str  # "broker", "result store" or "this process", for logs and status


def state_for(app: App) -> SharedState:
    """Where ``app`` keeps its shared state: the broker's KeyValue, the result store's, or this process's."""
    broker = app.broker
    if broker.capabilities.key_value and isinstance(broker, KeyValue):
        return SharedState(broker, "shared" if broker.capabilities.cross_process else "process", "broker")
    results = app.results
    if results is not None and isinstance(results, KeyValue) and _declares(results):
        return SharedState(results, "shared" if _cross_process(results) else "process", "result store")
    return SharedState(app.local_state, "process", "this process")


def _declares(store: object) -> bool:
    caps = getattr(store, "capabilities", None)
    return bool(caps is not None and caps.key_value)


def _cross_process(store: object) -> bool:
    caps = getattr(store, "capabilities", None)
    return bool(caps is not None and caps.cross_process)
