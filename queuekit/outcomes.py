"""Outcome records as JSON bytes, for result stores that keep bytes (through :mod:`queuekit.codec`)."""

from __future__ import annotations

from queuekit.broker import Outcome
from queuekit.codec import default_codec


def outcome_to_bytes(outcome: Outcome) -> bytes:
    """Serialize an outcome with the default codec; its result must be a JSON value (:mod:`queuekit.json_values`)."""
    return default_codec().encode_outcome(outcome)


def outcome_from_bytes(raw: bytes | str) -> Outcome:
    """Parse what :func:`outcome_to_bytes` wrote; raise :class:`~queuekit.errors.MalformedMessage` if unreadable."""
    return default_codec().decode_outcome(raw)
