"""The worker: reserve, run, acknowledge.

Threads, each with one job:

* the **fetcher** (the thread that calls :meth:`Worker.run`) reserves a batch whenever
  enough of the ``concurrency + prefetch`` slots are free (:mod:`queuekit.prefetch`
  sizes the buffer and the batches), and hands the jobs out;
* ``concurrency`` **pool threads** run synchronous tasks; ``async def`` tasks run on
  one **event-loop thread**;
* the **acker** applies completions to the broker in batches (results first, then
  acks) and renews the leases of running jobs at a third of their length.

Graceful stop (SIGTERM, SIGINT or :meth:`Worker.stop`): stop reserving (and, on a broker
that declares ``stop_consuming``, stop its deliveries to this process), hand back
unstarted jobs at once without spending an attempt, give running jobs ``grace``
seconds, hand back the rest, exit 0. A second signal exits at once; the leases of
anything still running expire, so nothing is lost.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING

from queuekit.broker import Delivery, Durability, Pausable
from queuekit.control import forget_progress
from queuekit.errors import BrokerError
from queuekit.execution import Action, Completion, Prepared, Runner
from queuekit.housekeeping import Housekeeper
from queuekit.middleware import call_hooks
from queuekit.prefetch import Prefetch
from queuekit.retry import Backoff, backoff_delay
from queuekit.urls import redact
from queuekit.workflow import advance

if TYPE_CHECKING:
    from queuekit.app import App

log = logging.getLogger("queuekit.worker")

_RETRIES = 5  # tries of a settlement whose leases have run out already
_RETRY_PAUSE = 1.0  # the longest pause between two tries of one settlement
_STILL_FAILING = 60.0  # seconds between two WARNINGs while reserve keeps failing


@dataclass(slots=True)
class _InFlight:
    delivery: Delivery
    lease: float
    next_beat: float


# What `queuekit worker` (a process of its own) sets: CPython hands the GIL over every
# 5 ms by default, so a thread back from the broker with a batch can wait 5 ms behind
# busy task threads for each step. 1 ms measured +15-25% drain on PostgreSQL.
OWN_PROCESS_SWITCH = 0.001


class Worker:
    """Runs an app's tasks from the broker until stopped (or, in burst mode, until idle).

    ``switch_interval`` sets :func:`sys.setswitchinterval` while :meth:`run` runs (and
    restores it after): for a worker that owns its process; an embedded worker leaves
    its host's setting alone by default. ``schedules``: also run the app's periodic jobs
    (one worker among all leads them; never in burst mode). ``on_state_loss="exit"``: stop
    (exit status 3) when the broker reports it lost accepted jobs (:mod:`queuekit.resets`).
    """

    def __init__(
        self,
        app: App,
        *,
        queues: Sequence[str] | None = None,
        concurrency: int = 8,
        prefetch: int | None = None,
        burst: bool = False,
        lease: float | None = None,
        grace: float = 30.0,
        poll: float = 1.0,
        batch: int | None = None,
        switch_interval: float | None = None,
        schedules: bool = True,
        on_state_loss: str = "continue",
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        self.app = app
        # Without given queues the worker takes its app's when it starts, so tasks declared
        # after the worker was built are consumed too.
        self._given_queues = list(queues) if queues else None
        self.queues = self._given_queues or default_queues(app)
        self.concurrency = concurrency
        # Default: a buffer of about 0.1 s of work at the observed rate, at least 3 x
        # concurrency (Celery's multiplier): no-op jobs move in batches of hundreds, slow
        # jobs are not hoarded. A given prefetch is fixed.
        self.prefetch = Prefetch(concurrency, prefetch)
        self.batch = batch
        if switch_interval is not None and not switch_interval > 0:
            raise ValueError(f"switch_interval must be a positive number of seconds, got {switch_interval}")
        self.switch_interval = switch_interval
        self.burst = burst
        self.schedules = schedules and not burst
        if on_state_loss not in ("continue", "exit"):
            raise ValueError(f"on_state_loss must be 'continue' or 'exit', got {on_state_loss!r}")
        self.on_state_loss = on_state_loss
        self.exit_status = 0  # 3 when stopped by on_state_loss="exit"
        self.lease = lease or app.lease
        self.grace = grace
        self.poll = poll
        self.counts: collections.Counter[str] = collections.Counter()
        self.runner = Runner(app)
        self._stopping = threading.Event()
        self._done = threading.Event()
        self._cond = threading.Condition()
        self._inflight: dict[str, _InFlight] = {}
        self._work: queue.SimpleQueue[Delivery | None] = queue.SimpleQueue()
        self._completions: queue.SimpleQueue[Completion | None] = queue.SimpleQueue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._threads: list[threading.Thread] = []

    def __repr__(self) -> str:
        return f"<Worker {self.app.redacted_url} queues={','.join(self.queues)} concurrency={self.concurrency}>"

    # -- public control ------------------------------------------------------------------

    def run(self, install_signals: bool = True) -> int:
        """Work until stopped; return the exit code (0 after a graceful stop)."""
        restore = self._install_signals() if install_signals else None
        switching = sys.getswitchinterval()
        if self.switch_interval is not None:
            sys.setswitchinterval(self.switch_interval)
        if self._given_queues is None:
            self.queues = default_queues(self.app)
        broker = self.app.broker
        shown = "adaptive" if self.prefetch.fixed is None else str(self.prefetch.fixed)
        durability = broker.capabilities.durability
        log.info("worker started: %s queues=%s concurrency=%d prefetch=%s lease=%gs durability=%s%s%s",
                 self.app.redacted_url, ",".join(self.queues), self.concurrency, shown, self.lease,
                 durability.value, " (a broker restart loses queued jobs)" if durability is Durability.NONE else "",
                 " burst" if self.burst else "")
        keeper = Housekeeper(self, schedules=self.schedules)
        self.runner.cancels = keeper.cancels
        if self.app.middleware:
            call_hooks(self.app.middleware, "on_worker_start", self)
        keeper.start()
        self._start_threads()
        try:
            self._fetch_loop(broker.reserve)
        finally:
            self._shutdown()
            keeper.stop()
            sys.setswitchinterval(switching)
            if restore:
                restore()
            if self.app.middleware:
                call_hooks(self.app.middleware, "on_worker_stop", self)
        log.info("worker stopped: %s", dict(self.counts))
        return self.exit_status

    def start(self) -> threading.Thread:
        """Run in a background thread (for embedding); stop with :meth:`stop`."""
        thread = threading.Thread(
            target=self.run, kwargs={"install_signals": False}, name="queuekit-worker", daemon=True
        )
        thread.start()
        return thread

    def stop(self) -> None:
        """Ask for a graceful stop; returns at once."""
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the worker has stopped; True if it did within ``timeout``."""
        return self._done.wait(timeout)

    @property
    def capacity(self) -> int:
        """Jobs this worker may hold now: concurrency plus the current prefetch."""
        return self.prefetch.capacity

    @property
    def in_flight(self) -> int:
        """Jobs reserved and not yet settled."""
        with self._cond:
            return len(self._inflight)

    # -- fetching ------------------------------------------------------------------------

    def _fetch_loop(self, reserve: Callable[..., list[Delivery]]) -> None:
        backoff = Backoff(0.2, 5.0)
        failing_since = warned = 0.0
        wanted = self.prefetch.wanted
        while not self._stopping.is_set():
            with self._cond:
                self._cond.wait_for(lambda: wanted(len(self._inflight)) > 0 or self._stopping.is_set())
                free = wanted(len(self._inflight))
            if self._stopping.is_set():
                return
            limit = min(free, self.batch) if self.batch else free
            try:
                deliveries = reserve(self.queues, limit, self.lease, 0.0 if self.burst else self.poll)
            except Exception as exc:  # a worker must outlive any broker failure
                pause = backoff.next()
                failures = backoff.failures
                now = time.monotonic()
                if failures == 1:
                    failing_since = warned = now
                # One WARNING when reserve starts failing, then one a minute while it keeps failing.
                loud = failures == 1 or now - warned >= _STILL_FAILING
                warned = now if loud else warned
                log.log(logging.WARNING if loud else logging.DEBUG, "reserve failed (%s); retrying in %.1fs",
                        _describe(exc), pause)
                self._stopping.wait(pause)
                continue
            if backoff.failures:
                log.info("reserve works again (%d failed tries over %.1fs)", backoff.failures,
                         time.monotonic() - failing_since)
                backoff.reset()
            if deliveries:
                self._dispatch(deliveries)
            elif self.burst and self._idle_after_burst():
                return

    def _idle_after_burst(self) -> bool:
        """In burst mode, nothing was ready: done if nothing runs, else wait for a change."""
        with self._cond:
            if not self._inflight:
                return True
            count = len(self._inflight)
            self._cond.wait_for(lambda: len(self._inflight) != count or self._stopping.is_set(), timeout=1.0)
        return False

    def _dispatch(self, deliveries: Sequence[Delivery]) -> None:
        """Record a batch in flight in one step and queue it for the pool threads.

        Decoding and checking happen on the pool threads: the fetcher goes straight back
        to the broker, so the next round trip overlaps this batch's work.
        """
        lease = self.lease
        beat = time.monotonic() + lease / 3
        with self._cond:
            for delivery in deliveries:
                self._inflight[delivery.id] = _InFlight(delivery, lease, beat)
        for delivery in deliveries:
            self._work.put(delivery)

    def _submit_async(self, job: Prepared) -> None:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._spawn(self._loop.run_forever, "queuekit-asyncio")
        future = asyncio.run_coroutine_threadsafe(self.runner.run_async(job), self._loop)

        def settle(done: object) -> None:
            try:
                self._completions.put(future.result())
            except BaseException as exc:  # never lose a completion
                self._completions.put(self.runner.failed(job, exc))

        future.add_done_callback(settle)

    # -- running -------------------------------------------------------------------------

    def _pool_thread(self) -> None:
        while True:
            delivery = self._work.get()
            if delivery is None:
                return
            if self._stopping.is_set():  # stopping: start nothing new
                self._completions.put(Completion(delivery, Action.RELEASE))
                continue
            job = self.runner.prepare(delivery)
            if isinstance(job, Completion):
                self._completions.put(job)
                continue
            if job.task.options.lease:
                self._renew_at(job.delivery.id, job.task.options.lease)
            if job.task.is_async:
                self._submit_async(job)
            else:
                self._completions.put(self.runner.run(job))

    def _renew_at(self, job_id: str, lease: float) -> None:
        """A task with a lease of its own: heartbeats follow it from now on."""
        with self._cond:
            entry = self._inflight.get(job_id)
            if entry is not None:
                entry.lease = lease
                entry.next_beat = min(entry.next_beat, time.monotonic() + lease / 3)

    # -- settling ------------------------------------------------------------------------

    def _acker(self) -> None:
        finishing = False
        while not finishing:
            try:
                first = self._completions.get(timeout=self._until_next_beat())
            except queue.Empty:
                first = None
                batch: list[Completion] = []
            else:
                batch = [] if first is None else [first]
                finishing = first is None
            while not finishing and len(batch) < 512:
                try:
                    item = self._completions.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    finishing = True
                else:
                    batch.append(item)
            if batch:
                self._settle(batch)
            self._heartbeat()

    def _settle(self, batch: list[Completion]) -> None:
        with self._cond:
            batch = [c for c in batch if c.delivery.id in self._inflight]
            # The batch's leases run out 2/3 of a lease after their next beat was due (renewed
            # at a third); a settlement that lands before then saves a job a second run.
            entries = [self._inflight[c.delivery.id] for c in batch]
            until = max((entry.next_beat + 2 * entry.lease / 3 for entry in entries), default=0.0)
        outcomes = [c.outcome for c in batch if c.outcome is not None]
        store = self.app.results
        if outcomes and store is not None:
            self._retrying("save results", lambda: store.save_outcomes(outcomes, self.app.result_ttl), until)
        if any("progress" in outcome.extra for outcome in outcomes):
            self._retrying("clear progress", lambda: forget_progress(self.app, outcomes), until)
        steps = [c for c in batch if c.workflow is not None]
        if steps:  # before the acks: a step whose successor was not started runs again
            self._retrying("start the next workflow steps", lambda: advance(self.app, steps), until)
        broker = self.app.broker
        acks = [c.delivery for c in batch if c.action is Action.ACK]
        if acks:
            self._retrying("ack", lambda: broker.ack(acks), until)
        retries = [(c.delivery, c.delay) for c in batch if c.action is Action.RETRY]
        if retries:
            self._retrying("retry", lambda: broker.nack(retries), until)
        releases = [(c.delivery, c.delay) for c in batch if c.action is Action.RELEASE]
        if releases:
            self._retrying("release", lambda: broker.nack(releases, count_attempt=False), until)
        letters = [(c.delivery, c.reason) for c in batch if c.action is Action.DEAD]
        if letters:
            self._retrying("dead-letter", lambda: broker.dead_letter(letters), until)
        self.counts.update(c.action.value for c in batch)
        with self._cond:
            for c in batch:
                self._inflight.pop(c.delivery.id, None)
            self._cond.notify_all()
        self.prefetch.settled(len(batch))

    def _retrying(self, what: str, call: Callable[[], object], until: float) -> None:
        """Call until it succeeds: at least ``_RETRIES`` times, and for as long as ``until`` (monotonic) is ahead.

        A broker restart of a few seconds then costs no second runs: the settlement lands
        once the broker is back, while the leases it covers still hold.
        """
        started = time.monotonic()
        for attempt in itertools.count(1):
            try:
                call()
            except Exception as exc:  # the acker must outlive any broker failure
                left = until - time.monotonic()
                if attempt >= _RETRIES and left <= 0:
                    log.error("%s failed %d times in %.1fs, leaving it to lease expiry: %s", what, attempt,
                              time.monotonic() - started, _describe(exc))
                    return
                if attempt == 1:
                    log.warning("%s failed (%s); retrying while the lease holds (%.1fs)", what, _describe(exc),
                                max(left, 0.0))
                time.sleep(min(backoff_delay(attempt, 0.1, _RETRY_PAUSE), max(left, 0.05)))
            else:
                if attempt > 1:
                    log.info("%s went through after %d tries (%.1fs)", what, attempt, time.monotonic() - started)
                return

    def _until_next_beat(self) -> float:
        """How long the acker may block: never past a third of the shortest lease in use."""
        leases = [self.lease] + [t.options.lease for t in self.app.tasks.values() if t.options.lease]
        cap = min(1.0, min(leases) / 3)
        with self._cond:
            if not self._inflight:
                return cap
            soonest = min(entry.next_beat for entry in self._inflight.values())
        return min(max(soonest - time.monotonic(), 0.0), cap)

    def _heartbeat(self) -> None:
        now = time.monotonic()
        by_lease: dict[float, list[Delivery]] = {}
        with self._cond:
            for entry in self._inflight.values():
                if entry.next_beat <= now:
                    by_lease.setdefault(entry.lease, []).append(entry.delivery)
                    entry.next_beat = now + entry.lease / 3
        for lease, deliveries in by_lease.items():
            try:
                lost = self.app.broker.extend(deliveries, lease)
            except Exception as exc:
                log.warning("lease renewal failed (%s); will retry", _describe(exc))
                continue
            for job_id in lost:
                log.warning("lease of job %s was lost; it may run twice", job_id)

    # -- threads and shutdown --------------------------------------------------------------

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _start_threads(self) -> None:
        for index in range(self.concurrency):
            self._spawn(self._pool_thread, f"queuekit-pool-{index}")
        self._acker_thread = threading.Thread(target=self._acker, name="queuekit-acker", daemon=True)
        self._acker_thread.start()

    def _shutdown(self) -> None:
        self._stop_consuming()
        released = 0
        while True:
            try:
                delivery = self._work.get_nowait()
            except queue.Empty:
                break
            if delivery is not None:
                self._completions.put(Completion(delivery, Action.RELEASE))
                released += 1
        if released:
            log.info("handing back %s", _jobs(released, "unstarted"))
        with self._cond:
            finished = self._cond.wait_for(lambda: not self._inflight, timeout=self.grace)
            leftover = [entry.delivery for entry in self._inflight.values()]
        if not finished:
            log.warning("grace period of %gs over; handing back %s", self.grace, _jobs(len(leftover), "running"))
            for delivery in leftover:
                self._completions.put(Completion(delivery, Action.RETRY))
        for _ in range(self.concurrency):
            self._work.put(None)
        self._completions.put(None)
        self._acker_thread.join()
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._done.set()

    def _stop_consuming(self) -> None:
        """A push-based broker stops delivering first, so handed-back jobs are not pushed back to us."""
        broker = self.app.broker
        if not (broker.capabilities.stop_consuming and isinstance(broker, Pausable)):
            return
        try:
            broker.stop_consuming(self.queues)
        except Exception as exc:  # the hand-back must still happen
            log.warning("could not stop consuming (%s); handed-back jobs may wait for this worker to exit",
                        _describe(exc))

    def _install_signals(self) -> Callable[[], None] | None:
        if threading.current_thread() is not threading.main_thread():
            return None

        def handle(signum: int, frame: FrameType | None) -> None:
            if self._stopping.is_set():
                log.warning("second signal: exiting now; running jobs return when their leases expire")
                os._exit(1)
            log.info("signal %d: stopping gracefully (grace %gs)", signum, self.grace)
            self.stop()

        previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}

        def restore() -> None:
            for sig, old in previous.items():
                signal.signal(sig, old)

        return restore


def _describe(exc: Exception) -> str:
    """A broker failure for the log: expected ones by message, anything else by type too."""
    text = redact(str(exc))[:300]
    return text if isinstance(exc, BrokerError) else f"unexpected {type(exc).__name__}: {text}"


def _jobs(count: int, kind: str) -> str:
    return f"{count} {kind} job{'' if count == 1 else 's'}"


def default_queues(app: App) -> list[str]:
    """The queues the app's tasks use; the app's default queue only if a task uses it (or none exist).

    A worker never listens where its app sends nothing: a job of another app on a shared
    queue would be dead-lettered there as an unknown task.
    """
    return sorted({task.options.queue for task in app.tasks.values()} or {app.default_queue})
