"""The KeyValue primitive on SQL: one row per entry in the ``<prefix>kv`` table.

Expiry is decided on the same clock as leases (the server's, or the client's on SQLite).
Writes that must see "absent" first delete their key's expired row in the same
transaction; expired rows of other keys are swept with the results.
"""

from __future__ import annotations

from typing import Any

from queuekit.keyvalue import check_key, check_ttl, check_value
from queuekit_sql.base import BrokerBase, as_bytes, rows, run
from queuekit_sql.records import Entry, Value, ValueExpiry

_LIKE = str.maketrans({"!": "!!", "%": "!%", "_": "!_"})


class KeyValueOps(BrokerBase):
    """``kv_*`` methods for :class:`~queuekit_sql.broker.SQLBroker`."""

    def kv_get(self, key: str) -> bytes | None:
        """The value, or None when absent or expired."""
        params = self._params(k=check_key(key))
        found = self._db.read(lambda cur: rows(cur, self._sql.get("kv_get"), params, Value), what="kv get")
        return as_bytes(found[0].v) if found else None

    def kv_set(
        self, key: str, value: bytes, *, ttl: float | None = None, if_absent: bool = False,
        if_equal: bytes | None = None,
    ) -> bool:
        """Upsert; insert-if-absent; or compare-and-set (one UPDATE matching the old value)."""
        params = self._params(k=check_key(key), v=check_value(value), ttl=check_ttl(ttl))
        if if_equal is not None:
            params["old"] = if_equal
            changed = self._db.write(lambda cur: run(cur, self._sql.get("kv_cas"), params).rowcount,
                                     single=True, what="kv compare-and-set")
            return bool(changed == 1)
        if not if_absent:
            self._db.write(lambda cur: run(cur, self._sql.get("kv_upsert"), params), single=True, what="kv set")
            return True

        def insert(cur: Any) -> bool:
            run(cur, self._sql.get("kv_drop_expired"), params)
            return bool(run(cur, self._sql.get("kv_insert"), params).rowcount == 1)

        return bool(self._db.write(insert, what="kv set if absent"))

    def kv_incr(self, key: str, amount: int = 1, *, ttl: float | None = None) -> int:
        """Create the counter at 0 if absent (with ``ttl``), lock its row, add, write back."""
        params = self._params(k=check_key(key), v=b"0", ttl=check_ttl(ttl))

        def add(cur: Any) -> int:
            run(cur, self._sql.get("kv_drop_expired"), params)
            run(cur, self._sql.get("kv_insert"), params)
            current = rows(cur, self._sql.get("kv_lock"), params, Value)
            value = int(as_bytes(current[0].v)) + int(amount)
            run(cur, self._sql.get("kv_put"), {"k": key, "v": str(value).encode()})
            return value

        result: int = self._db.write(add, what="kv increment")
        return result

    def kv_delete(self, key: str, *, if_equal: bytes | None = None) -> bool:
        """Delete a live entry (only if its value is ``if_equal``, when given)."""
        params = self._params(k=check_key(key))
        name = "kv_delete"
        if if_equal is not None:
            params["old"], name = if_equal, "kv_delete_if"
        deleted = self._db.write(lambda cur: run(cur, self._sql.get(name), params).rowcount,
                                 single=True, what="kv delete")
        return bool(deleted == 1)

    def kv_scan(self, prefix: str, limit: int = 1000) -> dict[str, bytes]:
        """Live entries whose key starts with ``prefix`` (at most ``limit``)."""
        params = self._params(pattern=prefix.translate(_LIKE) + "%", prefix=prefix, n=len(prefix), limit=int(limit))
        found = self._db.read(lambda cur: rows(cur, self._sql.get("kv_scan"), params, Entry), what="kv scan")
        return {str(entry.k): as_bytes(entry.v) for entry in found}

    def kv_add(self, key: str, member: str, *, ttl: float | None = None) -> tuple[bool, int]:
        """Add ``member`` to the set at ``key`` in one transaction: (whether it was new, the set's size)."""
        params = self._params(k=check_key(key), v=b"0", ttl=check_ttl(ttl), member=check_key(member))

        def add(cur: Any) -> tuple[bool, int]:
            run(cur, self._sql.get("kv_drop_expired"), params)
            run(cur, self._sql.get("kvm_drop_expired"), params)
            run(cur, self._sql.get("kv_insert"), params)
            size = rows(cur, self._sql.get("kv_lock_expiry"), params, ValueExpiry)[0]
            added = run(cur, self._sql.get("kvm_insert"), {**params, "expires_at": size.expires_at}).rowcount == 1
            count = int(as_bytes(size.v)) + (1 if added else 0)
            if added:
                run(cur, self._sql.get("kv_put"), {"k": key, "v": str(count).encode()})
            return bool(added), count

        result: tuple[bool, int] = self._db.write(add, what="kv add")
        return result

    def sweep_key_values(self) -> int:
        """Delete expired entries and set members now; return how many entries."""
        params = self._params()

        def sweep(cur: Any) -> int:
            count: int = run(cur, self._sql.get("kv_sweep"), params).rowcount
            run(cur, self._sql.get("kvm_sweep"), params)
            return count

        result: int = self._db.write(sweep, what="kv sweep")
        return result
