"""Conformance tests for the key-value primitive (``key_value``) and job removal (``remove``)."""

from __future__ import annotations

import threading
import uuid

from queuekit.broker import JobRemoval, KeyValue, QueueStats
from queuekit.testing.capabilities import requires
from queuekit.testing.harness import HOLD, Harness


def _kv(kit: Harness) -> KeyValue:
    assert isinstance(kit.broker, KeyValue), "a broker declaring `key_value` must implement KeyValue"
    return kit.broker


def _key(label: str = "k") -> str:
    return f"qk-test:{uuid.uuid4().hex}:{label}"


class KeyValueContract:
    """Atomic small state: set, compare-and-set, counters, deletes, prefix scans and TTLs."""

    @requires("key_value")
    def test_set_get_and_overwrite(self, kit: Harness) -> None:
        kv, key = _kv(kit), _key()
        assert kv.kv_get(key) is None
        assert kv.kv_set(key, b"one") is True
        assert kv.kv_get(key) == b"one"
        assert kv.kv_set(key, b"\x00two\xff") is True
        assert kv.kv_get(key) == b"\x00two\xff"

    @requires("key_value")
    def test_if_absent_writes_only_the_first_time(self, kit: Harness) -> None:
        kv, key = _kv(kit), _key()
        assert kv.kv_set(key, b"first", if_absent=True) is True
        assert kv.kv_set(key, b"second", if_absent=True) is False
        assert kv.kv_get(key) == b"first"

    @requires("key_value")
    def test_compare_and_set(self, kit: Harness) -> None:
        kv, key = _kv(kit), _key()
        assert kv.kv_set(key, b"b", if_equal=b"a") is False  # absent is not equal to anything
        assert kv.kv_get(key) is None
        kv.kv_set(key, b"a")
        assert kv.kv_set(key, b"b", if_equal=b"x") is False
        assert kv.kv_get(key) == b"a"
        assert kv.kv_set(key, b"b", if_equal=b"a") is True
        assert kv.kv_get(key) == b"b"
        assert kv.kv_set(key, b"b", if_equal=b"b") is True  # the same value again still counts as written

    @requires("key_value")
    def test_compare_and_set_has_one_winner(self, kit: Harness) -> None:
        kv, key = _kv(kit), _key()
        kv.kv_set(key, b"0")
        wins: list[str] = []
        barrier = threading.Barrier(4)

        def contend(name: str) -> None:
            barrier.wait()
            if kv.kv_set(key, name.encode(), if_equal=b"0"):
                wins.append(name)

        threads = [threading.Thread(target=contend, args=(f"t{i}",)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(wins) == 1
        assert kv.kv_get(key) == wins[0].encode()

    @requires("key_value")
    def test_counter_counts_every_increment(self, kit: Harness) -> None:
        kv, key = _kv(kit), _key()
        assert kv.kv_incr(key) == 1
        assert kv.kv_incr(key, 5) == 6
        assert kv.kv_incr(key, -2) == 4

        def add() -> None:
            for _ in range(25):
                kv.kv_incr(key)

        threads = [threading.Thread(target=add) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert kv.kv_get(key) == b"104"

    @requires("key_value")
    def test_delete_and_conditional_delete(self, kit: Harness) -> None:
        kv, key = _kv(kit), _key()
        assert kv.kv_delete(key) is False
        kv.kv_set(key, b"mine")
        assert kv.kv_delete(key, if_equal=b"theirs") is False
        assert kv.kv_get(key) == b"mine"
        assert kv.kv_delete(key, if_equal=b"mine") is True
        assert kv.kv_get(key) is None
        kv.kv_set(key, b"again")
        assert kv.kv_delete(key) is True
        assert kv.kv_get(key) is None

    @requires("key_value")
    def test_scan_by_prefix(self, kit: Harness) -> None:
        kv = _kv(kit)
        prefix = f"qk-test:{uuid.uuid4().hex}:"
        for i in range(5):
            kv.kv_set(f"{prefix}{i}", str(i).encode())
        kv.kv_set(f"{prefix[:-1]}x", b"not under the prefix")
        kv.kv_set(f"{prefix}gone", b"deleted")
        kv.kv_delete(f"{prefix}gone")
        assert kv.kv_scan(prefix) == {f"{prefix}{i}": str(i).encode() for i in range(5)}
        assert len(kv.kv_scan(prefix, limit=2)) == 2

    @requires("key_value")
    def test_scan_takes_like_wildcards_literally(self, kit: Harness) -> None:
        kv = _kv(kit)
        base = f"qk-test:{uuid.uuid4().hex}"
        kv.kv_set(f"{base}:a%_!b:1", b"literal")
        kv.kv_set(f"{base}:aXYZb:2", b"would match a wildcard")
        assert kv.kv_scan(f"{base}:a%_!b:") == {f"{base}:a%_!b:1": b"literal"}

    @requires("key_value")
    def test_keys_expire_after_their_ttl(self, kit: Harness) -> None:
        kv = _kv(kit)
        short, kept, counter = _key("short"), _key("kept"), _key("counter")
        prefix = short.rsplit(":", 1)[0]
        assert kv.kv_set(short, b"soon gone", ttl=kit.short)
        kv.kv_set(kept, b"stays", ttl=HOLD)
        assert kv.kv_incr(counter, ttl=kit.short) == 1
        assert kv.kv_incr(counter, ttl=HOLD) == 2  # the TTL is the creator's
        kit.outlive(kit.short)
        kit.eventually(lambda: kv.kv_get(short) is None and kv.kv_get(counter) is None, "keys past their TTL")
        assert kv.kv_get(kept) == b"stays"
        assert kv.kv_scan(prefix) == {}
        assert kv.kv_set(short, b"new", if_absent=True) is True  # an expired key is absent
        assert kv.kv_incr(counter) == 1
        assert kv.kv_set(short, b"x", if_equal=b"soon gone") is False

    @requires("key_value")
    def test_sets_count_each_member_once(self, kit: Harness) -> None:
        kv, key = _kv(kit), _key("set")
        assert kv.kv_add(key, "a") == (True, 1)
        assert kv.kv_add(key, "b") == (True, 2)
        assert kv.kv_add(key, "a") == (False, 2)
        results: list[tuple[bool, int]] = []
        barrier = threading.Barrier(4)

        def add(member: str) -> None:
            barrier.wait()
            results.append(kv.kv_add(key, member))

        threads = [threading.Thread(target=add, args=(m,)) for m in ("c", "d", "c", "d")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert [added for added, _ in results].count(True) == 2  # each new member counted once
        assert sorted(size for added, size in results if added) == [3, 4]
        assert kv.kv_add(key, "e") == (True, 5)

    @requires("key_value")
    def test_a_set_expires_with_its_ttl(self, kit: Harness) -> None:
        kv, key = _kv(kit), _key("set")
        assert kv.kv_add(key, "a", ttl=kit.short) == (True, 1)
        assert kv.kv_add(key, "b", ttl=HOLD) == (True, 2)  # the TTL is the creator's
        kit.outlive(kit.short)
        kit.eventually(lambda: kv.kv_add(key, "a", ttl=HOLD) == (True, 1), "a new set after the old one expired")

    @requires("key_value", "cross_process")
    def test_another_connection_sees_the_same_state(self, kit: Harness) -> None:
        kv, key = _kv(kit), _key()
        other = kit.open_another()
        assert isinstance(other, KeyValue)
        kv.kv_set(key, b"shared")
        assert other.kv_get(key) == b"shared"
        assert other.kv_set(key, b"changed", if_equal=b"shared") is True
        assert kv.kv_get(key) == b"changed"


class JobRemovalContract:
    """A waiting job can be deleted by id; a held one cannot."""

    def _remover(self, kit: Harness) -> JobRemoval:
        assert isinstance(kit.broker, JobRemoval), "a broker declaring `remove` must implement JobRemoval"
        return kit.broker

    @requires("remove")
    def test_remove_ready_and_delayed_jobs(self, kit: Harness) -> None:
        remover, queue = self._remover(kit), kit.queue()
        ready, later = kit.envelope(queue), kit.envelope(queue, delay=HOLD)
        kept = kit.envelope(queue)
        kit.broker.enqueue([ready, later, kept])
        assert remover.remove(ready.id) is True
        assert remover.remove(later.id) is True
        assert remover.remove(ready.id) is False
        assert kit.stats(queue) == QueueStats(ready=1)
        assert kit.take_one(queue).id == kept.id

    @requires("remove")
    def test_a_held_job_is_not_removed(self, kit: Harness) -> None:
        remover, queue = self._remover(kit), kit.queue()
        kit.put(queue)
        held = kit.take_one(queue)
        assert remover.remove(held.id) is False
        assert remover.remove(uuid.uuid4().hex) is False
        kit.broker.ack([held])
        assert kit.stats(queue) == QueueStats()

    @requires("remove", "dedup")
    def test_removal_releases_the_dedup_key(self, kit: Harness) -> None:
        remover, queue = self._remover(kit), kit.queue()
        key = f"key-{uuid.uuid4().hex}"
        first = kit.envelope(queue, key=key)
        kit.broker.enqueue([first])
        assert remover.remove(first.id) is True
        again = kit.envelope(queue, key=key)
        assert kit.broker.enqueue([again]) == [again.id]
