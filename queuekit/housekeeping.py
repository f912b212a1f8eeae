"""The worker's housekeeping thread: cancel flags, heartbeats and the schedules, on one timer.

It keeps the worker's loops free of anything but jobs: every half second it reads the
cancel generation (:class:`~queuekit.control.CancelWatch`), every few seconds it writes
the worker's heartbeat (:mod:`queuekit.workers`), and when schedules are on it steps the
:class:`~queuekit.scheduler.Scheduler`. A failing broker call is logged (once per kind
until it recovers) and tried again on the next round; it never stops the worker.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from queuekit import resets, workers
from queuekit.broker import StateLossReporter
from queuekit.control import CancelWatch
from queuekit.errors import QueuekitError
from queuekit.scheduler import Scheduler

if TYPE_CHECKING:
    from queuekit.worker import Worker

log = logging.getLogger("queuekit.worker")

CANCEL_POLL = 0.5


class Housekeeper:
    """Runs a worker's periodic duties on a thread of its own until :meth:`stop`."""

    def __init__(self, worker: Worker, *, schedules: bool) -> None:
        self.worker = worker
        self.id = uuid.uuid4().hex
        self.cancels = CancelWatch(worker.app)
        self.scheduler = Scheduler(worker.app, owner=self.id) if schedules and worker.app.schedules else None
        self.started_at = time.time()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing: set[str] = set()
        self._next_beat = 0.0
        self._next_step = 0.0
        self.backlog: dict[str, int] = {}  # per queue: ready + delayed + in flight at the last sample
        broker = worker.app.broker
        self._losses = broker if broker.capabilities.detects_state_loss and isinstance(broker, StateLossReporter) \
            else None
        self._losses_seen = len(self._losses.resets) if self._losses is not None else 0

    def start(self) -> None:
        """Start the thread (after a first cancel read, so flags set before the start are seen)."""
        self._guard("cancel", self.cancels.refresh)
        if self.scheduler is not None and self.worker.app.state.scope != "shared":
            log.warning("schedules: %s keeps no state other processes see (%s); run schedules in one worker "
                        "process only, or give the app a result store that does (results='redis://...')",
                        self.worker.app.redacted_url, self.worker.app.state.where)
        self._thread = threading.Thread(target=self._run, name="queuekit-housekeeping", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread, give up the schedule lease and delete the heartbeat."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self.scheduler is not None:
            self._guard("schedules", self.scheduler.resign)
        self._guard("heartbeat", lambda: workers.forget(self.worker.app, self.id))

    def _run(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            self._guard("cancel", self.cancels.refresh)
            if now >= self._next_beat:
                self._guard("heartbeat", self._beat)
                self._guard("queue depths", self._sample)
                self._next_beat = now + workers.BEAT
            if self._losses is not None and len(self._losses.resets) > self._losses_seen:
                self._guard("state loss", self._record_losses)
            if self.scheduler is not None and now >= self._next_step:
                leading = self.scheduler.leading
                pause = self._guard("schedules", self.scheduler.step)
                self._next_step = now + (pause if isinstance(pause, float) else 1.0)
                if self.scheduler.leading != leading:  # say so at once, not at the next beat
                    self._next_beat = now
            wake = min(now + CANCEL_POLL, self._next_beat)
            if self.scheduler is not None:
                wake = min(wake, self._next_step)
            self._stop.wait(max(0.0, wake - time.monotonic()))

    def _beat(self) -> None:
        w = self.worker
        leads = self.scheduler is not None and self.scheduler.leading
        workers.beat(w.app, workers.describe(self.id, w.queues, w.concurrency, w.in_flight, self.started_at,
                                             w.counts, leads))

    def _sample(self) -> None:
        """Queue depths every beat: the last backlog known when a broker loses its data."""
        found = self.worker.app.broker.stats(self.worker.queues)
        self.backlog = {name: s.ready + s.delayed + s.in_flight for name, s in found.items()}

    def _record_losses(self) -> None:
        assert self._losses is not None
        fresh = list(self._losses.resets)[self._losses_seen:]
        for loss in fresh:
            queue = str(getattr(loss, "queue", "?"))
            known = getattr(loss, "last_known_backlog", None)
            backlog = known if known is not None else self.backlog.get(queue)
            saved = resets.record(self.worker.app, queue, float(getattr(loss, "detected_at", time.time())), backlog)
            self._losses_seen += 1
            log.error("state reset recorded: %s; `queuekit status` shows it until `queuekit status --ack-reset`",
                      saved.describe())
        if fresh and self.worker.on_state_loss == "exit":
            log.error("stopping: --on-state-loss=exit (exit status %d)", resets.EXIT_STATUS)
            self.worker.exit_status = resets.EXIT_STATUS
            self.worker.stop()

    def _guard(self, what: str, call: Callable[[], object]) -> object:
        try:
            result = call()
        except (QueuekitError, OSError) as exc:
            if what not in self._failing:
                log.warning("%s: %s; trying again", what, exc)
                self._failing.add(what)
            return None
        except Exception:
            log.exception("%s failed; trying again", what)
            return None
        if what in self._failing:
            log.info("%s: working again", what)
            self._failing.discard(what)
        return result
