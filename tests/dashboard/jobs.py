"""An app with jobs in every state the dashboard shows, on any broker URL, for the dashboard tests."""

from __future__ import annotations

from dataclasses import dataclass

from queuekit import App, Job

SCRIPT = "<script>document.title='pwned'</script>"


@dataclass
class Filled:
    """What :func:`fill` left in ``queue``: jobs waiting, one delayed, dead letters, one finished."""

    queue: str
    ready: list[str]
    delayed: str | None  # None on a broker without delays (kombu)
    dead: list[str]
    done: str


def build(url: str, *, results: str | None = None) -> App:
    """An app with a task that succeeds (``tests.dash.ok``) and one that fails (``tests.dash.boom``)."""
    app = App(url, results=results, backoff=0.01, max_backoff=0.05)

    @app.task(name="tests.dash.ok")
    def ok(text: str) -> str:
        return text.upper()

    @app.task(name="tests.dash.boom")
    def boom(text: str) -> str:
        raise ValueError(f"cannot handle {text}")

    return app


def fill(app: App, queue: str, *, ready: int = 3, dead: int = 2) -> Filled:
    """Leave ``ready`` waiting jobs, one delayed job (where the broker has delays), ``dead`` dead letters
    and one finished job in ``queue``.

    The first dead letter's argument is a ``<script>`` payload.
    """
    ok, boom = app.get_task("tests.dash.ok"), app.get_task("tests.dash.boom")
    failed = [boom.enqueue([SCRIPT if i == 0 else f"bad {i}"], queue=queue) for i in range(dead)]
    done = ok.enqueue(["done"], queue=queue)
    assert app.worker(queues=[queue], burst=True, concurrency=1).run(install_signals=False) == 0
    waiting: list[Job[str]] = [ok.enqueue([f"job {i}"], queue=queue) for i in range(ready)]
    later = ok.enqueue(["later"], queue=queue, delay=3600).id if app.broker.capabilities.delays else None
    return Filled(queue, [job.id for job in waiting], later, [job.id for job in failed], done.id)
