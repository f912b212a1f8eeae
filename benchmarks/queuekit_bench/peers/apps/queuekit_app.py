"""queuekit's side of the peer workload: ``queuekit worker queuekit_bench.peers.apps.queuekit_app:app``.

The task keeps no result, as the peers' no-op tasks keep none.
"""

from __future__ import annotations

import os

from queuekit import App
from queuekit_bench.peers import QUEUE_ENV, URL_ENV
from queuekit_bench.peers.completions import notify

TASK = "qkbench.peer_noop"


def build(url: str, queue: str) -> App:
    """The App with the one task, at queuekit's defaults otherwise."""
    app = App(url)
    app.task(name=TASK, queue=queue, store_result=False)(ping)
    return app


def ping() -> None:
    """Signal the completion."""
    notify()


def __getattr__(name: str) -> App:
    if name == "app":  # built on first access, from the environment the harness gave the worker
        return build(os.environ[URL_ENV], os.environ[QUEUE_ENV])
    raise AttributeError(name)
