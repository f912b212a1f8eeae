"""The reference codec, on the standard library's :mod:`json`: always available, defines the contract.

It refuses what JSON cannot carry faithfully (see :mod:`queuekit.json_values`), and on
reading it refuses what the standard parser would otherwise let through: ``NaN`` and
``Infinity``, numbers too large for a float, escaped lone surrogates.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

from queuekit.broker import JobStatus, Outcome
from queuekit.errors import MalformedMessage
from queuekit.json_values import check_value, within_depth
from queuekit.message import (
    DEFAULT_MAX_SIZE,
    Message,
    Signer,
    check_message,
    not_serializable,
    sign,
    too_large,
    validate,
    verify,
)

_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if value - value != 0.0:
        raise ValueError(f"number {text[:40]} is too large for a float")
    return value


_loads = json.JSONDecoder(parse_constant=_no_constant, parse_float=_finite).decode


class JsonCodec:
    """Envelopes and outcomes as JSON, with :mod:`json`."""

    name = "json"

    def __repr__(self) -> str:
        return "<JsonCodec>"

    def encode(self, message: Message, *, max_size: int = DEFAULT_MAX_SIZE, signer: Signer | None = None) -> bytes:
        """Serialize a message; raise before any I/O if it cannot be sent."""
        check_message(message)
        document = message.to_json()
        try:
            if signer is not None:
                sign(document, signer)
            body = _encode(document).encode()
        except (TypeError, ValueError, RecursionError) as exc:  # a lone surrogate, an int past Python's text limit
            raise not_serializable(message, exc) from None
        if len(body) > max_size:
            raise too_large(message, len(body), max_size)
        return body

    def decode(self, body: bytes, *, max_size: int = DEFAULT_MAX_SIZE, signer: Signer | None = None) -> Message:
        """Parse and validate a body; raise :class:`MalformedMessage` naming the defect."""
        document = parse_envelope(body, max_size)
        if signer is not None:
            verify(document, signer)
        return validate(document)

    def encode_outcome(self, outcome: Outcome) -> bytes:
        """Serialize an outcome; its result and extra must be JSON values."""
        return _encode(outcome_document(outcome)).encode()

    def decode_outcome(self, raw: bytes | str) -> Outcome:
        """Parse what :meth:`encode_outcome` wrote."""
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
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise MalformedMessage(f"stored outcome is unreadable: {str(exc)[:200]}") from None


def parse_envelope(body: bytes, max_size: int) -> dict[str, Any]:
    """The JSON object a body holds, within the contract; raise :class:`MalformedMessage` naming the defect."""
    if len(body) > max_size:
        raise MalformedMessage(f"body of {len(body)} bytes exceeds the limit of {max_size}")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedMessage("body is not UTF-8") from None
    try:
        document = _loads(text)
    except RecursionError:
        raise MalformedMessage("body is nested too deeply") from None
    except ValueError as exc:
        raise MalformedMessage(f"body is not valid JSON: {str(exc)[:120]}") from None
    if type(document) is not dict:
        raise MalformedMessage("body is not a JSON object")
    if (b"\\ud" in body or b"\\uD" in body) and _has_lone_surrogate(document):
        raise MalformedMessage("body is not valid JSON: a string holds a lone UTF-16 surrogate")
    if not within_depth(body, *envelope_parts(document)):
        raise MalformedMessage("body is nested too deeply")
    return document


def _has_lone_surrogate(document: dict[str, Any]) -> bool:
    try:
        _encode(document).encode()
    except UnicodeEncodeError:
        return True
    return False


def envelope_parts(document: dict[str, Any]) -> tuple[list[Any], dict[str, Any], dict[str, Any]]:
    """The arguments, keyword arguments and headers of a document, as far as they have the right types."""
    args, kwargs, headers = document.get("args"), document.get("kwargs"), document.get("headers")
    return (args if type(args) is list else [], kwargs if type(kwargs) is dict else {},
            headers if type(headers) is dict else {})


def check_outcome(outcome: Outcome) -> None:
    """Raise :class:`SerializationError` unless the outcome's result and extra are JSON values."""
    check_value(outcome.result, f"the result of job {outcome.job_id}")
    check_value(outcome.finished_at, f"the finish time of job {outcome.job_id}")
    if outcome.extra:
        check_value(outcome.extra if type(outcome.extra) is dict else dict(outcome.extra),
                    f"the extra of job {outcome.job_id}")


def outcome_document(outcome: Outcome) -> dict[str, Any]:
    """An outcome as the JSON object both codecs write (checked first)."""
    check_outcome(outcome)
    return {
        "id": outcome.job_id,
        "status": outcome.status.value,
        "result": outcome.result,
        "error": outcome.error,
        "traceback": outcome.traceback,
        "attempts": outcome.attempts,
        "finished_at": outcome.finished_at,
        "extra": dict(outcome.extra),
    }
