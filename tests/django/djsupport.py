"""Helpers for the Django tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.support import wait_until


def backend_entry(url: str, **options: Any) -> dict[str, Any]:
    """A TASKS entry for the queuekit backend."""
    return {
        "BACKEND": "queuekit.contrib.django.QueuekitBackend",
        "QUEUES": ["default", "emails"],
        "OPTIONS": {"url": url, "backoff": 0.01, "max_backoff": 0.05, **options},
    }


@contextmanager
def tasks_on(url: str, **options: Any) -> Iterator[Any]:
    """TASKS['default'] on ``url`` for the duration; yields the backend."""
    from django.test import override_settings

    from queuekit.contrib.django.compat import task_backends

    with override_settings(TASKS={"default": backend_entry(url, **options)}):
        yield task_backends["default"]


def run_burst(backend: Any, queues: tuple[str, ...] = ("default", "emails")) -> dict[str, int]:
    """Run a burst worker in this thread on the backend's app; return its counts."""
    worker = backend.binding.app.worker(queues=list(queues), concurrency=1, prefetch=0, burst=True, grace=5.0)
    assert worker.run(install_signals=False) == 0
    return dict(worker.counts)


def drain_until_finished(backend: Any, result_id: str, timeout: float = 20.0) -> Any:
    """Run burst workers until the result is finished (retries come back after a backoff)."""
    latest: list[Any] = []

    def finished() -> bool:
        run_burst(backend)
        latest[:] = [backend.get_result(result_id)]
        return bool(latest[0].is_finished)

    wait_until(finished, timeout=timeout, what=f"result {result_id} to finish")
    return latest[0]
