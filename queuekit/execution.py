"""What happens to one delivery: decode, check, run, and decide its fate.

This module holds the policy (retries, dead-lettering, time limits, results) and no
threads; :mod:`queuekit.worker` moves deliveries in and completions out.
"""

from __future__ import annotations

import asyncio
import contextvars
import enum
import logging
import sys
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from queuekit.broker import Delivery, JobStatus, Outcome
from queuekit.control import CancelWatch, make_progress, save_progress
from queuekit.errors import MalformedMessage, SerializationError, TimeLimitExceeded
from queuekit.json_values import check_value
from queuekit.message import Message, describe
from queuekit.middleware import call_after_run, call_hooks
from queuekit.ratelimit import HORIZON, book
from queuekit.retry import backoff_delay
from queuekit.starts import record_start, starts_known
from queuekit.time_limits import Watchdog

WORKFLOW = "qk.wf"  # the message header of a workflow step (queuekit.workflow.HEADER)

if TYPE_CHECKING:
    from queuekit.app import App
    from queuekit.task import Task

log = logging.getLogger("queuekit.worker")

MAX_ERROR = 2000
MAX_TRACEBACK = 8000


_PLAIN = frozenset({type(None), bool, int, str})  # always JSON-serializable


class Action(str, enum.Enum):
    """What the worker tells the broker about a delivery."""

    ACK = "ack"
    RETRY = "retry"
    DEAD = "dead"
    RELEASE = "release"  # hand back unstarted, without spending an attempt


@dataclass(slots=True)  # not frozen: built for every job, and frozen init costs 4x
class Completion:
    """The fate of one delivery, with the outcome to store if there is one."""

    delivery: Delivery
    action: Action
    delay: float = 0.0
    reason: str = ""
    outcome: Outcome | None = None
    workflow: Mapping[str, Any] | None = None  # the step's workflow header: what follows it (queuekit.workflow)


@dataclass(slots=True)
class Prepared:
    """A delivery that decoded, verified and names a registered task."""

    delivery: Delivery
    message: Message
    task: Task[Any, Any]
    notes: dict[str, Any] = field(default_factory=dict, compare=False)  # JSON entries for the outcome's extra
    runner: Runner | None = field(default=None, compare=False, repr=False)
    slot: float | None = None  # under a rate limit: the start time it booked (epoch seconds); it never starts earlier
    error: BaseException | None = field(default=None, compare=False, repr=False)  # what the attempt raised

    @property
    def id(self) -> str:
        """The job id."""
        return self.delivery.id

    @property
    def cancelled(self) -> bool:
        """True once someone cancelled this job (``Job.cancel()``); a task may check it and stop early."""
        watch = self.runner.cancels if self.runner is not None else None
        return watch is not None and watch.flagged(self.delivery.id)

    def progress(self, fraction: float, note: str | None = None) -> None:
        """Report how far the job is (``fraction`` from 0 to 1, an optional note), for ``Job.progress()``.

        Each call is one write to the shared state; the final outcome keeps the last value.
        """
        record = make_progress(fraction, note)
        self.notes["progress"] = record.to_json()
        if self.runner is not None:
            save_progress(self.runner.app, self.delivery.id, record)


_current: contextvars.ContextVar[Prepared | None] = contextvars.ContextVar("queuekit_current_job", default=None)


def current_job() -> Prepared | None:
    """The job the calling code runs as, inside a task on a worker; None anywhere else.

    Gives the delivery (``attempts`` counts this one) and the message. A task may put
    JSON-compatible entries in ``notes``; they are kept in its outcome's ``extra``.
    """
    return _current.get()


def _class_path(exc: BaseException) -> str:
    kind = type(exc)
    return f"{kind.__module__}.{kind.__qualname__}"


def _unknown_hint(name: str, queue: str) -> str:
    """Why a worker may not know a task: its module was never imported here, or another app sent it."""
    parts = name[:200].split(".")
    modules = [".".join(parts[:end]) for end in range(len(parts) - 1, 0, -1)]
    other = f"does another app send to queue {queue!r}? give each app its own queues"
    if modules and not any(module in sys.modules for module in modules):
        return (
            f"module {modules[0][:100]!r} is not imported in this worker: if the task is this app's, import "
            f"that module from the one that defines the app, so that loading the app registers it; {other}"
        )
    return other


class Runner:
    """Turns deliveries into completions for one app."""

    def __init__(self, app: App, watchdog: Watchdog | None = None) -> None:
        self.app = app
        self.watchdog = watchdog or Watchdog()
        self.cancels: CancelWatch | None = None  # set by the worker that refreshes it

    def prepare(self, delivery: Delivery) -> Prepared | Completion:
        """Decode and check a delivery; a completion means it must not run."""
        try:
            message = self.app.codec.decode(delivery.body, max_size=self.app.max_message_size, signer=self.app.signer)
        except MalformedMessage as exc:
            reason = f"malformed: {exc}"
            log.warning("dead-lettering %s from %s: %s", delivery.id, delivery.queue, reason)
            log.debug("rejected body: %s", describe(delivery.body))
            return self._dead(delivery, reason, None, JobStatus.DEAD)
        task = self.app.tasks.get(message.task)
        if task is None:
            hint = _unknown_hint(message.task, delivery.queue)
            reason = f"unknown task {message.task[:100]!r}: not registered on this worker's app ({hint})"
            log.warning("dead-lettering %s: %s", delivery.id, reason)
            return self._dead(delivery, reason, message, JobStatus.DEAD)
        # Attempts are counted at reservation, so a job that kills its worker every time
        # cannot loop forever; a job without retries still survives a few worker deaths.
        # Reservations that never started (a killed worker's buffer) do not count (queuekit.starts).
        allowed = max(message.max_attempts, 1 + self.app.redeliveries)
        if delivery.attempts > allowed:
            started = starts_known(self.app, delivery)
            if started is None or started >= allowed:
                shown = "" if started is None else f", started {started}"
                reason = (
                    f"worker lost: reserved {delivery.attempts} times{shown}, allowed {allowed}; "
                    "the previous attempts never finished (crash, kill or lost lease)"
                )
                log.warning("dead-lettering %s (%s): %s", delivery.id, task.name, reason)
                return self._unrun(Prepared(delivery, message, task), self._dead(
                    delivery, reason, message, JobStatus.DEAD))
        job = Prepared(delivery, message, task, runner=self)
        if self.cancels is not None and self.cancels.flagged(delivery.id):
            log.info("%s %s was cancelled before it started", task.name, delivery.id)
            return self._unrun(job, self.cancelled(job, error="cancelled before it started"))
        return job

    def _unrun(self, job: Prepared, done: Completion) -> Completion:
        """The fate of a job that will not run, told to the middleware (``after_run`` without ``before_run``)."""
        if self.app.middleware:
            call_after_run(self.app.middleware, job, done)
        return done

    def _gate(self, job: Prepared) -> Completion | float:
        """Before a start: book it under the task's rate limit (seconds to wait, or a hand-back to the
        broker), and record the start of a redelivered job (:mod:`queuekit.starts`)."""
        limit, wait = job.task.options.rate_limit, 0.0
        if limit is not None:
            now = time.time()
            booked, wait = book(self.app.state.store, job.task.name, limit, now)
            job.slot = now + wait
            if not booked:
                return Completion(job.delivery, Action.RELEASE, delay=max(wait - HORIZON / 2, 0.0),
                                  reason="rate limited")
        if job.delivery.attempts > 1:
            record_start(self.app, job.delivery)
        return wait

    def run(self, job: Prepared) -> Completion:
        """Run a synchronous task on the calling thread, under its rate and time limits."""
        wait = self._gate(job) if job.task.options.rate_limit or job.delivery.attempts > 1 else 0.0
        if isinstance(wait, Completion):
            return wait
        if wait > 0:
            time.sleep(wait)  # the start booked under the rate limit: at most ratelimit.HORIZON away
        limit = self._time_limit(job)
        hooks = self.app.middleware
        current = _current.set(job)  # until the fate is known: log lines about it name the job
        try:
            try:
                token = self.watchdog.arm(limit) if limit else 0
                try:
                    if hooks:
                        call_hooks(hooks, "before_run", job)
                    value = job.task.fn(*job.message.args, **job.message.kwargs)
                finally:
                    if token:
                        self.watchdog.disarm(token)
            except BaseException as exc:  # every failure is recorded, none escapes
                if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                    raise
                done = self.failed(job, exc)
            else:
                done = self.succeeded(job, value)
            if hooks:
                call_after_run(hooks, job, done)
            return done
        finally:
            _current.reset(current)

    async def run_async(self, job: Prepared) -> Completion:
        """Run an ``async def`` task on the running loop, under its rate and time limits."""
        wait = self._gate(job) if job.task.options.rate_limit or job.delivery.attempts > 1 else 0.0
        if isinstance(wait, Completion):
            return wait
        if wait > 0:
            await asyncio.sleep(wait)
        limit = self._time_limit(job)
        _current.set(job)  # this coroutine runs in its own copy of the context
        hooks = self.app.middleware
        if hooks:
            call_hooks(hooks, "before_run", job)
        try:
            coro = job.task.fn(*job.message.args, **job.message.kwargs)
            value = await (asyncio.wait_for(coro, limit) if limit else coro)
        except asyncio.TimeoutError:
            done = self.failed(job, TimeLimitExceeded(f"task exceeded its time limit of {limit} s"))
        except Exception as exc:
            done = self.failed(job, exc)
        else:
            done = self.succeeded(job, value)
        if hooks:
            call_after_run(hooks, job, done)
        return done

    def _time_limit(self, job: Prepared) -> float | None:
        return job.message.timeout or job.task.options.timeout

    def succeeded(self, job: Prepared, value: Any) -> Completion:
        """Ack, with the result stored if the task keeps results (``cancelled`` if it was cancelled meanwhile)."""
        if job.cancelled:
            return self.cancelled(job, value)
        flow = job.message.headers.get(WORKFLOW) if job.message.headers else None
        if not job.task.options.store_result and flow is None:
            return Completion(job.delivery, Action.ACK)
        try:
            if type(value) not in _PLAIN:
                check_value(value, f"the result of {job.task.name}")
        except SerializationError as exc:
            reason = f"result of type {type(value).__name__} is not JSON-serializable: {exc}"
            return self._dead(job.delivery, reason, job.message, JobStatus.FAILED, extra=job.notes)
        outcome = Outcome(
            job.delivery.id, JobStatus.SUCCEEDED, result=value,
            attempts=job.delivery.attempts, finished_at=time.time(), extra=dict(job.notes),
        )
        return Completion(job.delivery, Action.ACK, outcome=outcome, workflow=flow)

    def failed(self, job: Prepared, exc: BaseException) -> Completion:
        """Retry with backoff while attempts remain and the error is retryable, else dead-letter."""
        error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR]
        job.error = exc
        if job.cancelled:
            return self.cancelled(job, error=error)
        attempts, allowed = job.delivery.attempts, job.message.max_attempts
        if attempts < allowed and isinstance(exc, job.task.options.retry_on):
            opts = job.task.options
            delay = backoff_delay(attempts, opts.backoff or self.app.backoff, opts.max_backoff or self.app.max_backoff)
            log.info("%s %s failed (attempt %d of %d), retry in %.2fs: %s",
                     job.task.name, job.delivery.id, attempts, allowed, delay, error)
            return Completion(job.delivery, Action.RETRY, delay=delay, reason=error)
        trace = "".join(traceback.format_exception(exc))[-MAX_TRACEBACK:]
        log.warning("%s %s failed on attempt %d of %d, dead-lettered: %s",
                    job.task.name, job.delivery.id, attempts, allowed, error)
        extra = {**job.notes, "exception": _class_path(exc)}
        return self._dead(job.delivery, f"exception: {error}", job.message, JobStatus.FAILED, trace, extra)

    def cancelled(self, job: Prepared, value: Any = None, *, error: str | None = None) -> Completion:
        """Ack a cancelled job with a ``cancelled`` outcome (what it returned, if JSON, or its error)."""
        try:
            check_value(value, "a cancelled job's result")
        except SerializationError:
            value = None
        outcome = Outcome(
            job.delivery.id, JobStatus.CANCELLED, result=value, error=error or "cancelled while running",
            attempts=job.delivery.attempts, finished_at=time.time(), extra={**job.notes, "task": job.task.name},
        )
        flow = job.message.headers.get(WORKFLOW) if job.message.headers else None
        return Completion(job.delivery, Action.ACK, reason="cancelled", outcome=outcome, workflow=flow)

    def _dead(
        self, delivery: Delivery, reason: str, message: Message | None, status: JobStatus,
        trace: str | None = None, extra: Mapping[str, Any] | None = None,
    ) -> Completion:
        outcome = Outcome(
            delivery.id, status, error=reason, traceback=trace,
            attempts=delivery.attempts, finished_at=time.time(),
            extra={**(extra or {}), **({"task": message.task} if message else {})},
        )
        flow = message.headers.get(WORKFLOW) if message is not None and message.headers else None
        return Completion(delivery, Action.DEAD, reason=reason, outcome=outcome, workflow=flow)
