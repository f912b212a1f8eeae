"""Running commands on one server: the client, the scripts, errors translated, producer retries.

What the server is (its fingerprint, restarts) is watched by :mod:`queuekit_redis.server`;
lost queue data is noticed by :mod:`queuekit_redis.epochs`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import redis

from queuekit.errors import ConnectionLost
from queuekit.retry import backoff_delay
from queuekit.urls import redact
from queuekit_redis.durability import Fingerprint, probe, probe_cluster
from queuekit_redis.errors import timed_out, translate
from queuekit_redis.keys import Keyspace
from queuekit_redis.scripts import Scripts
from queuekit_redis.server import ServerWatch
from queuekit_redis.settings import RedisSettings, make_client, make_cluster_client, socket_timeout
from queuekit_redis.wire import Wire

log = logging.getLogger("queuekit.redis")

T = TypeVar("T")
CLUSTER_TURN = 0.05  # seconds a cluster reserve on several queues blocks on each in turn
Call = tuple[str, Sequence[str], Sequence[Any]]  # script name, KEYS, ARGV


class Connection:
    """Runs commands and scripts with errors translated.

    Standalone servers: a pooled client for plain commands and pipelines, and a
    dedicated connection per thread (:class:`Wire`) for the scripts on the hot path.
    A Cluster (``cluster=true``): a cluster client, opened on first use, that routes each
    script by its keys' slot; calls that would span slots are made one by one.
    The first command reads the server's fingerprint (:attr:`server`), and so does the
    first success after a lost connection, so that a restart is recognised.
    """

    def __init__(self, url: str, client_url: str, settings: RedisSettings, client_options: dict[str, Any]) -> None:
        self.where = redact(url)
        self.settings = settings
        self.cluster = settings.cluster
        self.keys = Keyspace(settings.prefix)
        self._client_url, self._client_options = client_url, client_options
        self._client: Any = None
        self._scripts: Scripts | None = None
        self.wire: Wire | None = None
        if not self.cluster:
            standalone = make_client(client_url, client_options)
            self._client, self._scripts, self.wire = standalone, Scripts(standalone), Wire(standalone.connection_pool)
        self._turn = 0
        self._lock = threading.Lock()
        timeout = socket_timeout(client_url, client_options)
        self.server = ServerWatch(self.where, self._probe, timeout or 10.0)
        # A BLPOP on the thread's own connection reads with its block added to the socket
        # timeout; through the cluster client it cannot, so there it must end well before.
        self.max_block = min(settings.max_block, 0.8 * timeout) if self.cluster and timeout else settings.max_block

    def _probe(self) -> Fingerprint:
        return probe_cluster(self.client) if self.cluster else probe(self.client)

    @property
    def client(self) -> Any:
        """The redis-py client (a cluster client is made, and finds its nodes, on first use)."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    try:
                        self._client = make_cluster_client(self._client_url, self._client_options)
                    except (redis.RedisError, OSError) as exc:
                        raise translate(exc, self.where) from exc
        return self._client

    @property
    def scripts(self) -> Scripts:
        """The registered scripts."""
        if self._scripts is None:
            client = self.client
            with self._lock:
                if self._scripts is None:
                    self._scripts = Scripts(client)
        return self._scripts

    # -- running commands ----------------------------------------------------------------

    def run(self, action: Callable[[redis.Redis], T]) -> T:
        """Run ``action(client)`` with errors translated; re-check the server after a failure."""
        server = self.server
        server.first()
        try:
            result = action(self.client)
        except (redis.RedisError, OSError) as exc:
            raise self._failed(exc) from exc
        if server.suspect:
            server.recheck()
        return result

    def _failed(self, exc: BaseException) -> Exception:
        error = translate(exc, self.where)
        self.server.lost(error)
        return error

    def script(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """One script call (EVALSHA): one round trip on this thread's own connection."""
        server = self.server
        server.first()
        send = self.wire.command if self.wire is not None else self.client.execute_command
        try:
            try:
                result = send("EVALSHA", self.scripts.sha(name), len(keys), *keys, *args)
            except redis.exceptions.NoScriptError:
                self.scripts.load(name)  # the server forgot it (restart, SCRIPT FLUSH)
                result = send("EVALSHA", self.scripts.sha(name), len(keys), *keys, *args)
        except (redis.RedisError, OSError) as exc:
            raise self._failed(exc) from exc
        if server.suspect:
            server.recheck()
        return result

    def call(self, name: str, queue: str, args: Sequence[Any]) -> Any:
        """Run script ``name`` on one queue's keys."""
        return self.script(name, self.keys.queue(queue).for_script[name], args)

    def on(self, name: str, queue: str, args: Sequence[Any]) -> Call:
        """Script ``name`` on one queue's keys, as one entry of :meth:`pipeline`."""
        return name, self.keys.queue(queue).for_script[name], args

    def pipeline(self, calls: Sequence[Call], *, transaction: bool) -> list[Any]:
        """Several script calls in one round trip (in MULTI/EXEC when ``transaction``).

        On a cluster the calls may name different slots: they are made one by one.
        """
        if self.cluster:
            return [self.script(*call) for call in calls]

        def execute(client: redis.Redis) -> list[Any]:
            for attempt in (1, 2):
                pipe = client.pipeline(transaction=transaction)
                for name, keys, args in calls:
                    pipe.evalsha(self.scripts.sha(name), len(keys), *keys, *args)
                try:
                    return list(pipe.execute())
                except redis.exceptions.NoScriptError:
                    if attempt == 2:
                        raise
                    self.scripts.load_all()  # every script is idempotent under retry
            raise AssertionError("unreachable")

        return self.run(execute)

    def retrying(self, action: Callable[[], T]) -> T:
        """Producer-side: retry ``action`` after a lost connection, as configured."""
        retries, backoff = self.settings.retries, self.settings.retry_backoff
        for attempt in range(retries + 1):
            try:
                return action()
            except ConnectionLost as exc:
                if attempt == retries or timed_out(exc):  # a silent server: another try waits as long
                    raise
                pause = backoff_delay(attempt + 1, backoff, 2.0)
                log.warning("%s; retry %d of %d in %.2fs", exc, attempt + 1, retries, pause)
                time.sleep(pause)
        raise AssertionError("unreachable")

    def block(self, wake_keys: Sequence[str], seconds: float) -> None:
        """Wait on the server for a wake-up token on any of the queues (BLPOP).

        On a cluster BLPOP takes one slot's keys: with several queues it waits on one at
        a time, turn about, for at most ``CLUSTER_TURN`` seconds each.
        """
        timeout = f"{max(seconds, 0.001):.3f}"
        try:
            if self.wire is not None:
                self.wire.command("BLPOP", *wake_keys, timeout, wait=seconds)
            elif len(wake_keys) == 1:
                self.client.execute_command("BLPOP", wake_keys[0], timeout)
            else:
                self._turn = (self._turn + 1) % len(wake_keys)
                turn = f"{max(min(seconds, CLUSTER_TURN), 0.001):.3f}"
                self.client.execute_command("BLPOP", wake_keys[self._turn], turn)
        except (redis.RedisError, OSError) as exc:
            raise self._failed(exc) from exc

    def close(self) -> None:
        """Drop every connection (the client reconnects if used again)."""
        if self.wire is not None:
            self.wire.close()
            self._client.connection_pool.disconnect()
        elif self._client is not None:
            self._client.close()
