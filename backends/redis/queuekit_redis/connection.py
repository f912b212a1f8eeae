"""One broker's link to the server: client, scripts, keys, retries and reset detection."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import redis

from queuekit.errors import ConnectionLost
from queuekit.retry import backoff_delay
from queuekit.urls import redact
from queuekit_redis.durability import Fingerprint, probe, probe_cluster
from queuekit_redis.errors import timed_out, translate, translated
from queuekit_redis.keys import Keyspace
from queuekit_redis.scripts import Scripts
from queuekit_redis.settings import RedisSettings, make_client, make_cluster_client, socket_timeout
from queuekit_redis.wire import Wire

log = logging.getLogger("queuekit.redis")

T = TypeVar("T")
CLUSTER_TURN = 0.05  # seconds a cluster reserve on several queues blocks on each in turn
Call = tuple[str, Sequence[str], Sequence[Any]]  # script name, KEYS, ARGV


@dataclass(frozen=True)
class StateReset:
    """A queue whose data the server lost, as one client noticed it."""

    queue: str
    old_epoch: str
    new_epoch: str
    detected_at: float
    last_known_backlog: int | None


class Connection:
    """Runs scripts with errors translated; notices restarts and lost data.

    Standalone servers: a pooled client for plain commands and pipelines, and a
    dedicated connection per thread (:class:`Wire`) for the scripts on the hot path.
    A Cluster (``cluster=true``): a cluster client, opened on first use, that routes each
    script by its keys' slot; calls that would span slots are made one by one.
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
        self.candidate = uuid.uuid4().hex  # the epoch this client writes for a queue that has none
        self.resets: list[StateReset] = []
        self.backlog: dict[str, int] = {}  # last known depth per queue (from stats)
        self._epochs: dict[str, bytes] = {}
        self._registered: set[str] = set()
        self._fingerprint: Fingerprint | None = None
        self._suspect = False
        self._turn = 0
        self._lock = threading.Lock()
        timeout = socket_timeout(client_url, client_options)  # a BLPOP must end before a read times out
        self._read_timeout = timeout or 10.0
        self._silent: tuple[float, str] | None = None  # when a first probe timed out, and how
        self.max_block = settings.max_block if not timeout else min(settings.max_block, 0.8 * timeout)

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
        """Run ``action(client)`` with errors translated; re-check the server after a failure.

        The first call records the server's fingerprint (persistence, run id), so that a
        restart is recognised and the durability banner is logged once at connect.
        """
        if self._fingerprint is None:
            self.fingerprint(silent_raises=True)
        try:
            result = action(self.client)
        except (redis.RedisError, OSError) as exc:
            raise self._failed(exc) from exc
        if self._suspect:
            self._suspect = False
            self.fingerprint(refresh=True)
        return result

    def _failed(self, exc: BaseException) -> Exception:
        error = translate(exc, self.where)
        if isinstance(error, ConnectionLost):
            self._suspect = True
        return error

    def script(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """One script call (EVALSHA): one round trip on this thread's own connection."""
        if self._fingerprint is None:
            self.fingerprint(silent_raises=True)
        send = self.wire.command if self.wire is not None else self.client.execute_command
        try:
            try:
                result = send("EVALSHA", self.scripts.sha(name), len(keys), *keys, *args)
            except redis.exceptions.NoScriptError:
                self.scripts.load(name)  # the server forgot it (restart, SCRIPT FLUSH)
                result = send("EVALSHA", self.scripts.sha(name), len(keys), *keys, *args)
        except (redis.RedisError, OSError) as exc:
            raise self._failed(exc) from exc
        if self._suspect:
            self._suspect = False
            self.fingerprint(refresh=True)
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
                self.wire.command("BLPOP", *wake_keys, timeout)
            elif len(wake_keys) == 1:
                self.client.execute_command("BLPOP", wake_keys[0], timeout)
            else:
                self._turn = (self._turn + 1) % len(wake_keys)
                turn = f"{max(min(seconds, CLUSTER_TURN), 0.001):.3f}"
                self.client.execute_command("BLPOP", wake_keys[self._turn], turn)
        except (redis.RedisError, OSError) as exc:
            raise self._failed(exc) from exc

    # -- what the server is ------------------------------------------------------------------

    def fingerprint(self, refresh: bool = False, *, silent_raises: bool = False) -> Fingerprint | None:
        """The server's persistence fingerprint; None while it cannot be reached.

        ``silent_raises``: a probe that times out raises :class:`ConnectionLost` instead
        (the server is silent, and the command that asked would only wait as long again).
        """
        if self._fingerprint is not None and not refresh:
            return self._fingerprint
        silent = self._silent
        if silent_raises and silent is not None and time.monotonic() - silent[0] < self._read_timeout:
            raise ConnectionLost(silent[1])  # it just stayed silent for a whole wait: not again at once
        try:
            with translated(self.where):
                found = probe_cluster(self.client) if self.cluster else probe(self.client)
        except ConnectionLost as exc:
            if timed_out(exc):
                self._silent = (time.monotonic(), str(exc))
                if silent_raises:
                    raise
            return None
        self._silent = None
        with self._lock:
            old, self._fingerprint = self._fingerprint, found
        if old is None:  # a worker says the durability once at its start; producers stay quiet
            log.debug("redis at %s: %s", self.where, found.describe())
            for warning, must_act in found.warnings():
                log.log(logging.WARNING if must_act else logging.DEBUG, "redis at %s: %s", self.where, warning)
        elif old.run_id != found.run_id:
            log.warning("redis at %s restarted (new run_id); %s", self.where, found.describe())
        return found

    def observe_epoch(self, queue: str, epoch: bytes, created: int) -> None:
        """Compare a queue's epoch with the one this client saw before; log a loss."""
        if created or queue not in self._registered:
            self.run(lambda client: client.sadd(self.keys.registry, queue))
            self._registered.add(queue)
        known = self._epochs.get(queue)
        if known == epoch:
            return
        self._epochs[queue] = epoch
        if known is None:
            return
        reset = StateReset(queue, known.decode(), epoch.decode(), time.time(), self.backlog.get(queue))
        self.resets.append(reset)
        backlog = "unknown" if reset.last_known_backlog is None else str(reset.last_known_backlog)
        log.error(
            "redis at %s lost the data of queue %r (epoch %s gone, now %s): jobs queued or running before are "
            "lost (last known backlog: %s); configure persistence (appendonly yes) to keep them",
            self.where, queue, reset.old_epoch, reset.new_epoch, backlog,
        )

    def forget_queue(self, queue: str) -> None:
        """A deleted queue: its epoch, registration and backlog are no longer known to this client."""
        with self._lock:
            self._epochs.pop(queue, None)
            self._registered.discard(queue)
            self.backlog.pop(queue, None)

    def close(self) -> None:
        """Drop every connection (the client reconnects if used again)."""
        if self.wire is not None:
            self.wire.close()
            self._client.connection_pool.disconnect()
        elif self._client is not None:
            self._client.close()
