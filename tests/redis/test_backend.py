"""Redis-specific behaviour beyond the conformance kit: options, keys, scripts, blocking."""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from queuekit_redis import RedisBroker
from queuekit_redis.keys import SCRIPT_KEYS, Keyspace
from queuekit_redis.scripts import QUEUE_SCRIPTS, script_text
from redis.crc import key_slot

from queuekit import App
from queuekit.broker import Delivery, Envelope, JobStatus, Outcome, QueueStats
from queuekit.errors import ConfigurationError, ConnectionLost, InvalidQueueName
from tests.redis.servers import PrivateRedis, delete_prefix, make_certificates, unique_prefix
from tests.sql.proxy import Proxy
from tests.support import wait_until

pytestmark = pytest.mark.service


@pytest.fixture
def broker(redis_url: str) -> Iterator[RedisBroker]:
    opened = RedisBroker(redis_url)
    yield opened
    opened.close()


def env(queue: str, body: bytes = b"x", **fields: object) -> Envelope:
    return Envelope(uuid.uuid4().hex, queue, body, **fields)  # type: ignore[arg-type]


# -- options and errors ---------------------------------------------------------------------


def test_prefix_comes_from_the_url_and_isolates_apps(redis_url: str) -> None:
    base = redis_url.split("?")[0]
    prefixes = [unique_prefix(), unique_prefix()]
    first, second = (RedisBroker(f"{base}?prefix={prefix}") for prefix in prefixes)
    try:
        [job] = first.enqueue([env("shared")])
        assert second.reserve(["shared"], 10, 30) == []
        assert [d.id for d in first.reserve(["shared"], 10, 30)] == [job]
    finally:
        first.close()
        second.close()
        delete_prefix(base, *prefixes)


@pytest.mark.parametrize(
    ("url", "options", "named"),
    [
        ("redis://127.0.0.1/0?prefix=bad{tag}", {}, "prefix"),
        ("redis://127.0.0.1/0", {"prefix": ""}, "prefix"),
        ("redis://127.0.0.1/0?retries=many", {}, "retries"),
        ("redis://127.0.0.1/0", {"max_block": 0}, "max_block"),
        ("redis://127.0.0.1/0?cluster=maybe", {}, "cluster"),
        ("redis://127.0.0.1/0", {"no_such_option": 1}, "no_such_option"),
        ("redis://127.0.0.1/0?socket_timeout=soon", {}, "socket_timeout"),
        ("memcached://127.0.0.1/0", {}, "memcached"),
    ],
)
def test_bad_options_fail_at_open_naming_the_option(url: str, options: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigurationError, match=named):
        RedisBroker(url, **options)


def test_credentials_never_appear_in_repr_or_errors() -> None:
    broker = RedisBroker("redis://:hunter2secret@127.0.0.1:1/0?retries=0")
    assert "hunter2secret" not in repr(broker)
    with pytest.raises(ConnectionLost) as caught:
        broker.enqueue([env("q")])
    assert "hunter2secret" not in str(caught.value)
    assert "127.0.0.1:1" in str(caught.value)


def test_producer_retries_a_lost_connection_as_configured(caplog: pytest.LogCaptureFixture) -> None:
    broker = RedisBroker("redis://127.0.0.1:1/0", retries=2, retry_backoff=0.001)
    with caplog.at_level(logging.WARNING, logger="queuekit.redis"), pytest.raises(ConnectionLost):
        broker.enqueue([env("q")])
    retries = [r.getMessage() for r in caplog.records if "retry" in r.getMessage()]
    assert len(retries) == 2 and "retry 2 of 2" in retries[-1]


def test_invalid_queue_name_and_priority_are_refused(broker: RedisBroker) -> None:
    with pytest.raises(InvalidQueueName, match="bad queue"):
        broker.enqueue([env("bad queue")])
    with pytest.raises(ValueError, match="priority"):
        broker.enqueue([env("q", priority=2**60)])
    assert broker.stats(["q"]) == {"q": QueueStats()}


def test_unix_socket_url(tmp_path: Path) -> None:
    socket_path = tmp_path / "redis.sock"
    server = PrivateRedis(tmp_path, ["--unixsocket", str(socket_path)])
    server.start()
    try:
        broker = RedisBroker(f"redis+unix://{socket_path}?db=0&prefix=unix")
        [job] = broker.enqueue([env("q")])
        assert [d.id for d in broker.reserve(["q"], 1, 30)] == [job]
        broker.close()
    finally:
        server.kill()


def test_tls_url_with_a_verified_certificate(tmp_path: Path) -> None:
    certificates = make_certificates(tmp_path / "tls")
    server = PrivateRedis(tmp_path, tls=certificates)
    server.start()
    try:
        broker = RedisBroker(f"{server.url}?ssl_ca_certs={certificates / 'ca.crt'}&prefix=tls")
        [job] = broker.enqueue([env("q")])
        assert [d.id for d in broker.reserve(["q"], 1, 30)] == [job]
        broker.close()
        untrusted = RedisBroker(server.url, retries=0)
        with pytest.raises(ConnectionLost, match="certificate"):
            untrusted.enqueue([env("q")])
    finally:
        server.kill()


def test_app_opens_the_backend_from_its_url(redis_url: str) -> None:
    app = App(redis_url, lease=5)
    queue = f"app-{uuid.uuid4().hex[:6]}"

    @app.task(queue=queue, name="redis.test.double")
    def double(x: int) -> int:
        return 2 * x

    jobs = app.enqueue_many([double.message(i) for i in range(10)])
    assert app.worker(queues=[queue], burst=True).run(install_signals=False) == 0
    assert [job.result(timeout=10) for job in jobs] == [2 * i for i in range(10)]
    app.close()


def test_a_forked_child_gets_its_own_connection(broker: RedisBroker) -> None:
    [first] = broker.enqueue([env("forked")])  # the parent's connection exists now
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            broker.enqueue([env("forked")])
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(child, 0)
    assert os.WEXITSTATUS(status) == 0, "the child could not use the broker"
    assert broker.stats(["forked"])["forked"] == QueueStats(ready=2), "the parent's connection still works"
    assert broker.reserve(["forked"], 1, 30)[0].id == first


# -- ordering and batches --------------------------------------------------------------------


def test_priorities_are_exact_to_the_edge_of_a_double(broker: RedisBroker) -> None:
    edge = 2**53 - 1
    priorities = [edge, edge - 1, -edge, 0, -edge + 1, 7]
    sent = [env("q", priority=p) for p in priorities]
    broker.enqueue(sent)
    got = broker.reserve(["q"], 10, 30)
    assert [d.priority for d in got] == sorted(priorities, reverse=True)
    assert {d.id: d.priority for d in got} == {e.id: e.priority for e in sent}


def test_several_queues_highest_priority_first_then_oldest(broker: RedisBroker) -> None:
    a1 = env("a")
    b1 = env("b")
    a2 = env("a")
    urgent = env("b", priority=5)
    for one in (a1, b1, a2, urgent):
        broker.enqueue([one])
    got = broker.reserve(["a", "b"], 10, 30)
    assert [d.id for d in got] == [urgent.id, a1.id, b1.id, a2.id]
    assert [d.queue for d in got] == ["b", "a", "b", "a"]


def test_one_batch_over_two_queues_keeps_each_jobs_queue_priority_delay_and_key(broker: RedisBroker) -> None:
    key = f"k-{uuid.uuid4().hex}"
    plain_a, plain_b = env("a"), env("b")
    urgent_b, later_b, keyed_b = env("b", priority=7), env("b", delay=60), env("b", key=key)
    ids = broker.enqueue([plain_a, plain_b, urgent_b, later_b, keyed_b, env("b", key=key)])
    assert ids == [plain_a.id, plain_b.id, urgent_b.id, later_b.id, keyed_b.id, keyed_b.id]
    assert broker.stats(["a", "b"]) == {"a": QueueStats(ready=1), "b": QueueStats(ready=3, delayed=1)}
    got = broker.reserve(["b"], 10, 30)
    assert [(d.id, d.priority) for d in got] == [(urgent_b.id, 7), (plain_b.id, 0), (keyed_b.id, 0)]
    assert [d.id for d in broker.reserve(["a"], 10, 30)] == [plain_a.id]


def test_batches_larger_than_one_script_call(broker: RedisBroker) -> None:
    sent = [env("a" if i % 3 else "b") for i in range(2500)]
    key = f"k-{uuid.uuid4().hex}"
    sent[1] = env("a", key=key)
    sent[1800] = env("a", key=key)  # same key in another chunk: returns the first holder
    ids = broker.enqueue(sent)
    assert ids[1800] == sent[1].id
    assert [i for i, e in enumerate(sent) if ids[i] != e.id] == [1800]
    stats = broker.stats(["a", "b"])
    assert stats["a"].ready + stats["b"].ready == 2499
    got: list[Delivery] = []
    while batch := broker.reserve(["a", "b"], 1000, 30):
        got.extend(batch)
    assert sorted(d.id for d in got) == sorted(e.id for i, e in enumerate(sent) if i != 1800)
    broker.ack(got)
    assert broker.stats(["a", "b"]) == {"a": QueueStats(), "b": QueueStats()}


def test_stats_of_all_queues_lists_every_queue_used(broker: RedisBroker) -> None:
    broker.enqueue([env("one"), env("two"), env("two")])
    assert broker.stats() == {"one": QueueStats(ready=1), "two": QueueStats(ready=2)}


def test_requeue_dead_forgets_the_old_result(broker: RedisBroker) -> None:
    [job] = broker.enqueue([env("q")])
    [held] = broker.reserve(["q"], 1, 30)
    broker.save_outcomes([Outcome(job, JobStatus.FAILED, error="boom")], 60)
    broker.dead_letter([(held, "boom")])
    other = env("q")
    broker.save_outcomes([Outcome(other.id, JobStatus.SUCCEEDED, result=1)], 60)
    assert broker.requeue_dead("q", [job, other.id]) == 1
    assert broker.load_outcome(job) is None
    assert broker.load_outcome(other.id) is not None, "an id that was not a dead letter keeps its result"


# -- keys and scripts ------------------------------------------------------------------------


def test_every_script_touches_one_hash_slot() -> None:
    queue = Keyspace("app").queue("emails")
    for name in QUEUE_SCRIPTS:
        slots = {key_slot(key.encode()) for key in queue.for_script[name]}
        assert len(slots) == 1, f"script {name} spans slots {slots}"
    assert set(SCRIPT_KEYS) == set(QUEUE_SCRIPTS)


def test_every_script_documents_the_keys_it_takes() -> None:
    for name in QUEUE_SCRIPTS:
        header = script_text(name).split("-- KEYS", 1)[1].splitlines()[0]
        assert " ".join(SCRIPT_KEYS[name]) in header, f"lua/{name}.lua header disagrees with keys.py"


def test_keys_of_a_queue_share_its_hash_tag(broker: RedisBroker, redis_url: str) -> None:
    prefix = redis_url.split("prefix=")[1]
    broker.enqueue([env("tagged"), env("tagged", key="k"), env("tagged", delay=60)])
    [held] = broker.reserve(["tagged"], 1, 30)
    broker.dead_letter([(held, "x")])
    client = redis.Redis.from_url(redis_url.split("?")[0])
    written = [k.decode() for k in client.scan_iter(match=f"{{{prefix}:tagged}}*")]
    client.close()
    expected = {"ready", "delayed", "body", "meta", "keys", "info", "wake", "dead", "dbody", "dinfo"}
    assert {k.rsplit(":", 1)[1] for k in written} == expected
    assert len({key_slot(k.encode()) for k in written}) == 1


def test_scripts_come_back_after_the_server_forgot_them(broker: RedisBroker, redis_url: str) -> None:
    broker.enqueue([env("a"), env("b")])
    client = redis.Redis.from_url(redis_url.split("?")[0])
    client.script_flush()
    got = broker.reserve(["a", "b"], 10, 30)  # single script call
    client.script_flush()
    broker.ack(got)  # two queues: one pipeline
    client.close()
    assert broker.stats(["a", "b"]) == {"a": QueueStats(), "b": QueueStats()}


# -- blocking reserve -------------------------------------------------------------------------


def _blocked_in_blpop(redis_url: str) -> bool:
    client = redis.Redis.from_url(redis_url.split("?")[0])
    try:
        return any(c.get("cmd") == "blpop" and "b" in c.get("flags", "") for c in client.client_list())
    finally:
        client.close()


@pytest.mark.parametrize("delay", [0.0, 0.3])
def test_idle_reserve_blocks_on_the_server_until_a_job_is_due(
    broker: RedisBroker, redis_url: str, delay: float
) -> None:
    queue = f"idle-{uuid.uuid4().hex[:6]}"
    found: list[list[Delivery]] = []
    waiter = threading.Thread(target=lambda: found.append(broker.reserve([queue], 5, 30, wait=60)), daemon=True)
    waiter.start()
    wait_until(lambda: _blocked_in_blpop(redis_url), 10, "the reserve to block in BLPOP on the server")
    [job] = broker.enqueue([env(queue, delay=delay)])
    waiter.join(30)
    assert not waiter.is_alive(), "the blocked reserve must return once the job is due"
    assert [d.id for d in found[0]] == [job]


def test_a_blocked_reserve_never_outwaits_the_socket_timeout(redis_url: str) -> None:
    broker = RedisBroker(f"{redis_url}&socket_timeout=0.5&max_block=30", retries=0)
    queue = f"slow-{uuid.uuid4().hex[:6]}"
    assert broker.reserve([queue], 1, 30, wait=1.2) == [], "an idle wait longer than the timeout is not an error"
    broker.close()


def test_a_server_silent_during_a_blocked_reserve_is_reported_not_waited_on(redis_url: str) -> None:
    # the read of a BLPOP waits its block plus socket_timeout: past that, silence is a lost server
    base, _, options = redis_url.partition("?")
    with Proxy(("127.0.0.1", redis.Redis.from_url(base).connection_pool.connection_kwargs["port"])) as proxy:
        broker = RedisBroker(f"redis://127.0.0.1:{proxy.port}/0?{options}&socket_timeout=0.5", retries=0)
        queue = f"silent-{uuid.uuid4().hex[:6]}"
        outcome: list[object] = []

        def reserve() -> None:
            try:
                outcome.append(broker.reserve([queue], 1, 30, wait=2.0))
            except ConnectionLost as exc:
                outcome.append(exc)

        waiter = threading.Thread(target=reserve, daemon=True)
        waiter.start()
        wait_until(lambda: _blocked_in_blpop(redis_url), 10, "the reserve to block in BLPOP on the server")
        proxy.freeze()
        waiter.join(30)
        assert not waiter.is_alive(), "a blocked reserve on a silent server must give up"
        assert len(outcome) == 1 and isinstance(outcome[0], ConnectionLost), outcome
        assert "did not answer" in str(outcome[0])
        broker.close()


def test_a_woken_reserve_passes_the_wake_up_on_while_jobs_remain(broker: RedisBroker, redis_url: str) -> None:
    queue = f"many-{uuid.uuid4().hex[:6]}"
    found: list[list[Delivery]] = [[], []]
    waiters = [
        threading.Thread(target=lambda i=i: found[i].extend(broker.reserve([queue], 2, 30, wait=60)), daemon=True)
        for i in range(2)
    ]
    for waiter in waiters:
        waiter.start()
    client = redis.Redis.from_url(redis_url.split("?")[0])
    wait_until(lambda: sum(c.get("cmd") == "blpop" for c in client.client_list()) == 2, 10, "two blocked reserves")
    client.close()
    broker.enqueue([env(queue) for _ in range(4)])
    for waiter in waiters:
        waiter.join(30)
    assert [len(got) for got in found] == [2, 2], "both blocked consumers must wake for four jobs"
