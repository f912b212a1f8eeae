"""What the dashboard shows, read only through the Broker protocol and the result store.

Every method returns plain JSON types (the API serves them as they are, the templates
render them escaped). A capability the broker does not declare reads as ``None`` with a
note, never as an error: the page says "not available on this broker".
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from queuekit.app import App
from queuekit.broker import Broker, DeadLetter, JobBrowser, JobStatus, QueueStats, WaitingJob
from queuekit.errors import MalformedMessage, QueuekitError
from queuekit.message import decode, describe
from queuekit.schedules import schedule_states
from queuekit.worker import default_queues
from queuekit.workers import live_workers

ARGS_SHOWN = 300  # characters of a job's arguments shown in a list
RESULT_SHOWN = 4000  # characters of a result shown on the job page
NOT_AVAILABLE = "not available on this broker"

Row = dict[str, Any]


@runtime_checkable
class ResetRecords(Protocol):
    """A broker that notices lost state (a server restart without persistence) lists it here."""

    @property
    def resets(self) -> Sequence[Any]:
        """Records with ``queue``, ``detected_at`` and, where known, ``last_known_backlog``."""
        ...


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def as_json_text(value: Any, limit: int) -> str:
    """A value as compact JSON text (anything JSON cannot hold as its ``repr``), clipped."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=repr)
    except ValueError:
        text = repr(value)
    return clip(text, limit)


def created_at(job_id: str) -> float | None:
    """When a queuekit job id was made (its first 12 hex digits are milliseconds); None for other ids."""
    try:
        stamp = int(job_id[:12], 16) / 1000 if len(job_id) == 32 else None
    except ValueError:
        return None
    return stamp if stamp is not None and 1e9 < stamp < time.time() + 86400 else None


def body_fields(body: bytes) -> Row:
    """Task name, arguments (clipped JSON text) and creation time of a message body.

    The signature is not checked: the dashboard shows what is stored, it runs nothing.
    """
    try:
        message = decode(body, max_size=max(len(body), 1))
    except MalformedMessage as exc:
        return {"task": None, "args": f"(unreadable body, {describe(body)}: {exc})", "created_at": None}
    shown = {"args": list(message.args), "kwargs": dict(message.kwargs)} if message.kwargs else list(message.args)
    return {"task": message.task, "args": as_json_text(shown, ARGS_SHOWN), "created_at": message.created_at}


def _recorded(app: App) -> Sequence[Any]:
    """The state-reset records workers left in the shared state (until ``queuekit status --ack-reset``)."""
    from queuekit.resets import records

    return records(app)


def _record(item: Any) -> Row:
    """A dataclass record as a JSON-ready mapping (tuples as lists)."""
    fields = dataclasses.asdict(item) if dataclasses.is_dataclass(item) and not isinstance(item, type) else dict(item)
    return {key: list(value) if isinstance(value, tuple) else value for key, value in fields.items()}


class Reader:
    """The dashboard's one door to the broker and the result store of an App."""

    def __init__(self, app: App) -> None:
        self.app = app

    @property
    def broker(self) -> Broker:
        """The app's broker (opened on first use)."""
        return self.app.broker

    def broker_info(self) -> Row:
        """The broker's redacted URL, its declared capabilities and durability, and state-reset records."""
        broker = self.broker
        capabilities = broker.capabilities.as_dict()
        seen = [*(broker.resets if isinstance(broker, ResetRecords) else ()), *_recorded(self.app)]
        resets = [
            {"queue": str(getattr(r, "queue", "?")), "detected_at": getattr(r, "detected_at", None),
             "last_known_backlog": getattr(r, "last_known_backlog", None)}
            for r in seen
        ]
        return {
            "url": self.app.redacted_url,
            "backend": type(broker).__name__,
            "durability": capabilities.pop("durability"),
            "capabilities": capabilities,
            "results": self.app.results is not None,
            "resets": resets,
        }

    def queues(self) -> dict[str, QueueStats]:
        """Depth per queue: every queue the broker lists, plus the app's own (a broker may not list them)."""
        found = dict(self.broker.stats(None))
        named = [name for name in default_queues(self.app) if name not in found] if self.app.tasks else []
        if named:
            found.update(self.broker.stats(named))
            for name in named:
                found.setdefault(name, QueueStats())
        return dict(sorted(found.items()))

    def waiting(self, queue: str, *, delayed: bool, limit: int = 50) -> list[Row] | None:
        """The first jobs waiting in ``queue`` (ready in reserve order, or delayed soonest due).

        None when the broker does not declare ``browse``.
        """
        broker = self.broker
        if not (broker.capabilities.browse and isinstance(broker, JobBrowser)):
            return None
        return [self._waiting_row(job) for job in broker.waiting(queue, delayed=delayed, limit=limit)]

    @staticmethod
    def _waiting_row(job: WaitingJob) -> Row:
        return {"id": job.id, "priority": job.priority, "attempts": job.attempts, "due": job.due,
                **body_fields(job.body)}

    def dead(self, queue: str, limit: int = 100) -> list[Row]:
        """Dead letters of ``queue``, oldest first, with the error and traceback the result store kept."""
        return [self._dead_row(letter) for letter in self.broker.dead_letters(queue, limit)]

    def _dead_row(self, letter: DeadLetter) -> Row:
        outcome = self._outcome(letter.id)
        return {
            "id": letter.id, "reason": letter.reason, "attempts": letter.attempts, "dead_at": letter.dead_at,
            "error": outcome.get("error"), "traceback": outcome.get("traceback"), **body_fields(letter.body),
        }

    def _outcome(self, job_id: str) -> Row:
        store = self.app.results
        found = store.load_outcome(job_id) if store is not None else None
        if found is None or not found.status.finished:
            return {}
        return {"error": found.error, "traceback": found.traceback}

    def requeue(self, queue: str, ids: Sequence[str] | None) -> int:
        """Move dead letters of ``queue`` (all, or those ids) back to ready."""
        return self.broker.requeue_dead(queue, list(ids) if ids is not None else None)

    def purge_dead(self, queue: str) -> int:
        """Delete the dead letters of ``queue``."""
        return self.broker.purge_dead(queue)

    @property
    def shared_state(self) -> bool:
        """True when workers and this dashboard see the same shared state (heartbeats, cancel flags, progress)."""
        return self.app.state.where != "this process"

    def job(self, job_id: str) -> Row:
        """Status, attempts, times, result or error, and progress of one job."""
        job = self.app.job(job_id)
        row: Row = {"id": job_id, "created_at": created_at(job_id), "status": None, "note": None,
                    "attempts": None, "finished_at": None, "result": None, "error": None, "traceback": None,
                    "progress": None, "cancellable": False}
        try:
            status = job.status()
            outcome = job.outcome()
            progress = job.progress()
        except QueuekitError as exc:
            row["note"] = str(exc)
            return row
        row.update(status=status.value, cancellable=not status.finished and status is not JobStatus.UNKNOWN
                   and self.shared_state, progress=None if progress is None else progress.to_json())
        if outcome is not None:
            row.update(attempts=outcome.attempts, finished_at=outcome.finished_at, error=outcome.error,
                       traceback=outcome.traceback)
            if outcome.status is JobStatus.SUCCEEDED:
                row["result"] = as_json_text(outcome.result, RESULT_SHOWN)
        return row

    def cancel(self, job_id: str) -> bool:
        """Cancel a job (see :meth:`queuekit.Job.cancel`); False if it already finished or is unknown."""
        return self.app.job(job_id).cancel()

    def workers(self) -> tuple[list[Row] | None, str | None]:
        """Live workers from their heartbeats, or None and why not."""
        if not self.shared_state:
            return None, (f"worker heartbeats {NOT_AVAILABLE}: it keeps no shared state (capability key_value) "
                          "and no result store does; give the app a result store that does (SQL or Redis)")
        try:
            return [_record(info) for info in live_workers(self.app)], None
        except QueuekitError as exc:
            return None, f"worker heartbeats could not be read: {exc}"

    def schedules(self) -> tuple[list[Row] | None, str | None]:
        """The app's schedules with their next and last run, or None and why not."""
        if not self.app.schedules:
            return None, ("no schedules: they are declared in the app's code (app.periodic, app.schedule); "
                          "start the dashboard with the app, e.g. queuekit dashboard myapp.tasks:app")
        note = None if self.shared_state else (f"last runs are {NOT_AVAILABLE}: it keeps no shared state "
                                               "(capability key_value)")
        try:
            return [_record(state) for state in schedule_states(self.app)], note
        except QueuekitError as exc:
            return None, f"schedules could not be read: {exc}"

    def close(self) -> None:
        """Close the app's broker and result store."""
        self.app.close()


def stats_row(name: str, stats: QueueStats) -> Row:
    """One queue's depths as the API gives them."""
    return {"name": name, "ready": stats.ready, "delayed": stats.delayed, "in_flight": stats.in_flight,
            "dead": stats.dead}


def mapping_rows(found: Mapping[str, QueueStats]) -> list[Row]:
    """Every queue's depths, by name."""
    return [stats_row(name, stats) for name, stats in found.items()]
