"""What differs between SQLite, PostgreSQL and MySQL/MariaDB, and nothing else.

The queue logic is written once (``broker.py``); the SQL that differs per database lives in
that database's ``sql/<family>.sql`` blocks. A dialect only says how a transaction begins,
where "now" comes from, whether ``UPDATE ... RETURNING`` exists, and which server versions work.
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
    update_returning: bool  # claim with one UPDATE ... RETURNING (else SELECT ... then UPDATE)
    autocommit_single: bool  # a lone write statement may run without BEGIN/COMMIT
    double: str  # type name of a double-precision column (schema table)

    def now(self, clock_injected: bool) -> str:
        """SQL for "now": the bound ``:now`` when the client owns the clock."""
        return ":now" if clock_injected or self.db_now is None else self.db_now


SQLITE = Dialect(
    family="sqlite",
    begin="BEGIN IMMEDIATE",  # take the write lock up front: busy_timeout then applies (no upgrade deadlock)
    db_now=None,  # SQLite's clock is the calling process's: the broker binds time.time()
    update_returning=True,
    autocommit_single=False,
    double="REAL",
)

POSTGRESQL = Dialect(
    family="postgresql",
    begin="BEGIN",
    db_now="CAST(EXTRACT(EPOCH FROM CURRENT_TIMESTAMP) AS DOUBLE PRECISION)",
    update_returning=True,
    autocommit_single=True,
    double="DOUBLE PRECISION",
)

MYSQL = Dialect(
    family="mysql",
    begin="START TRANSACTION",
    db_now="UNIX_TIMESTAMP(NOW(6))",
    update_returning=False,  # neither MySQL nor MariaDB has UPDATE ... RETURNING
    autocommit_single=True,
    double="DOUBLE",
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
