"""An App and a running Worker on the broker under test, for the contracts that go through them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from queuekit.app import App
from queuekit.testing.harness import Harness
from queuekit.worker import Worker


def app_for(kit: Harness, queue: str) -> App:
    """An app on the broker under test; one without results gets a separate in-process result store."""
    label = f"conformance://{type(kit.broker).__name__}"
    probe = App(broker=kit.broker, url=label, default_queue=queue)
    separate = None if probe.results is not None else f"memory://conformance-results-{uuid.uuid4().hex}"
    return App(broker=kit.broker, url=label, results=separate, default_queue=queue)


@contextmanager
def running(app: App, queue: str, concurrency: int = 2, **options: Any) -> Iterator[Worker]:
    """A worker on ``queue`` in a background thread for the block; stopped (and checked stopped) after it."""
    worker = app.worker(queues=[queue], concurrency=concurrency, grace=5.0, **options)
    thread = worker.start()
    try:
        yield worker
    finally:
        worker.stop()
        thread.join(60)
        assert not thread.is_alive(), "the worker did not stop"
