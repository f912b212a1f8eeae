"""Command-line logic without processes: default queues, logging levels, exit codes."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from queuekit import App, ConfigurationError, ConnectionLost, UnknownOption
from queuekit.broker import Delivery, Envelope
from queuekit.cli import Failed, exit_code
from queuekit.cli_logging import configure_logging


def test_a_worker_consumes_the_queues_its_tasks_use_and_default_only_if_one_does() -> None:
    app = App("memory://")

    @app.task(queue="emails")
    def send() -> None:
        """Nothing."""

    assert app.worker().queues == ["emails"]

    @app.task
    def other() -> None:
        """Nothing."""

    assert app.worker().queues == ["default", "emails"]
    assert App("memory://").worker().queues == ["default"]  # no tasks yet: the default queue


def test_a_worker_built_before_its_tasks_consumes_their_queues_when_it_runs() -> None:
    app = App("memory://")
    worker = app.worker(burst=True)
    done: list[str] = []

    @app.task(queue="emails")
    def send(to: str) -> None:
        """Record the call."""
        done.append(to)

    send.delay("a@example.org")
    assert worker.run(install_signals=False) == 0
    assert worker.queues == ["emails"]
    assert done == ["a@example.org"]


def test_given_queues_are_kept_when_the_worker_runs() -> None:
    app = App("memory://")
    worker = app.worker(queues=["other"], burst=True)

    @app.task(queue="emails")
    def send() -> None:
        """Nothing."""

    send.delay()
    assert worker.run(install_signals=False) == 0
    assert worker.queues == ["other"]
    assert app.broker.stats(["emails"])["emails"].ready == 1


def test_a_foreign_task_on_a_consumed_queue_is_dead_lettered_naming_the_queue() -> None:
    from queuekit.message import Message, encode

    app = App("memory://")

    @app.task(queue="shared")
    def mine() -> None:
        """Nothing."""

    body = encode(Message(task="other.stranger", queue="shared"))
    [delivery] = _deliver(app, body)
    completion = app.worker().runner.prepare(delivery)
    reason = getattr(completion, "reason", "")
    assert "unknown task 'other.stranger'" in reason and "queue 'shared'" in reason


def _deliver(app: App, body: bytes) -> list[Delivery]:
    app.broker.enqueue([Envelope("0" * 32, "shared", body)])
    return app.broker.reserve(["shared"], 1, 30.0)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved = (root.level, list(root.handlers), logging.getLogger("queuekit").level)
    yield
    root.setLevel(saved[0])
    root.handlers[:] = saved[1]
    logging.getLogger("queuekit").setLevel(saved[2])


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize(("level", "ours", "theirs"), [
    ("info", logging.INFO, logging.WARNING),
    ("warning", logging.WARNING, logging.WARNING),
    ("error", logging.ERROR, logging.ERROR),
    ("debug", logging.DEBUG, logging.DEBUG),
])
def test_other_libraries_log_warnings_only_unless_debug(level: str, ours: int, theirs: int) -> None:
    configure_logging(level)
    configure_logging(level)  # twice in one process: still one handler
    assert logging.getLogger("queuekit.worker").getEffectiveLevel() == ours
    assert logging.getLogger("pika.connection").getEffectiveLevel() == theirs
    assert sum(getattr(h, "queuekit_cli", False) for h in logging.getLogger().handlers) == 1


def test_exit_codes() -> None:
    assert exit_code(UnknownOption("x")) == 2
    assert exit_code(ConfigurationError("x")) == 2
    assert exit_code(ConnectionLost("x")) == 1
    assert exit_code(Failed("x")) == 1
