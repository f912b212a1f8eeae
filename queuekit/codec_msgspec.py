"""The fast codec, on msgspec's typed structs (``pip install "queuekit[fast]"``).

It writes the same JSON as the reference codec (:mod:`queuekit.codec_json`) and accepts
exactly what it accepts: the values are checked by the same rules
(:mod:`queuekit.json_values`) before msgspec sees them, so msgspec's own extensions
(``datetime``, ``UUID``, ``bytes``, sets, ``NaN`` written as ``null``) never reach the
wire. An unsigned envelope holding only the known fields is parsed straight into a
typed struct; any other body (an unknown field, which msgspec would skip unread, or a
defect) is read by the reference codec, so both accept the same bodies and refuse the
rest in the same words. Signatures cover the reference codec's canonical bytes
(:func:`queuekit.message.canonical`), so either codec verifies what the other signed.
"""

from __future__ import annotations

from typing import Any

import msgspec

from queuekit.broker import JobStatus, Outcome
from queuekit.codec_json import JsonCodec, check_outcome, envelope_parts
from queuekit.errors import MalformedMessage
from queuekit.json_values import within_depth
from queuekit.message import (
    DEFAULT_MAX_SIZE,
    VERSION,
    Message,
    Signer,
    check_message,
    checked,
    not_serializable,
    sign,
    too_large,
    validate,
    verify,
)


class _Envelope(msgspec.Struct, gc=False, forbid_unknown_fields=True):
    """The envelope's fields in wire order, with the reference schema's types and defaults.

    Unknown fields are refused here (the body then goes to the reference codec): msgspec
    skips them without converting their numbers, so ``1e400`` there would pass unseen.
    """

    v: int
    id: str
    task: str
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    queue: str = "default"
    priority: int = 0
    max_attempts: int = 1
    timeout: float | None = None
    key: str | None = None
    created_at: float = 0.0
    headers: dict[str, Any] = {}


class _Outcome(msgspec.Struct, gc=False):
    id: str
    status: str
    result: Any = None
    error: str | None = None
    traceback: str | None = None
    attempts: int = 0
    finished_at: float = 0.0
    extra: dict[str, Any] = {}


_FAILURES = (msgspec.DecodeError, msgspec.ValidationError, RecursionError)
_reference = JsonCodec()


class MsgspecCodec:
    """Envelopes and outcomes as JSON, with msgspec."""

    name = "msgspec"

    def __init__(self) -> None:
        self._encode = msgspec.json.Encoder().encode
        self._decode_envelope = msgspec.json.Decoder(_Envelope).decode
        self._decode_outcome = msgspec.json.Decoder(_Outcome).decode
        self._decode_plain = msgspec.json.Decoder().decode

    def __repr__(self) -> str:
        return "<MsgspecCodec>"

    def encode(self, message: Message, *, max_size: int = DEFAULT_MAX_SIZE, signer: Signer | None = None) -> bytes:
        """Serialize a message; raise before any I/O if it cannot be sent."""
        check_message(message)
        try:
            if signer is None:
                kwargs, headers = message.kwargs, message.headers
                body = self._encode(_Envelope(
                    VERSION, message.id, message.task, message.args,  # type: ignore[arg-type]  # a tuple is written as a list
                    kwargs if type(kwargs) is dict else dict(kwargs), message.queue, message.priority,
                    message.max_attempts, message.timeout, message.key, message.created_at,
                    headers if type(headers) is dict else dict(headers),
                ))
            else:
                document = message.to_json()
                sign(document, signer)
                body = self._encode(document)
        except (TypeError, ValueError, RecursionError) as exc:  # a lone surrogate, an int past Python's text limit
            raise not_serializable(message, exc) from None
        if len(body) > max_size:
            raise too_large(message, len(body), max_size)
        return body

    def decode(self, body: bytes, *, max_size: int = DEFAULT_MAX_SIZE, signer: Signer | None = None) -> Message:
        """Parse and validate a body; raise :class:`MalformedMessage` naming the defect."""
        if len(body) > max_size:
            raise MalformedMessage(f"body of {len(body)} bytes exceeds the limit of {max_size}")
        if signer is None:
            try:
                e = self._decode_envelope(body)
            except _FAILURES:
                return _reference.decode(body, max_size=max_size)
            if not within_depth(body, e.args, e.kwargs, e.headers):
                return _reference.decode(body, max_size=max_size)
            return checked(
                e.v, e.id, e.task, e.args, e.kwargs, e.queue, e.priority, e.max_attempts, e.timeout, e.key,
                e.created_at, e.headers,
            )
        try:
            document = self._decode_plain(body)
        except _FAILURES:
            return _reference.decode(body, max_size=max_size, signer=signer)
        if type(document) is not dict or not within_depth(body, *envelope_parts(document)):
            return _reference.decode(body, max_size=max_size, signer=signer)
        verify(document, signer)
        return validate(document)

    def encode_outcome(self, outcome: Outcome) -> bytes:
        """Serialize an outcome; its result and extra must be JSON values."""
        check_outcome(outcome)
        extra = outcome.extra
        return self._encode(_Outcome(
            outcome.job_id, outcome.status.value, outcome.result, outcome.error, outcome.traceback,
            outcome.attempts, outcome.finished_at, extra if type(extra) is dict else dict(extra),
        ))

    def decode_outcome(self, raw: bytes | str) -> Outcome:
        """Parse what :meth:`encode_outcome` wrote (an unusual record through the reference codec)."""
        try:
            o = self._decode_outcome(raw)
            status = JobStatus(o.status)
        except (*_FAILURES, ValueError):
            return _reference.decode_outcome(raw)
        return Outcome(o.id, status, o.result, o.error, o.traceback, o.attempts, o.finished_at, o.extra)

