"""Outcome records as JSON bytes, for result stores that keep bytes."""

from __future__ import annotations

import json
from typing import Any

from queuekit.broker import JobStatus, Outcome
from queuekit.errors import MalformedMessage


def outcome_to_bytes(outcome: Outcome) -> bytes:
    """Serialize an outcome; its result must already be JSON-compatible."""
    document: dict[str, Any] = {
        "id": outcome.job_id,
        "status": outcome.status.value,
        "result": outcome.result,
        "error": outcome.error,
        "traceback": outcome.traceback,
        "attempts": outcome.attempts,
        "finished_at": outcome.finished_at,
        "extra": dict(outcome.extra),
    }
    return json.dumps(document, separators=(",", ":")).encode()


def outcome_from_bytes(raw: bytes | str) -> Outcome:
    """Parse what :func:`outcome_to_bytes` wrote."""
    try:
        document = json.loads(raw)
        return Outcome(
            job_id=document["id"],
            status=JobStatus(document["status"]),
            result=document.get("result"),
            error=document.get("error"),
            traceback=document.get("traceback"),
            attempts=int(document.get("attempts", 0)),
            finished_at=float(document.get("finished_at", 0.0)),
            extra=document.get("extra") or {},
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise MalformedMessage(f"stored outcome is unreadable: {exc}") from None
