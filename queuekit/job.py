"""Job handles: what the producer gets back, to ask for status and result."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Generic, TypeVar, cast

from queuekit.broker import JobStatus, Outcome, StateReporter
from queuekit.errors import JobFailed, ResultUnavailable

if TYPE_CHECKING:
    from queuekit.app import App

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
        store = self.app.results
        return None if store is None else store.load_outcome(self.id)

    def status(self) -> JobStatus:
        """queued, running, succeeded, failed or dead.

        The result store answers for finished jobs; the broker, where it declares
        ``job_state``, for unfinished ones. A job neither knows reads as queued.
        """
        found = self.outcome()
        if found is not None:
            return found.status
        broker = self.app.broker
        if broker.capabilities.job_state and isinstance(broker, StateReporter):
            state = broker.state(self.id)
            if state is not None:
                return state
        return JobStatus.QUEUED

    def result(self, timeout: float | None = None, poll: float = 0.02) -> R:
        """Wait for the job to finish and return its result.

        Raises :class:`JobFailed` if it failed or was dead-lettered and ``TimeoutError``
        if it has not finished within ``timeout`` seconds (forever when None).
        """
        if self.app.results is None:
            raise ResultUnavailable(
                f"broker {self.app.redacted_url} keeps no results; configure App(..., results=URL)"
            )
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = poll
        while True:
            found = self.outcome()
            if found is not None:
                return self._unwrap(found)
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"job {self.id} did not finish within {timeout} s")
            pause = delay if deadline is None else min(delay, max(deadline - time.monotonic(), 0))
            time.sleep(pause)
            delay = min(delay * 1.5, 0.5)

    async def aresult(self, timeout: float | None = None) -> R:
        """Async form of :meth:`result`; waits in a thread so the loop stays free."""
        return await asyncio.to_thread(self.result, timeout)

    def _unwrap(self, outcome: Outcome) -> R:
        if outcome.status is JobStatus.SUCCEEDED:
            return cast(R, outcome.result)
        raise JobFailed(self.id, outcome.status.value, outcome.error or "no error recorded")
