"""URLs that carry a sentinel password each backend really accepts, for the secrets test.

* PostgreSQL trusts loopback connections, so any password is accepted (and sent).
* Redis without ``requirepass`` gives the ``default`` user ``nopass``: any password
  is accepted by AUTH.
* MariaDB and RabbitMQ check passwords: the test creates a user of its own with the
  sentinel as its password and removes it afterwards.
* SQLite URLs carry no credentials: :func:`with_password` returns None.

PostgreSQL (through SQLAlchemy to psycopg) and redis-py also take the password as a
``password=`` query parameter: :func:`in_query`.
"""

from __future__ import annotations

import socket
import subprocess
import uuid
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

from tests.faults.targets import Target

Cleanup = Callable[[], None]


def sentinel() -> str:
    """A password that appears nowhere else."""
    return f"S3cr3t-QK-{uuid.uuid4().hex[:12]}"


def replace_userinfo(url: str, user: str, password: str) -> str:
    """``url`` with ``user:password@`` as its credentials."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:{password}@{host}"))


def in_query(url: str, password: str) -> str:
    """``url`` with ``password`` as a ``password=`` query parameter instead of in its userinfo."""
    parts = urlsplit(url)
    userinfo, at, hostport = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    query = "&".join(filter(None, [parts.query, f"password={password}"]))
    return urlunsplit(parts._replace(netloc=f"{user}{at}{hostport}", query=query))


def with_port(url: str, port: int) -> str:
    """``url`` pointing at another port on the same host."""
    parts = urlsplit(url)
    userinfo, at, _hostport = parts.netloc.rpartition("@")
    return urlunsplit(parts._replace(netloc=f"{userinfo}{at}{parts.hostname}:{port}"))


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def with_password(target: Target, password: str) -> tuple[str, Cleanup] | None:
    """The target's URL authenticating with ``password``, and how to undo any setup."""
    if target.kind == "sqlite":
        return None
    if target.kind in ("postgresql", "redis"):
        user = urlsplit(target.url).username or "default"
        return replace_userinfo(target.url, user, password), lambda: None
    user = f"qkt_{uuid.uuid4().hex[:10]}"
    if target.kind == "mariadb":
        return replace_userinfo(target.url, user, password), _mariadb_user(user, password)
    return replace_userinfo(target.url, user, password), _rabbitmq_user(user, password)


def _mariadb_user(user: str, password: str) -> Cleanup:
    import sqlalchemy

    from tests.sql.servers import sa_url

    engine = sqlalchemy.create_engine(sa_url("mariadb"))

    account = f"'{user}'@'127.0.0.1'"  # queuekit connects over TCP from loopback

    with engine.begin() as connection:
        connection.exec_driver_sql(f"CREATE USER {account} IDENTIFIED BY %s", (password,))
        connection.exec_driver_sql(f"GRANT ALL ON test.* TO {account}")

    def drop() -> None:
        with engine.begin() as connection:
            connection.exec_driver_sql(f"DROP USER IF EXISTS {account}")
        engine.dispose()

    return drop


def _rabbitmq_user(user: str, password: str) -> Cleanup:
    from tests.rabbitmq.servers import rabbitmqctl_or_skip

    ctl = rabbitmqctl_or_skip()

    def run(*args: str) -> None:
        done = subprocess.run([ctl, "-q", *args], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"rabbitmqctl {args[0]} failed: {done.stderr.strip()[:300]}"

    run("add_user", user, password)
    run("set_permissions", "-p", "/", user, ".*", ".*", ".*")
    return lambda: run("delete_user", user)
