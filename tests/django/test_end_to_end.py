"""End to end on SQLite: a view enqueues inside its transaction, ``manage.py queuekit_worker`` runs it.

SQLite needs no service, so these always run. The in-memory broker cannot cross
processes, which is why SQLite carries the jobs here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from endtoend import Project, as_documented, order_then_receipt, worker_serves_until_stopped


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    made = Project(database=f"sqlite:///{tmp_path / 'shop.sqlite3'}", broker=f"sqlite:///{tmp_path / 'jobs.db'}")
    yield made
    made.stop_all()


def test_order_then_receipt_on_commit(project: Project) -> None:
    order_then_receipt(project)


def test_order_then_receipt_in_the_same_transaction(project: Project) -> None:
    project.broker = project.database + "?prefix=jobs_"
    project.enqueue = "in_transaction"
    order_then_receipt(project)


def test_long_running_worker_stops_gracefully(project: Project) -> None:
    worker_serves_until_stopped(project)


def test_the_example_as_documented(tmp_path: Path) -> None:
    shop = Project(database=f"sqlite:///{tmp_path / 'shop.sqlite3'}", broker=f"sqlite:///{tmp_path / 'jobs.db'}",
                   settings="bookshop.settings")
    try:
        as_documented(shop, tmp_path / "runserver.log")
    finally:
        shop.stop_all()


def test_worker_refuses_a_misconfigured_broker(tmp_path: Path) -> None:
    project = Project(database=f"sqlite:///{tmp_path / 'shop.sqlite3'}", broker="nosuch://host/0")
    with pytest.raises(AssertionError) as failed:
        project.manage("queuekit_worker", "--burst")
    assert "TASKS['default']['OPTIONS']['url']" in str(failed.value)
    assert "queuekit.E001" in str(failed.value)
