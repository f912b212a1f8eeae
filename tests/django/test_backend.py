"""QueuekitBackend in one process: the in-memory broker and a worker thread."""

from __future__ import annotations

import asyncio
import datetime as dt
from importlib.metadata import EntryPoint
from typing import Any

import pytest
from django.db import transaction
from djsupport import drain_until_finished, run_burst, tasks_on
from qktest import tasks
from qktest.models import Event

from queuekit.contrib.django.compat import InvalidTask, TaskResultDoesNotExist, TaskResultStatus
from queuekit.errors import SerializationError
from queuekit.message import Message, encode


def test_enqueue_runs_on_the_worker_and_the_result_reads_back(backend: Any) -> None:
    result = tasks.add.enqueue(2, 3)
    assert result.status == TaskResultStatus.READY
    assert result.args == [2, 3]
    assert tasks.add.get_result(result.id).status == TaskResultStatus.READY

    assert run_burst(backend) == {"ack": 1}

    done = tasks.add.get_result(result.id)
    assert done.status == TaskResultStatus.SUCCESSFUL
    assert done.return_value == 5
    assert done.args == [2, 3] and done.kwargs == {}
    assert done.attempts == 1 and len(done.worker_ids) == 1
    assert done.enqueued_at is not None and done.started_at is not None and done.finished_at is not None
    assert done.enqueued_at <= done.started_at <= done.finished_at
    result.refresh()
    refreshed: Any = result.status  # refresh() changes it in place
    assert refreshed == TaskResultStatus.SUCCESSFUL and result.return_value == 5


def test_async_enqueue_and_result(backend: Any) -> None:
    async def scenario() -> Any:
        result = await tasks.async_add.aenqueue(4, b=6)
        await asyncio.to_thread(run_burst, backend)
        return await tasks.async_add.aget_result(result.id)

    done = asyncio.run(scenario())
    assert done.status == TaskResultStatus.SUCCESSFUL
    assert done.return_value == 10
    assert done.kwargs == {"b": 6}


def test_context_attempt_counts_retries(unique: str) -> None:
    with tasks_on(f"memory://django-{unique}", retries=2) as backend:
        result = tasks.flaky.enqueue(2)
        done = drain_until_finished(backend, result.id)
    assert done.status == TaskResultStatus.SUCCESSFUL
    assert done.return_value == {"attempt": 3, "result_id": result.id}
    assert done.attempts == 3


def test_failure_maps_to_django_error_records(backend: Any) -> None:
    result = tasks.boom.enqueue("it broke")
    run_burst(backend)
    done = tasks.boom.get_result(result.id)
    assert done.status == TaskResultStatus.FAILED
    (error,) = done.errors
    assert error.exception_class_path == "qktest.tasks.Boom"
    assert error.exception_class is tasks.Boom
    assert "it broke" in error.traceback
    with pytest.raises(ValueError, match="failed"):
        _ = done.return_value


def test_last_retry_failing_is_failed_with_its_attempts(unique: str) -> None:
    with tasks_on(f"memory://django-{unique}", retries=1) as backend:
        result = tasks.flaky.enqueue(5)
        done = drain_until_finished(backend, result.id)
    assert done.status == TaskResultStatus.FAILED
    assert done.attempts == 2
    assert "attempt 2 fails" in done.errors[0].traceback


def test_result_that_is_not_json_fails_the_task(backend: Any) -> None:
    result = tasks.unserializable_result.enqueue()
    run_burst(backend)
    done = tasks.unserializable_result.get_result(result.id)
    assert done.status == TaskResultStatus.FAILED
    assert done.errors[0].exception_class_path == "queuekit.errors.SerializationError"


def test_arguments_that_are_not_json_fail_at_enqueue_naming_the_task(backend: Any) -> None:
    with pytest.raises(SerializationError, match=r"qktest\.tasks\.add"):
        tasks.add.enqueue(dt.date.today(), 1)  # type: ignore[arg-type]
    assert backend.binding.app.broker.stats(["default"])["default"].ready == 0


def test_priorities_run_highest_first(backend: Any) -> None:
    labels = [("low", -50), ("high", 100), ("middle", 0), ("lowest", -100)]
    for label, priority in labels:
        tasks.record.using(priority=priority).enqueue(f"prio-{backend.alias}-{label}")
    run_burst(backend)
    ran = list(Event.objects.filter(label__startswith=f"prio-{backend.alias}-").order_by("pk")
               .values_list("label", flat=True))
    Event.objects.filter(label__startswith="prio-").delete()
    assert [label.rsplit("-", 1)[1] for label in ran] == ["high", "middle", "low", "lowest"]


def test_priority_travels_unchanged(backend: Any) -> None:
    result = tasks.add.using(priority=-37).enqueue(1, 1)
    (delivery,) = backend.binding.app.broker.reserve(["default"], 1, 30.0)
    assert delivery.priority == -37
    assert result.task.priority == -37


def test_run_after_delays_the_job(backend: Any) -> None:
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)
    result = tasks.add.using(run_after=later).enqueue(1, 2)
    stats = backend.binding.app.broker.stats(["default"])["default"]
    assert (stats.ready, stats.delayed) == (0, 1)
    assert run_burst(backend) == {}
    pending = tasks.add.get_result(result.id)
    assert pending.status == TaskResultStatus.READY
    assert pending.task.run_after is not None
    assert abs((pending.task.run_after - later).total_seconds()) < 1


def test_queue_name_routes_the_job(backend: Any) -> None:
    result = tasks.add.using(queue_name="emails").enqueue(1, 2)
    stats = backend.binding.app.broker.stats(["default", "emails"])
    assert (stats["default"].ready, stats["emails"].ready) == (0, 1)
    assert tasks.add.get_result(result.id).task.queue_name == "emails"
    with pytest.raises(InvalidTask, match="not valid"):
        tasks.add.using(queue_name="elsewhere")


def test_unknown_result_id(backend: Any) -> None:
    with pytest.raises(TaskResultDoesNotExist):
        tasks.add.get_result("0" * 32)


def test_on_commit_waits_for_the_transaction(backend: Any) -> None:
    broker = backend.binding.app.broker
    with transaction.atomic():
        result = tasks.add.enqueue(1, 1)
        assert broker.stats(["default"])["default"].ready == 0
        with pytest.raises(TaskResultDoesNotExist):
            tasks.add.get_result(result.id)
    assert broker.stats(["default"])["default"].ready == 1
    assert tasks.add.get_result(result.id).status == TaskResultStatus.READY


def test_rolled_back_job_never_runs(backend: Any) -> None:
    label = f"rollback-{backend.alias}-{id(backend)}"

    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        result = tasks.record.enqueue(label)
        raise Abort
    assert run_burst(backend) == {}
    assert not Event.objects.filter(label=label).exists()
    with pytest.raises(TaskResultDoesNotExist):
        tasks.record.get_result(result.id)


def test_rolled_back_savepoint_drops_only_its_job(backend: Any) -> None:
    with transaction.atomic():
        kept = tasks.add.enqueue(1, 1)
        try:
            with transaction.atomic():
                dropped = tasks.add.enqueue(2, 2)
                raise RuntimeError("roll back the savepoint")
        except RuntimeError:
            pass
    run_burst(backend)
    assert tasks.add.get_result(kept.id).return_value == 2
    with pytest.raises(TaskResultDoesNotExist):
        tasks.add.get_result(dropped.id)


def test_immediate_mode_sends_inside_the_transaction(unique: str) -> None:
    with tasks_on(f"memory://django-{unique}", enqueue="immediate") as backend, transaction.atomic():
        tasks.add.enqueue(1, 1)
        assert backend.binding.app.broker.stats(["default"])["default"].ready == 1


def test_in_transaction_mode_needs_a_transactional_broker(unique: str) -> None:
    from queuekit.errors import CapabilityError

    with tasks_on(f"memory://django-{unique}", enqueue="in_transaction") as backend:
        with pytest.raises(CapabilityError, match=r"TASKS\['default'\]\['OPTIONS'\]\['enqueue'\]"):
            tasks.add.enqueue(1, 1)
        assert backend.binding.app.broker.stats(["default"])["default"].ready == 0


def test_a_task_leaving_a_transaction_open_does_not_poison_the_next(backend: Any) -> None:
    label = f"after-{id(backend)}"
    tasks.leave_transaction_open.enqueue("left-open")
    tasks.record.enqueue(label)
    assert run_burst(backend) == {"ack": 2}
    assert Event.objects.filter(label=label).exists()
    assert not Event.objects.filter(label="left-open").exists()


def test_worker_runs_only_registered_django_tasks(backend: Any) -> None:
    app = backend.binding.app
    ids = []
    for name in ("os.system", "qktest.tasks.not_a_task", "qktest.tasks.Event.objects.all"):
        message = Message(task=name, args=("echo pwned",) if name == "os.system" else ())
        ids.append(message.id)
        app.broker.enqueue([_envelope(message)])
    assert run_burst(backend) == {"dead": 3}
    for job_id in ids:
        outcome = app.results.load_outcome(job_id)
        assert outcome is not None and "unknown task" in (outcome.error or "")


def _envelope(message: Message) -> Any:
    from queuekit.broker import Envelope

    return Envelope(message.id, message.queue, encode(message))


def test_capabilities_decide_the_supports_flags(backend: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    assert (backend.supports_defer, backend.supports_priority, backend.supports_get_result) == (True, True, True)
    assert backend.supports_async_task is True
    _register_scheme(monkeypatch, "qkplain", "PlainBroker")
    with tasks_on("qkplain://") as plain:
        assert (plain.supports_defer, plain.supports_priority, plain.supports_get_result) == (False, False, False)
        with pytest.raises(InvalidTask, match="priority"):
            tasks.add.using(priority=5)
        with pytest.raises(InvalidTask, match="run_after"):
            tasks.add.using(run_after=dt.datetime.now(dt.timezone.utc))
        result = tasks.add.enqueue(1, 2)
        with pytest.raises(NotImplementedError, match="results"):
            plain.get_result(result.id)


def _register_scheme(monkeypatch: pytest.MonkeyPatch, scheme: str, name: str) -> None:
    from queuekit import registry

    point = EntryPoint(name=scheme, value=f"qktest.brokers:{name}", group=registry.GROUP)
    monkeypatch.setitem(registry._entry_points(), scheme, point)


def test_running_job_reads_as_running(backend: Any) -> None:
    result = tasks.add.enqueue(1, 1)
    broker = backend.binding.app.broker
    assert broker.capabilities.job_state
    (delivery,) = broker.reserve(["default"], 1, 30.0)
    assert tasks.add.get_result(result.id).status == TaskResultStatus.RUNNING
    broker.dead_letter([(delivery, "set aside by hand")])
    dead = tasks.add.get_result(result.id)
    assert dead.status == TaskResultStatus.FAILED
    assert dead.errors[0].exception_class_path == "queuekit.errors.JobFailed"


def test_django_signals_fire_for_enqueue_start_and_finish(backend: Any) -> None:
    from queuekit.contrib.django.compat import task_enqueued, task_finished, task_started

    seen: list[tuple[str, str, str]] = []

    def listener(name: str) -> Any:
        def receive(sender: Any, task_result: Any, **kwargs: Any) -> None:
            seen.append((name, task_result.id, str(task_result.status)))
        return receive

    receivers = [(signal, listener(name)) for signal, name in
                 ((task_enqueued, "enqueued"), (task_started, "started"), (task_finished, "finished"))]
    for signal, receiver in receivers:
        signal.connect(receiver)
    try:
        with transaction.atomic():
            result = tasks.add.enqueue(3, 4)
            assert seen == []  # not enqueued until the commit
        run_burst(backend)
    finally:
        for signal, receiver in receivers:
            signal.disconnect(receiver)
    assert seen == [("enqueued", result.id, "READY"), ("started", result.id, "RUNNING"),
                    ("finished", result.id, "SUCCESSFUL")]
