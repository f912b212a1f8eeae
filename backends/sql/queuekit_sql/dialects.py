"""What differs between SQLite, PostgreSQL and MySQL/MariaDB, and nothing else.

The queue logic is written once (``broker.py`` over ``statements.py``); a dialect only
says how a transaction begins, where "now" comes from, how an insert ignores a
duplicate, whether ``UPDATE ... RETURNING`` exists, and which server versions work.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from queuekit.errors import ConfigurationError


@dataclass(frozen=True)
class Dialect:
    """SQL differences of one database family."""

    family: str  # "sqlite" | "postgresql" | "mysql"
    begin: str  # statement that opens a write transaction
    db_now: str | None  # the database clock as epoch seconds; None: the client supplies :now
    ignore_duplicate: str  # suffix that makes an INSERT skip rows that hit a unique index
    upsert_result: str  # suffix that makes the results INSERT replace an older outcome
    update_returning: bool  # claim with one UPDATE ... RETURNING (else SELECT ... then UPDATE)
    skip_locked: str  # locking clause for claim candidates
    lock_rows: str  # locking clause for rows about to be moved
    autocommit_single: bool  # a lone write statement may run without BEGIN/COMMIT
    double: str  # type name of a double-precision column (schema table)
    tag: str = "receipt || id"  # one string naming a (receipt, id) pair
    row_locator: str = "pk"  # how a claim finds the rows it just locked (an indexed or physical row address)

    def now(self, clock_injected: bool) -> str:
        """SQL for "now": the bound ``:now`` when the client owns the clock."""
        return ":now" if clock_injected or self.db_now is None else self.db_now


SQLITE = Dialect(
    family="sqlite",
    begin="BEGIN IMMEDIATE",  # take the write lock up front: busy_timeout then applies (no upgrade deadlock)
    db_now=None,  # SQLite's clock is the calling process's: the broker binds time.time()
    ignore_duplicate="ON CONFLICT DO NOTHING",
    upsert_result=(
        "ON CONFLICT (job_id) DO UPDATE SET status = excluded.status, data = excluded.data, "
        "expires_at = excluded.expires_at"
    ),
    update_returning=True,
    skip_locked="",  # one writer at a time: BEGIN IMMEDIATE already excludes other claimers
    lock_rows="",
    autocommit_single=False,
    double="REAL",
)

POSTGRESQL = Dialect(
    family="postgresql",
    begin="BEGIN",
    db_now="CAST(EXTRACT(EPOCH FROM CURRENT_TIMESTAMP) AS DOUBLE PRECISION)",
    ignore_duplicate="ON CONFLICT DO NOTHING",
    upsert_result=SQLITE.upsert_result,
    update_returning=True,
    skip_locked=" FOR UPDATE SKIP LOCKED",
    lock_rows=" FOR UPDATE",
    autocommit_single=True,
    double="DOUBLE PRECISION",
    row_locator="ctid",  # no index on pk since schema 2; a locked row keeps its ctid until commit
)

MYSQL = Dialect(
    family="mysql",
    begin="START TRANSACTION",
    db_now="UNIX_TIMESTAMP(NOW(6))",
    ignore_duplicate="ON DUPLICATE KEY UPDATE pk = pk",
    upsert_result=(
        "ON DUPLICATE KEY UPDATE status = VALUES(status), data = VALUES(data), expires_at = VALUES(expires_at)"
    ),
    update_returning=False,  # neither MySQL nor MariaDB has UPDATE ... RETURNING
    skip_locked=" FOR UPDATE SKIP LOCKED",
    lock_rows=" FOR UPDATE",
    autocommit_single=True,
    double="DOUBLE",
    tag="CONCAT(receipt, id)",  # || is OR on MySQL
)

DIALECTS = {"sqlite": SQLITE, "postgresql": POSTGRESQL, "mysql": MYSQL}


def check_server(family: str, sa_dialect: Any) -> None:
    """Refuse servers that lack what the claim needs, naming the version required."""
    version = tuple(sa_dialect.server_version_info or ())
    shown = ".".join(str(part) for part in version) or "unknown"
    if family == "sqlite" and version < (3, 35):
        raise ConfigurationError(f"SQLite {shown} is too old: queuekit-sql needs 3.35+ (UPDATE ... RETURNING)")
    if family == "postgresql" and version < (12,):
        raise ConfigurationError(
            f"PostgreSQL {shown} is too old: queuekit-sql needs 12+ (SKIP LOCKED, materialized CTEs)"
        )
    if family == "mysql":
        mariadb = bool(getattr(sa_dialect, "is_mariadb", False))
        needed = (10, 6) if mariadb else (8, 0, 1)
        if version < needed:
            product = "MariaDB" if mariadb else "MySQL"
            raise ConfigurationError(
                f"{product} {shown} lacks SELECT ... FOR UPDATE SKIP LOCKED: queuekit-sql needs "
                f"{product} {'.'.join(map(str, needed))}+"
            )


def collation(sa_dialect: Any) -> str:
    """Binary, no-pad collation so queue names and ids compare byte for byte on MySQL/MariaDB."""
    return "utf8mb4_nopad_bin" if getattr(sa_dialect, "is_mariadb", False) else "utf8mb4_0900_bin"
