"""URL parsing, driver choice and server version checks (no database needed)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from queuekit_sql.dialects import check_server
from queuekit_sql.options import parse

from queuekit.errors import ConfigurationError
from queuekit.registry import backend_class


@pytest.mark.parametrize(
    ("url", "driver", "family"),
    [
        ("sqlite:///jobs.db", "sqlite+pysqlite", "sqlite"),
        ("postgresql://u@h/db", "postgresql+psycopg", "postgresql"),
        ("postgres://u@h/db", "postgresql+psycopg", "postgresql"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg", "postgresql"),
        ("mysql://u@h/db", "mysql+pymysql", "mysql"),
        ("mariadb://u@h/db", "mariadb+pymysql", "mysql"),
        ("mysql+mysqldb://u@h/db", "mysql+mysqldb", "mysql"),
    ],
)
def test_schemes_pick_the_shipped_driver_unless_one_is_named(url: str, driver: str, family: str) -> None:
    settings = parse(url, {})
    assert settings.url.drivername == driver
    assert settings.family == family


@pytest.mark.parametrize("scheme", ["sqlite", "postgresql", "postgres", "mysql", "mariadb", "postgresql+psycopg"])
def test_every_scheme_is_registered(scheme: str) -> None:
    assert backend_class(f"{scheme}://x/y").__name__ == "SQLBroker"


def test_queuekit_options_leave_the_query_and_driver_options_stay() -> None:
    settings = parse("postgresql://u:pw@h/db?prefix=app_&sslmode=require&poll_max=2&notify=false", {"prefix": "x_"})
    assert settings.prefix == "x_"  # keyword options win over the query
    assert settings.poll_max == 2.0 and settings.notify is False
    query = dict(settings.url.query)
    assert query.pop("sslmode") == "require" and "prefix" not in query and "poll_max" not in query
    assert query == {"connect_timeout": "5", "keepalives": "1", "keepalives_idle": "30", "keepalives_interval": "10",
                     "keepalives_count": "3"}  # the link's defaults for libpq (bounded waits)
    assert "pw" not in settings.redacted


def test_the_bounds_of_a_wait_are_the_urls_when_given() -> None:
    settings = parse("postgresql://u@h/db?connect_timeout=30&keepalives=0&read_timeout=60", {})
    assert settings.url.query["connect_timeout"] == "30" and settings.url.query["keepalives"] == "0"
    assert settings.read_timeout == 60.0 and parse("mysql://u@h/db", {}).read_timeout == 10.0
    with pytest.raises(ConfigurationError, match=r"read_timeout must be at least 0\.5"):
        parse("mysql://u@h/db?read_timeout=0", {})


def test_every_family_creates_its_tables_on_first_use_unless_migrate_is_false() -> None:
    for url in ("sqlite:///x.db", "postgresql://u@h/db", "mysql://u@h/db", "mariadb://u@h/db"):
        assert parse(url, {}).migrate == "auto", url
        assert parse(url + "?migrate=false", {}).migrate == "check", url
        assert parse(url + "?migrate=true", {}).migrate == "auto", url
        assert parse(url, {"migrate": False}).migrate == "check", url
        assert parse(url + "?migrate=check", {}).migrate == "check", url


def test_a_bad_migrate_value_names_the_choices() -> None:
    with pytest.raises(ConfigurationError, match=r"migrate='sometimes' is not one of auto, check, true, false"):
        parse("postgresql://u@h/db?migrate=sometimes", {})


@pytest.mark.parametrize(
    ("family", "version", "mariadb", "needed"),
    [("mysql", (10, 5, 9), True, "MariaDB 10.6"), ("mysql", (5, 7, 40), False, "MySQL 8.0.1"),
     ("postgresql", (11, 2), False, "12+"), ("sqlite", (3, 31, 1), False, "3.35+")],
)
def test_servers_without_what_the_claim_needs_are_refused(
    family: str, version: tuple[int, ...], mariadb: bool, needed: str
) -> None:
    dialect = SimpleNamespace(server_version_info=version, is_mariadb=mariadb)
    with pytest.raises(ConfigurationError, match=needed.replace(".", r"\.").replace("+", r"\+")):
        check_server(family, dialect)


def test_supported_servers_pass() -> None:
    check_server("mysql", SimpleNamespace(server_version_info=(10, 11, 6), is_mariadb=True))
    check_server("postgresql", SimpleNamespace(server_version_info=(15, 4), is_mariadb=False))


@pytest.mark.parametrize(
    ("url", "meant"),
    [("sqlite://jobs.db", "sqlite:///jobs.db"), ("sqlite://data/jobs.db", "sqlite:///data/jobs.db"),
     ("sqlite://user:S3cret@host/jobs.db", "sqlite:///host/jobs.db")],
)
def test_a_sqlite_url_with_two_slashes_is_one_line_naming_the_three_slash_form(url: str, meant: str) -> None:
    """SQLAlchemy's own error is four lines about sqlite+pysqlite://, a URL the user never wrote."""
    with pytest.raises(ConfigurationError) as caught:
        parse(url, {})
    message = str(caught.value)
    assert "\n" not in message and "pysqlite" not in message and "S3cret" not in message
    assert "names a host, and SQLite has none" in message and message.endswith(f"(did you mean {meant!r}?)")


def test_a_sqlite_file_in_a_missing_folder_names_the_folder(tmp_path: Path) -> None:
    """Not 'could not connect ...: unable to open database file'."""
    missing = tmp_path / "var" / "queues"
    with pytest.raises(ConfigurationError, match=rf"^no folder {missing} for the SQLite file 'jobs\.db': create it"):
        parse(f"sqlite:///{missing}/jobs.db", {})
    assert not missing.exists()
    assert parse(f"sqlite:///{tmp_path}/jobs.db", {}).url.database == f"{tmp_path}/jobs.db"
    assert parse("sqlite://", {}).memory and parse("sqlite:///:memory:", {}).memory


def test_anchor_makes_a_relative_sqlite_path_relative_to_the_given_folder(tmp_path: Path) -> None:
    from queuekit_sql.options import anchor

    assert anchor("sqlite:///jobs.db?timeout=5", tmp_path) == f"sqlite:///{tmp_path.resolve()}/jobs.db?timeout=5"
    for kept in ("sqlite:////abs/jobs.db", "sqlite://", "sqlite:///:memory:", "sqlite:///file:x?uri=true",
                 "postgresql://u@h/db"):
        assert anchor(kept, tmp_path) == kept
