"""pgqueuer's side of the peer workload: ``python -m queuekit_bench.peers.apps.pgqueuer_app``.

That runs pgqueuer's own supervisor (``pgqueuer.run``) at its defaults, which is what
``pgq run queuekit_bench.peers.apps.pgqueuer_app:main`` does after setting up its logging;
the CLI itself is not used because pgqueuer 1.6.0's ``run`` command fails in that logging
setup (``AttributeError: 'str' object has no attribute 'name'`` with typer 0.29).
psycopg 3 as the driver (the one queuekit's PostgreSQL backend uses too), pgqueuer's objects
under the ``PGQUEUER_PREFIX`` the harness sets; everything else at pgqueuer's defaults.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from pgqueuer import Job, PgQueuer, run
from pgqueuer.db import PsycopgDriver

from queuekit_bench.peers import QUEUE_ENV, URL_ENV
from queuekit_bench.peers.completions import notify


def dsn(url: str) -> str:
    """``postgresql+psycopg://u@h/db?opts`` -> ``postgresql://u@h/db`` (libpq takes no queuekit options)."""
    return "postgresql://" + url.partition("://")[2].split("?", 1)[0]


@asynccontextmanager
async def main() -> AsyncIterator[PgQueuer]:
    """The factory pgqueuer's supervisor runs: one entrypoint, named after the run's queue."""
    import psycopg

    async with await psycopg.AsyncConnection.connect(dsn(os.environ[URL_ENV]), autocommit=True) as connection:
        pgq = PgQueuer(PsycopgDriver(connection))

        @pgq.entrypoint(os.environ[QUEUE_ENV])
        async def ping(job: Job) -> None:
            notify()

        yield pgq


if __name__ == "__main__":
    asyncio.run(run(main))
