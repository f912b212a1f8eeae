"""The quick-start app (docs/quickstart.md): `python tasks.py` enqueues, `queuekit worker tasks:app` runs."""

from __future__ import annotations

from queuekit import App

app = App()  # QUEUEKIT_BROKER_URL, the config file, or sqlite:///queuekit.db


@app.task(queue="emails", retries=3, timeout=30)
def send(to: str, subject: str) -> str:
    """Pretend to send an email."""
    print(f"sending {subject!r} to {to}")
    return f"sent to {to}"


@app.task
def add(a: int, b: int) -> int:
    """Add two numbers, in the background."""
    return a + b


if __name__ == "__main__":  # not when the worker imports this module
    job = send.delay("a@example.org", "hi")
    later = send.enqueue(args=("b@example.org", "hello again"), delay=5, priority=9, key="welcome-b")
    jobs = app.enqueue_many([add.message(i, i) for i in range(3)])
    print("enqueued", job.id, later.id, *(j.id for j in jobs))
