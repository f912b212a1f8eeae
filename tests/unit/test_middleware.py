"""Middleware hooks on the in-memory broker: order, outcomes, headers, errors, cost of none."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from types import SimpleNamespace
from typing import Any, cast

import pytest

from queuekit import App, ConfigurationError, Delivery, JobStatus, Middleware, Outcome, SerializationError, current_job
from queuekit.control import CancelWatch
from queuekit.errors import MessageTooLarge, SignatureError
from queuekit.execution import Action, Completion, Prepared, Runner
from queuekit.message import MAX_HEADERS_SIZE, Message, decode
from queuekit.middleware import RunOutcome, outcome_of, set_header
from queuekit.worker import Worker


class Recorder(Middleware):
    """Records every hook call as (name, hook, detail) in a shared list."""

    def __init__(self, name: str, calls: list[tuple[str, str, Any]]) -> None:
        self.name, self.calls = name, calls

    def before_enqueue(self, message: Message) -> None:
        self.calls.append((self.name, "before_enqueue", message.task.rsplit(".", 1)[-1]))

    def after_enqueue(self, message: Message, job_id: str) -> None:
        self.calls.append((self.name, "after_enqueue", job_id == message.id))

    def before_run(self, job: Prepared) -> None:
        self.calls.append((self.name, "before_run", current_job() is job))

    def after_run(self, job: Prepared, outcome: RunOutcome) -> None:
        error = type(job.error).__name__ if job.error is not None else None
        self.calls.append((self.name, "after_run", (outcome, job.delivery.attempts, error)))

    def on_worker_start(self, worker: Worker) -> None:
        self.calls.append((self.name, "on_worker_start", isinstance(worker, Worker)))

    def on_worker_stop(self, worker: Worker) -> None:
        self.calls.append((self.name, "on_worker_stop", worker.counts["ack"]))


def burst(app: App) -> Worker:
    worker = app.worker(burst=True, concurrency=1, grace=5.0)
    assert worker.run(install_signals=False) == 0
    return worker


def test_hooks_run_in_order_befores_first_to_last_afters_last_to_first() -> None:
    calls: list[tuple[str, str, Any]] = []
    app = App("memory://", middleware=[Recorder("outer", calls), Recorder("inner", calls)])

    @app.task
    def add(x: int, y: int) -> int:
        return x + y

    job = add.delay(1, 2)
    burst(app)
    assert job.result(timeout=5) == 3
    assert [(name, hook) for name, hook, _ in calls] == [
        ("outer", "before_enqueue"), ("inner", "before_enqueue"),
        ("inner", "after_enqueue"), ("outer", "after_enqueue"),
        ("outer", "on_worker_start"), ("inner", "on_worker_start"),
        ("outer", "before_run"), ("inner", "before_run"),
        ("inner", "after_run"), ("outer", "after_run"),
        ("inner", "on_worker_stop"), ("outer", "on_worker_stop"),
    ]
    details = {hook: detail for name, hook, detail in calls if name == "outer"}
    assert details == {
        "before_enqueue": "add", "after_enqueue": True, "on_worker_start": True, "before_run": True,
        "after_run": ("succeeded", 1, None), "on_worker_stop": 1,
    }


def test_after_run_names_each_fate() -> None:
    calls: list[tuple[str, str, Any]] = []
    app = App("memory://", backoff=0.01, max_backoff=0.01, middleware=[Recorder("m", calls)])

    @app.task(retries=1)
    def flaky() -> None:
        raise ValueError("again")

    @app.task
    def boom() -> None:
        raise KeyError("boom")

    @app.task
    def unserializable() -> object:
        return object()

    @app.task
    async def coroutine() -> int:
        await asyncio.sleep(0)
        return 1

    for task in (flaky, boom, unserializable, coroutine):
        task.delay()
    while app.broker.stats(["default"])["default"].ready or app.broker.stats(["default"])["default"].delayed:
        burst(app)
    fates = sorted((detail for _, hook, detail in calls if hook == "after_run"), key=str)
    assert fates == sorted([
        ("retried", 1, "ValueError"), ("failed", 2, "ValueError"), ("failed", 1, "KeyError"),
        ("failed", 1, None), ("succeeded", 1, None),
    ], key=str)


def test_a_cancelled_completion_is_cancelled_and_a_dead_letter_without_a_run_is_dead() -> None:
    delivery = Delivery("j1", "default", b"{}", 1, "r1")
    cancelled = Outcome("j1", JobStatus.CANCELLED)
    assert outcome_of(Completion(delivery, Action.ACK, outcome=cancelled)) == "cancelled"
    assert outcome_of(Completion(delivery, Action.DEAD, outcome=Outcome("j1", JobStatus.DEAD))) == "dead"
    assert outcome_of(Completion(delivery, Action.ACK)) == "succeeded"


def test_a_raising_hook_is_logged_once_with_its_class_and_hook(caplog: pytest.LogCaptureFixture) -> None:
    class Broken(Middleware):
        def before_run(self, job: Prepared) -> None:
            raise RuntimeError("no luck")

    app = App("memory://", middleware=[Broken()])

    @app.task
    def one() -> int:
        return 1

    job = one.delay()
    with caplog.at_level(logging.ERROR, logger="queuekit.middleware"):
        burst(app)
    assert job.result(timeout=5) == 1
    lines = [r.getMessage() for r in caplog.records if r.name == "queuekit.middleware"]
    assert len(lines) == 1
    assert "Broken.before_run" in lines[0] and "RuntimeError: no luck" in lines[0]


def test_headers_must_be_strings_and_small_except_reserved_ones() -> None:
    app = App("memory://")

    @app.task
    def one() -> None: ...

    with pytest.raises(SerializationError, match=r"header 'n' is a int, not a string"):
        one.enqueue(headers={"n": 1})
    with pytest.raises(SerializationError, match=r"header name 1 is not a string"):
        one.enqueue(headers={1: "x"})
    with pytest.raises(MessageTooLarge, match=rf"over the limit of {MAX_HEADERS_SIZE}"):
        one.enqueue(headers={"big": "x" * MAX_HEADERS_SIZE})
    assert one.enqueue(headers={"qk.own": {"nested": [1, 2]}, "ok": "yes"}).id
    message = one.message()
    with pytest.raises(SerializationError, match=r"reserved for queuekit"):
        set_header(message, "qk.wf", "x")
    with pytest.raises(SerializationError, match=r"must be strings"):
        set_header(message, "n", 1)  # type: ignore[arg-type]


def test_a_middleware_must_be_an_instance() -> None:
    with pytest.raises(ConfigurationError, match=r"got type; subclass queuekit.Middleware and pass an instance"):
        App("memory://", middleware=[Middleware])  # type: ignore[list-item]


def test_without_middleware_messages_keep_their_headers_object() -> None:
    app = App("memory://")

    @app.task
    def one() -> None: ...

    message = one.message()
    [job_id] = app.send([message])
    assert job_id == message.id and app.middleware == []


def test_headers_a_middleware_adds_are_signed_with_the_body() -> None:
    class Tenant(Middleware):
        def before_enqueue(self, message: Message) -> None:
            set_header(message, "x-tenant", "acme")

    seen: list[str] = []

    class Reader(Middleware):
        def before_run(self, job: Prepared) -> None:
            seen.append(job.message.headers["x-tenant"])

    app = App("memory://", secret="s3cret", middleware=[Tenant(), Reader()])

    @app.task
    def one() -> None: ...

    message = one.message()
    assert app.send([message]) == [message.id]
    burst(app)
    assert seen == ["acme"]
    body = app.envelope(dataclasses.replace(message, headers={"x-tenant": "acme"})).body
    assert b'"x-tenant":"acme"' in body
    with pytest.raises(SignatureError, match="signature does not match"):
        decode(body.replace(b'"x-tenant":"acme"', b'"x-tenant":"evil"'), signer=app.signer)


def test_a_job_that_will_not_run_gets_after_run_without_before_run() -> None:
    calls: list[tuple[str, str, Any]] = []
    app = App("memory://", middleware=[Recorder("m", calls)])

    @app.task
    def one() -> None: ...

    runner = Runner(app)
    body = app.envelope(one.message()).body
    lost = runner.prepare(Delivery("lost", "default", body, 10, "r"))  # reserved far more often than allowed
    assert isinstance(lost, Completion) and lost.action is Action.DEAD
    runner.cancels = cast(CancelWatch, SimpleNamespace(flagged=lambda job_id: True))
    cancelled = runner.prepare(Delivery("gone", "default", body, 1, "r"))
    assert isinstance(cancelled, Completion) and cancelled.action is Action.ACK
    assert [(hook, detail[0]) for _, hook, detail in calls] == [("after_run", "dead"), ("after_run", "cancelled")]
