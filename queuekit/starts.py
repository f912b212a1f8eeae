"""Which reservations of a job really started, so that jobs lost unstarted do not use up their allowance.

Brokers count an attempt when a job is reserved: a job that kills its worker every time
then ends dead instead of looping. But a worker also holds jobs it has not started (its
prefetch buffer), and when it is killed those come back with an attempt spent too; a
crash loop could dead-letter them unrun. So the worker records each start of a job
reserved before (``starts:<id>``, one counter write, only for redeliveries: rare), and a
job over its reservation allowance is dead-lettered only when its recorded starts (plus
the first reservation, assumed started) reach the allowance too.

Where the app's shared state is per process (no ``key_value`` on the broker or result
store), nothing survives a killed worker, so reservations are counted as before.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from queuekit.app import App
    from queuekit.broker import Delivery

log = logging.getLogger("queuekit.worker")

PREFIX = "starts:"


def record_start(app: App, delivery: Delivery) -> None:
    """Note that a redelivered job starts now (first deliveries cost nothing)."""
    if delivery.attempts <= 1:
        return
    state = app.state
    if state.scope != "shared":
        return
    try:
        state.store.kv_incr(PREFIX + delivery.id, ttl=app.result_ttl)
    except Exception as exc:  # a missing record only makes the job's allowance stricter
        log.debug("could not record the start of %s: %s", delivery.id, exc)


def starts_known(app: App, delivery: Delivery) -> int | None:
    """How many reservations of this job started, as far as the shared state knows (None: it cannot tell)."""
    state = app.state
    if state.scope != "shared":
        return None
    try:
        raw = state.store.kv_get(PREFIX + delivery.id)
    except Exception as exc:
        log.debug("could not read the starts of %s: %s", delivery.id, exc)
        return None
    return 1 + (int(raw) if raw is not None else 0)  # the first reservation is assumed to have started
