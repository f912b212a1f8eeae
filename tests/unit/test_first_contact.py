"""A new user's first mistakes each get one line that names the problem and the fix."""

from __future__ import annotations

import pytest

from queuekit import App, ConfigurationError
from queuekit.broker import Delivery
from queuekit.cli import main
from queuekit.execution import Runner
from queuekit.message import Message, encode

SECRET = "pw-Qk-5512"


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("redis:/127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("redis:127.0.0.1", "redis://127.0.0.1"),
        ("memory:/private", "memory://private"),
        (f"amqp//guest:{SECRET}@127.0.0.1:5672/", "amqp://guest:***@127.0.0.1:5672/"),
    ],
)
def test_a_mistyped_url_separator_names_the_url_that_was_meant(typed: str, meant: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        App(typed)
    message = str(caught.value)
    assert message.endswith(f"is not a URL of the form scheme://... (did you mean {meant!r}?)"), message
    assert SECRET not in message


@pytest.mark.parametrize("typed", ["jobs.db", "C:/jobs", "nosuchscheme:/x"])
def test_no_url_is_suggested_where_no_backend_would_take_it(typed: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        App(typed)
    assert "did you mean" not in str(caught.value)


def test_an_app_given_to_dlq_like_to_status_is_told_to_use_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["dlq", "list", "emails", "myapp.tasks:app"])
    assert caught.value.code == 2
    error = capsys.readouterr().err.strip()
    assert "unrecognized arguments: myapp.tasks:app; dlq and purge take the app as an option: " \
           "--app myapp.tasks:app" in error
    assert len(error.splitlines()) == 1


def _dead_reason(app: App, task: str) -> str:
    message = Message(task=task, queue="emails")  # what another process's app sent
    delivery = Delivery(id=message.id, queue="emails", body=encode(message), attempts=1, receipt="r")
    done = Runner(app).prepare(delivery)
    reason = getattr(done, "reason", None)
    assert isinstance(reason, str), done
    return reason


def test_an_unknown_task_whose_module_the_worker_never_imported_says_so() -> None:
    """Tasks declared in a module the worker's app module does not import are unknown to the worker."""
    app = App("memory://")
    reason = _dead_reason(app, "shop.late_tasks.send_invoice")
    assert "module 'shop.late_tasks' is not imported in this worker: if the task is this app's, import that " \
           "module from the one that defines the app" in reason
    assert "does another app send to queue 'emails'?" in reason  # the other cause stays named
    other = _dead_reason(app, "os.path.join")  # imported here, just not this app's: another app's job
    assert "does another app send to queue 'emails'?" in other and "not imported" not in other


def test_result_without_a_worker_says_the_job_is_still_queued_and_names_the_worker() -> None:
    app = App("memory://")

    @app.task
    def add(a: int, b: int) -> int:
        return a + b

    with pytest.raises(TimeoutError) as caught:
        add.delay(2, 3).result(timeout=0.05)
    assert "did not finish within 0.05 s (still queued: is a worker running for this app? " in str(caught.value)
