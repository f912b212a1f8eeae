"""pgqueuer on PostgreSQL: ``enqueue`` one by one and in batches (psycopg), its supervisor as the worker."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Sequence
from typing import Any

from queuekit_bench.peers import Workload, installed

MODULE = "queuekit_bench.peers.apps.pgqueuer_app"
PREFIX_VAR = "PGQUEUER_PREFIX"  # pgqueuer's own: every table, function and channel it creates carries it


class PgqueuerPeer:
    """pgqueuer at its defaults; its tables created for the run under a prefix of the run's own."""

    name = "pgqueuer"
    dist = "pgqueuer"
    schemes: tuple[str, ...] = ("postgresql", "postgres")
    batch = True
    max_jobs: int | None = None

    def __init__(self) -> None:
        self._connections: dict[str, Any] = {}

    def missing(self) -> str | None:
        return installed(["pgqueuer", "psycopg"], "pgqueuer")

    @staticmethod
    def _prefix(work: Workload) -> str:
        return "".join(c if c.isalnum() else "_" for c in work.prefix).lower() + "_"

    def _use_prefix(self, work: Workload) -> None:
        from pgqueuer.domain.settings import db_settings

        os.environ[PREFIX_VAR] = self._prefix(work)
        db_settings.cache_clear()

    def setup(self, work: Workload) -> None:
        import psycopg

        from queuekit_bench.peers.apps.pgqueuer_app import dsn

        self._use_prefix(work)
        asyncio.run(_schema(dsn(work.url), install=True))
        self._connections[work.queue] = psycopg.connect(dsn(work.url), autocommit=True)

    def _queries(self, work: Workload) -> Any:
        from pgqueuer.adapters.drivers.psycopg import SyncPsycopgDriver
        from pgqueuer.adapters.persistence.queries import SyncQueries

        self._use_prefix(work)
        return SyncQueries(SyncPsycopgDriver(self._connections[work.queue]))

    def enqueue(self, work: Workload, count: int) -> None:
        queries = self._queries(work)
        for _ in range(count):
            queries.enqueue(work.queue, None)

    def enqueue_batch(self, work: Workload, count: int, size: int) -> None:
        queries = self._queries(work)
        for first in range(0, count, size):
            n = min(size, count - first)
            queries.enqueue([work.queue] * n, [None] * n, [0] * n)

    def command(self, work: Workload) -> Sequence[str]:
        return [sys.executable, "-m", MODULE]  # pgqueuer's supervisor at its defaults: see that module

    def env(self, work: Workload) -> dict[str, str]:
        """pgqueuer reads its prefix from the environment."""
        return {PREFIX_VAR: self._prefix(work)}

    def teardown(self, work: Workload) -> None:
        from queuekit_bench.peers.apps.pgqueuer_app import dsn

        connection = self._connections.pop(work.queue, None)
        if connection is not None:
            connection.close()
        self._use_prefix(work)
        asyncio.run(_schema(dsn(work.url), install=False))


async def _schema(dsn: str, *, install: bool) -> None:
    """Install (or drop) pgqueuer's objects under the current prefix."""
    import psycopg
    from pgqueuer import Queries
    from pgqueuer.db import PsycopgDriver

    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as connection:
        queries = Queries(PsycopgDriver(connection))
        if install:
            if not await queries.schema_is_installed():
                await queries.install()
        else:
            await queries.uninstall()
