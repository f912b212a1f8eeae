"""Job handles: what the producer gets back, to ask for status and result."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Generic, TypeVar, cast

from queuekit.broker import JobStatus, Outcome, StateReporter
from queuekit.errors import JobFailed, QueuekitError, ResultUnavailable

if TYPE_CHECKING:
    from queuekit.app import App
    from queuekit.control import Progress

R = TypeVar("R")


class Job(Generic[R]):
    """A handle on one enqueued job. Cheap to create from an id: ``app.job(id)``."""

    __slots__ = ("app", "id")

    def __init__(self, app: App, job_id: str) -> None:
        self.app = app
        self.id = job_id

    def __repr__(self) -> str:
        return f"<Job {self.id}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Job) and other.id == self.id and other.app is self.app

    def __hash__(self) -> int:
        return hash(self.id)

    def outcome(self) -> Outcome | None:
        """The final outcome if the job finished and a result store holds it."""
        found = self._record()
        return found if found is not None and found.status.finished else None

    def _record(self) -> Outcome | None:
        """What the result store holds: the final outcome, or the enqueue record of a pending job."""
        store = self.app.results
        return None if store is None else store.load_outcome(self.id)

    def status(self) -> JobStatus:
        """queued, running, succeeded, failed or dead; pending or unknown where that is the truth.

        The result store answers for finished jobs; the broker, where it declares
        ``job_state``, for unfinished ones; on a broker without it, the enqueue record the
        app kept in the result store says the job is ``pending`` (queued or running). An id
        neither holds is ``unknown`` (see :class:`JobStatus`). Raises
        :class:`ResultUnavailable`, naming the fix, where no true answer can be given: no
        result store on a broker that keeps no job states.
        """
        broker = self.app.broker
        reporter = broker if broker.capabilities.job_state and isinstance(broker, StateReporter) else None
        if reporter is None and self.app.results is None:
            raise ResultUnavailable(
                f"job {self.id}: broker {self.app.redacted_url} keeps no job states and no results; "
                f"give App(url, results=...) a result store (e.g. results='redis://...') to track status and results"
            )
        record = self._record()
        if record is not None and record.status.finished:
            return record.status
        from queuekit.control import cancel_requested

        if cancel_requested(self.app, self.id):  # flagged; the worker that settles it stores `cancelled`
            return JobStatus.CANCELLED
        if record is not None and reporter is None:
            return record.status  # pending: the enqueue record on a broker without job states
        if reporter is None:
            return JobStatus.UNKNOWN
        state = reporter.state(self.id)
        if state is not None:
            return state
        if self.app.results is None:
            raise ResultUnavailable(
                f"job {self.id} is not held by {self.app.redacted_url}: it finished or never existed, and no "
                "result store can tell which; give App(url, results=...) a result store"
            )
        final = self.outcome()  # it may have finished since: the outcome is stored before the ack
        return final.status if final is not None else JobStatus.UNKNOWN

    def cancel(self) -> bool:
        """Cancel the job: True if it will not run or was flagged while running; False if it already finished.

        A waiting job is deleted where the broker can (capability ``remove``) and never runs;
        otherwise workers learn of the flag within half a second: a job not yet started is
        settled unrun, a running one sees ``current_job().cancelled``. Either way its status
        becomes ``cancelled`` and it is not retried. See :mod:`queuekit.control`.
        """
        from queuekit.control import cancel

        return cancel(self.app, self.id)

    def progress(self) -> Progress | None:
        """What the job last reported with ``current_job().progress(...)``; after it finished, its last value."""
        from queuekit.control import read_progress

        return read_progress(self.app, self.id)

    def result(self, timeout: float | None = None, poll: float = 0.02) -> R:
        """Wait for the job to finish and return its result.

        Raises :class:`JobFailed` if it failed or was dead-lettered, ``TimeoutError``
        if it has not finished within ``timeout`` seconds (forever when None), and
        :class:`ResultUnavailable`, naming the fix, when no result store is configured.
        """
        if self.app.results is None:
            raise ResultUnavailable(
                f"job {self.id}: broker {self.app.redacted_url} keeps no results; "
                f"give App(url, results=...) a result store (e.g. results='redis://...') to track status and results"
            )
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = poll
        while True:
            found = self.outcome()
            if found is not None:
                return self._unwrap(found)
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"job {self.id} did not finish within {timeout:g} s{self._waiting()}")
            pause = delay if deadline is None else min(delay, max(deadline - time.monotonic(), 0))
            time.sleep(pause)
            delay = min(delay * 1.5, 0.5)

    def _waiting(self) -> str:
        """Where an unfinished job stands, for the timeout message: a job nobody ran names the worker."""
        try:
            status = self.status()
        except QueuekitError:
            return ""
        if status in (JobStatus.QUEUED, JobStatus.PENDING):
            return (f" (still {status.value}: is a worker running for this app? e.g. queuekit worker "
                    "myapp.tasks:app, or app.worker().start() in this process)")
        return f" (status {status.value})"

    async def aresult(self, timeout: float | None = None) -> R:
        """Async form of :meth:`result`; waits in a thread so the loop stays free."""
        return await asyncio.to_thread(self.result, timeout)

    def _unwrap(self, outcome: Outcome) -> R:
        if outcome.status is JobStatus.SUCCEEDED:
            return cast(R, outcome.result)
        raise JobFailed(self.id, outcome.status.value, outcome.error or "no error recorded")
