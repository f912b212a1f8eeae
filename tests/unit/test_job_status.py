"""``Job.status()`` and ``result()`` tell the truth on every kind of broker, or say why they cannot.

Decided by declared capabilities only: a broker with ``job_state`` answers for unfinished
jobs; one without it (RabbitMQ, kombu) needs a result store, where the app records each
enqueue so a job reads ``pending`` until its outcome replaces the record.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import ClassVar

import pytest

from queuekit import App
from queuekit.backends.memory import MemoryBroker
from queuekit.broker import Capabilities, JobStatus, Outcome
from queuekit.errors import ResultUnavailable


class StatelessBroker(MemoryBroker):
    """A broker that keeps no job states and no results, as RabbitMQ and kombu declare."""

    capabilities: ClassVar[Capabilities] = replace(MemoryBroker.capabilities, job_state=False, results=False)


def _app(broker: MemoryBroker, results: str | None = None) -> App:
    app = App(broker=broker, url="memory://status-test", results=results)

    @app.task(name="tests.add")
    def add(x: int, y: int) -> int:
        return x + y

    @app.task(name="tests.fire", store_result=False)
    def fire() -> None:
        return None

    return app


def _results_url() -> str:
    return f"memory://results-{uuid.uuid4().hex}"


def test_an_unknown_id_is_unknown_never_queued() -> None:
    app = _app(MemoryBroker())
    assert app.job("nope").status() is JobStatus.UNKNOWN
    job = app.get_task("tests.add").delay(1, 2)
    assert job.status() is JobStatus.QUEUED
    assert app.worker(burst=True, concurrency=1).run(install_signals=False) == 0
    assert job.status() is JobStatus.SUCCEEDED
    assert not JobStatus.UNKNOWN.finished and not JobStatus.PENDING.finished


def test_a_finished_job_that_stored_no_result_is_unknown_not_queued() -> None:
    app = _app(MemoryBroker())
    job = app.get_task("tests.fire").delay()
    assert app.worker(burst=True, concurrency=1).run(install_signals=False) == 0
    assert job.status() is JobStatus.UNKNOWN


def test_without_job_states_or_a_result_store_status_and_result_name_the_fix() -> None:
    app = _app(StatelessBroker())
    job = app.get_task("tests.add").delay(1, 2)
    for ask in (job.status, app.job("nope").status):
        with pytest.raises(ResultUnavailable, match=r"keeps no job states and no results; give App\(url, results="):
            ask()
    with pytest.raises(ResultUnavailable, match=r"keeps no results; give App\(url, results=\.\.\.\) a result store"):
        job.result(timeout=1)


def test_a_result_store_tracks_jobs_of_a_broker_without_job_states() -> None:
    app = _app(StatelessBroker(), results=_results_url())
    add = app.get_task("tests.add")
    job = add.delay(2, 3)
    batch = app.enqueue_many([add.message(i, i) for i in range(3)])
    assert job.status() is JobStatus.PENDING  # queued or running: this broker cannot tell which
    assert [j.status() for j in batch] == [JobStatus.PENDING] * 3
    assert job.outcome() is None  # the enqueue record is not an outcome
    assert app.job("nope").status() is JobStatus.UNKNOWN
    assert app.worker(burst=True, concurrency=1).run(install_signals=False) == 0
    assert job.status() is JobStatus.SUCCEEDED
    assert job.result(timeout=5) == 5
    assert [j.result(timeout=5) for j in batch] == [0, 2, 4]


def test_a_task_that_stores_no_result_leaves_no_pending_record_behind() -> None:
    app = _app(StatelessBroker(), results=_results_url())
    job = app.get_task("tests.fire").delay()
    assert job.status() is JobStatus.UNKNOWN  # nothing would ever replace a pending record
    assert app.worker(burst=True, concurrency=1).run(install_signals=False) == 0
    assert job.status() is JobStatus.UNKNOWN


def test_a_job_finishing_between_the_two_reads_reads_as_finished() -> None:
    """The outcome is stored before the ack: a job gone from the broker is looked up again."""
    broker = MemoryBroker()
    app = _app(broker)
    job = app.get_task("tests.add").delay(1, 1)
    real_state = broker.state

    def finish_then_answer(job_id: str) -> JobStatus | None:
        broker.save_outcomes([Outcome(job_id, JobStatus.SUCCEEDED, result=2)], ttl=60)
        [delivery] = broker.reserve([app.default_queue], 1, 30)
        broker.ack([delivery])
        return real_state(job_id)

    broker.state = finish_then_answer  # type: ignore[method-assign]
    assert job.status() is JobStatus.SUCCEEDED
