"""The SQL broker: one implementation of the queue for SQLite, PostgreSQL and MySQL/MariaDB.

A job is one row. Ready rows of a queue are read in order (priority, then when they
became ready, then insertion) from a partial index; delayed rows and leases carry a
``wake_at`` time and are claimable once it has passed, so nothing has to sweep them.
A claim leases rows by writing ``state='leased'``, a new ``wake_at`` (lease end) and a
receipt; ack, nack, extend and dead-letter only touch a row whose receipt matches and
whose lease has not run out, so a stale worker changes nothing. Ack deletes the row.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from queuekit.broker import Capabilities, Delivery, Durability, Envelope
from queuekit.errors import MessageTooLarge
from queuekit.queues import check_queue_name
from queuekit.retry import Backoff
from queuekit_sql import statements as S
from queuekit_sql.admin import AdminOps
from queuekit_sql.base import INT64, MAX_NAME, as_bytes, digest_key, held_lists, rows, run, wall_clock
from queuekit_sql.database import Database
from queuekit_sql.dialects import check_server
from queuekit_sql.keyvalue import KeyValueOps
from queuekit_sql.options import Settings, anchor, parse
from queuekit_sql.records import Claimed, Held, HeldId, Packet, Picked
from queuekit_sql.results import ResultOps
from queuekit_sql.schema import Migrator
from queuekit_sql.statements import Names, Statements
from queuekit_sql.transactional import CursorRunner, TakenId, enqueue_in, insert_jobs, is_taken_id, one_statement
from queuekit_sql.vacuum import VacuumKeeper
from queuekit_sql.wakeup import Listener, Waker

log = logging.getLogger("queuekit.sql")

_FIRST_PAUSE = 0.005


class SQLBroker(AdminOps, ResultOps, KeyValueOps):
    """Broker, result store and job-state reporter on a SQL database."""

    schemes: ClassVar[tuple[str, ...]] = ("sqlite", "postgresql", "postgres", "mysql", "mariadb")

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._db = Database(settings)
        self._clock = settings.clock or wall_clock
        try:
            self._db.read(lambda cur: None, what="connect")  # learns the server version
            check_server(settings.family, self._db.sa_dialect)
            quote = self._db.sa_dialect.identifier_preparer.quote_identifier
            names = Names.build(settings.prefix, settings.schema, quote)
            self._sql = Statements(self._db.dialect, self._db.sa_dialect, names, settings.clock is not None)
            Migrator(self._db, names).ensure(settings.migrate)
            self._max_body = self._body_limit()
        except BaseException:
            self._db.close()
            raise
        self.capabilities = self._declare()
        identity = f"{settings.url.render_as_string(hide_password=True)}|{settings.schema}|{settings.prefix}"
        self._waker = Waker.for_tables(identity)
        self._notify = settings.family == "postgresql" and settings.notify
        self._listener: Listener | None = None
        self._listener_lock = threading.Lock()
        self._keeper: VacuumKeeper | None = None
        self._vacuums = settings.family == "postgresql" and settings.vacuum
        self._closed = False

    @classmethod
    def from_url(cls, url: str, **options: Any) -> SQLBroker:
        """Open ``sqlite:///path``, ``postgresql://...``, ``mysql://...`` or ``mariadb://...``."""
        return cls(parse(url, options))

    @classmethod
    def anchor_url(cls, url: str, base: Path) -> str:
        """A relative SQLite path made relative to ``base`` (the folder of the config file that named it)."""
        return anchor(url, base)

    def __repr__(self) -> str:
        return f"<SQLBroker {self.settings.redacted} prefix={self.settings.prefix}>"

    def _declare(self) -> Capabilities:
        settings = self.settings
        if settings.memory:
            durability = Durability.NONE
        elif settings.family == "sqlite" and settings.synchronous not in ("full", "extra"):
            durability = Durability.SERVER  # survives a process crash; a power loss may undo the last commits
        else:
            durability = Durability.DISK
        return Capabilities(
            durability=durability, dedup=True, results=True, job_state=True, delete_queue=True, browse=True,
            key_value=True, remove=True,
            transactional_enqueue=not settings.memory, cross_process=not settings.memory,
            max_message_size=self._max_body,
        )

    def _body_limit(self) -> int | None:
        if self.settings.family != "mysql":
            return None
        found = self._db.read(lambda cur: rows(cur, self._sql.get("max_packet"), {}, Packet))
        return int(found[0].packet) // 2 - 4096  # escaping may double a body inside the packet

    # -- producing ---------------------------------------------------------------------

    def row(self, env: Envelope) -> dict[str, Any]:
        """Validate one envelope and turn it into statement parameters."""
        check_queue_name(env.queue)
        if not isinstance(env.id, str) or not 0 < len(env.id) <= MAX_NAME or "\x00" in env.id:
            raise ValueError(f"job id {str(env.id)[:60]!r} must be 1-{MAX_NAME} characters without NUL")
        if isinstance(env.priority, bool) or not isinstance(env.priority, int) or not (
            INT64[0] <= env.priority <= INT64[1]
        ):
            raise ValueError(f"priority {env.priority!r} must be a 64-bit integer")
        if self._max_body is not None and len(env.body) > self._max_body:
            raise MessageTooLarge(
                f"message {env.id} is {len(env.body)} bytes; this server accepts at most {self._max_body} "
                "(raise max_allowed_packet)"
            )
        return {
            "id": env.id, "queue": env.queue, "priority": env.priority, "body": env.body,
            "state": "delayed" if env.delay > 0 else "ready", "delay": float(max(env.delay, 0.0)),
            "dedup_key": digest_key(env.key) if env.key else None,
        }

    def enqueue(self, envelopes: Sequence[Envelope]) -> list[str]:
        """Insert all envelopes in one transaction; a held dedup key returns the holder's id."""
        batch = [self.row(env) for env in envelopes]
        if not batch:
            return []
        keyed = any(item["dedup_key"] for item in batch)
        if len(batch) == 1 and not keyed and self._notify:
            self._db.write(lambda cur: self._insert_one(cur, batch[0]), single=True, what="enqueue")
            self._waker.notify()
            return [batch[0]["id"]]
        lone = one_statement(self.settings.family, len(batch), keyed, self._notify)

        def write(strict: bool) -> list[str]:
            return self._db.write(
                lambda cur: insert_jobs(CursorRunner(cur, self._sql), self._sql, batch, self._params(), self._notify,
                                        strict=strict),
                single=lone, what="enqueue",
            )

        try:
            ids = write(strict=not keyed)
        except TakenId:  # rolled back: some job id was there already; keep the others
            ids = write(strict=False)
        self._waker.notify()
        return ids

    def _insert_one(self, cur: Any, row: dict[str, Any]) -> None:
        """PostgreSQL, one unkeyed job, autocommitted: a job id already there is not an error."""
        try:
            run(cur, self._sql.get("insert_notify"), self._params(channel=self._sql.names.channel, **row))
        except self._db.dbapi.IntegrityError as exc:
            if not is_taken_id(exc):  # only the job id is unique here
                raise

    def enqueue_in(self, connection: Any, envelopes: Sequence[Envelope]) -> list[str]:
        """Insert inside the caller's open transaction (SQLAlchemy or DB-API connection); never commits."""
        ids = enqueue_in(self, connection, [self.row(env) for env in envelopes])
        self._waker.notify()
        return ids

    # -- consuming ---------------------------------------------------------------------

    def reserve(self, queues: Sequence[str], limit: int, lease: float, wait: float = 0.0) -> list[Delivery]:
        """Lease up to ``limit`` jobs, highest priority first; poll (and listen) up to ``wait`` s."""
        names = [check_queue_name(queue) for queue in dict.fromkeys(queues)]
        if limit <= 0 or not names:
            return []
        if self._vacuums and (self._keeper is None or self._keeper.pid != os.getpid()):
            self._keep_vacuumed()
        deadline = time.monotonic() + max(wait, 0.0)
        polls = Backoff(_FIRST_PAUSE, max(_FIRST_PAUSE, self.settings.poll_max), jitter=False)
        while True:
            seen = self._waker.generation
            taken = self._claim(names, limit, lease)
            remaining = deadline - time.monotonic()
            if taken or remaining <= 0:
                return taken
            self._listen()
            if self._waker.wait(seen, min(polls.next(), remaining)):
                polls.reset()  # woken, but another worker was faster: more may follow soon

    def _claim(self, queues: list[str], limit: int, lease: float) -> list[Delivery]:
        params = self._params(limit=limit, lease=float(lease), receipt=uuid.uuid4().hex)
        params.update({f"q{i}": queue for i, queue in enumerate(queues)})
        if self._db.dialect.update_returning:
            claim = self._sql.claim(len(queues))
            found = self._db.write(lambda cur: rows(cur, claim, params, Claimed), single=True, what="reserve")
        else:
            found = self._db.write(lambda cur: self._pick_and_lease(cur, len(queues), params), what="reserve")
        found.sort(key=lambda job: (-job.priority, job.due, job.pk))  # priority desc, due, insertion
        receipt = params["receipt"]
        return [Delivery(job.id, job.queue, as_bytes(job.body), job.attempts, receipt, job.priority) for job in found]

    def _pick_and_lease(self, cur: Any, queue_count: int, params: dict[str, Any]) -> list[Claimed]:
        picked = rows(cur, self._sql.claim(queue_count), params, Picked)
        self._listed(cur, "lease_picked", "pks", [job.pk for job in picked], params)
        return [Claimed(job.id, job.queue, job.body, job.attempts + 1, job.priority, job.eff, job.pk) for job in picked]

    def ack(self, deliveries: Sequence[Delivery]) -> None:
        """Delete finished jobs whose lease is still held (one statement per 4,096 on PostgreSQL, 256 elsewhere)."""
        items = list(deliveries)
        if not items:
            return

        params = self._params()
        self._db.write(lambda cur: self._held(cur, "ack", items, params),
                       single=len(items) <= self._sql.list_limit, what="ack")

    def nack(self, returns: Sequence[tuple[Delivery, float]], *, count_attempt: bool = True) -> None:
        """Return leased jobs, each ready now (behind its priority) or after its delay; one statement per batch."""
        items = list(returns)
        if not items:
            return
        params = self._params(refund=0 if count_attempt else 1)

        def work(cur: Any) -> None:
            for chunk in S.chunks(items, self._sql.list_limit):
                lists: dict[str, Sequence[Any]] = {
                    **held_lists([d for d, _ in chunk]), "delays": [max(float(t), 0.0) for _, t in chunk]}
                statement, merged = self._sql.listed("nack", lists, params)
                run(cur, statement, merged)

        self._db.write(work, single=len(items) <= self._sql.list_limit, what="nack")
        if any(not delay > 0 for _, delay in items):
            self._waker.notify()

    def dead_letter(self, letters: Sequence[tuple[Delivery, str]]) -> None:
        """Move leased jobs to their queues' dead letters, each with its reason, in order."""
        items = list(letters)
        if not items:
            return
        if self._db.dialect.family == "postgresql":  # one statement per 4,096
            def move(cur: Any) -> None:
                for chunk in S.chunks(items, self._sql.list_limit):
                    lists: dict[str, Sequence[Any]] = {
                        **held_lists([d for d, _ in chunk]), "reasons": [str(r) for _, r in chunk]}
                    statement, merged = self._sql.listed("dead_move", lists, self._params())
                    run(cur, statement, merged)

            self._db.write(move, single=len(items) <= self._sql.list_limit, what="dead-letter")
            return
        order = {(d.receipt, d.id): (n, str(reason)) for n, (d, reason) in reversed(list(enumerate(items)))}

        def work(cur: Any) -> None:
            found = self._held(cur, "take_held", [d for d, _ in items], self._params(), Held)
            if not found:
                return
            found.sort(key=lambda job: order[(job.receipt, job.id)][0])
            insert = self._sql.get("insert_dead")
            cur.executemany(insert.sql, [insert.args(self._params(
                id=job.id, queue=job.queue, priority=job.priority, body=job.body, attempts=job.attempts,
                reason=order[(job.receipt, job.id)][1])) for job in found])
            self._listed(cur, "delete_jobs", "pks", [job.pk for job in found], {})

        self._db.write(work, what="dead-letter")

    def extend(self, deliveries: Sequence[Delivery], lease: float) -> set[str]:
        """Renew held leases to ``lease`` s from now; return the ids whose lease was lost."""
        items = list(deliveries)
        if not items:
            return set()

        params = self._params(lease=float(lease))

        def work(cur: Any) -> set[tuple[str, str]]:
            self._held(cur, "extend", items, params)
            return {(job.id, job.receipt) for job in self._held(cur, "still_held", items, params, HeldId)}

        held: set[tuple[str, str]] = self._db.write(work, what="extend")
        return {d.id for d in items if (d.id, d.receipt) not in held}

    # -- waking and closing --------------------------------------------------------------

    def _notify_queues(self, cur: Any, queues: set[str]) -> None:
        if self._notify:
            notify = self._sql.get("notify")
            for queue in sorted(queues):
                run(cur, notify, {"channel": self._sql.names.channel, "queue": queue}).fetchall()

    def _waker_notify(self) -> None:
        self._waker.notify()

    def _listen(self) -> None:
        """Start the LISTEN thread on first need (PostgreSQL with psycopg 3 only)."""
        if self._listener is not None and self._listener.pid != os.getpid():
            self._listener = None  # forked: the listener thread stayed in the parent
        if not self._notify or self._listener is not None or self._closed:
            return
        with self._listener_lock:
            if self._listener is not None or self._closed:
                return
            engine = self._db.engine
            cargs, cparams = engine.dialect.create_connect_args(engine.url)
            probe = engine.dialect.loaded_dbapi
            if not hasattr(probe, "Connection") or not hasattr(probe.Connection, "notifies"):
                self._notify = False  # another driver: polling only
                return
            self._listener = Listener(lambda: engine.dialect.connect(*cargs, **cparams),
                                      self._sql.names.channel, self._waker)
            self._listener.start()

    def _keep_vacuumed(self) -> None:
        """Start the vacuum keeper on a consuming process's first reserve (PostgreSQL)."""
        with self._listener_lock:
            if self._closed:  # checked under the lock: close() may have run since reserve began
                return
            if self._keeper is None or self._keeper.pid != os.getpid():  # none yet, or forked
                vacuum = functools.partial(self._db.read, what="vacuum", long=True)
                self._keeper = VacuumKeeper(vacuum, self._sql.names.jobs)
                self._keeper.start()

    def sweep_results(self) -> int:
        """Delete expired results, and expired key-value entries with them; return how many results."""
        count = super().sweep_results()
        self.sweep_key_values()
        return count

    def close(self) -> None:
        """Stop listening and vacuuming, close pooled connections. Safe to call twice."""
        self._closed = True
        with self._listener_lock:
            listener, self._listener = self._listener, None
            keeper, self._keeper = self._keeper, None
        if listener is not None:
            listener.stop()
        if keeper is not None and keeper.pid == os.getpid():
            keeper.stop()
        self._db.close()
