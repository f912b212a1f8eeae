"""The message envelope: one versioned JSON format for every backend.

Decoding yields plain JSON types only (no class tags, nothing imported), rejects
anything that does not match the schema with :class:`MalformedMessage`, and verifies
the HMAC signature before anything else looks at the content. The bytes are written and
read by a codec (:mod:`queuekit.codec`); this module holds what every codec shares: the
schema, the checks, and the signature's canonical form.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from queuekit.codec import default_codec
from queuekit.errors import MalformedMessage, MessageTooLarge, SerializationError, SignatureError
from queuekit.json_values import check_values

VERSION = 1
DEFAULT_MAX_SIZE = 1024 * 1024
RESERVED_PREFIX = "qk."  # header names queuekit itself uses (workflows: ``qk.wf``); their values may be JSON
MAX_HEADERS_SIZE = 8 * 1024  # bytes of the other headers' names and values together

_canonical = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False
).encode


def new_id() -> str:
    """A fresh job id: 32 hex digits, unique without coordination, in creation order.

    The first 12 digits are the creation time in milliseconds, the other 20 random (80
    bits, as in a version 7 UUID). Ids made close in time sort close together, so a B-tree
    index on them (the SQL backends' primary key) takes new ids at its right edge and a
    claim of the oldest jobs touches neighbouring pages, instead of random ones all over an
    index that no longer fits in memory at a million jobs.
    """
    return f"{time.time_ns() // 1_000_000:012x}{_randomness.next_hex20()}"


_POOL = 4000  # random bytes read at once: 400 ids per getrandom() call


def _hex20_slices() -> Iterator[str]:
    """Endless 20-hex-digit (80-bit) slices of ``os.urandom``, read a few thousand bytes at a time.

    ``os.urandom`` releases the GIL for its system call; once per id, each of several threads
    calling ``delay()`` then waited for the GIL again behind the others and the I/O thread.
    """
    while True:
        pool = os.urandom(_POOL).hex()
        for at in range(0, len(pool), 20):
            yield pool[at:at + 20]


class _Randomness(threading.local):
    """Each thread's own supply of slices, so that threads never share one."""

    def __init__(self) -> None:
        self.next_hex20: Callable[[], str] = _hex20_slices().__next__


_randomness = _Randomness()


def _forked() -> None:
    """In a forked child: drop the parent's unused bytes (only the forking thread lives on there)."""
    _randomness.next_hex20 = _hex20_slices().__next__


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forked)


@dataclass(frozen=True, init=False)
class Message:
    """A job as the producer wrote it. ``max_attempts`` = retries + 1.

    Without ``id`` or ``created_at`` a message gets a fresh id (:func:`new_id`) and the
    current time.
    """

    task: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    queue: str = "default"
    priority: int = 0
    delay: float = 0.0
    max_attempts: int = 1
    timeout: float | None = None
    key: str | None = None
    id: str = field(default_factory=new_id)
    created_at: float = field(default_factory=time.time)
    headers: Mapping[str, Any] = field(default_factory=dict)

    def __init__(
        self, task: str, args: tuple[Any, ...] = (), kwargs: Mapping[str, Any] | None = None,
        queue: str = "default", priority: int = 0, delay: float = 0.0, max_attempts: int = 1,
        timeout: float | None = None, key: str | None = None, id: str | None = None,
        created_at: float | None = None, headers: Mapping[str, Any] | None = None,
    ) -> None:
        # One update of the instance's dict: the generated frozen __init__ sets the twelve
        # fields one object.__setattr__ at a time, four times slower, on every enqueue and
        # every delivery. The instance stays frozen.
        self.__dict__.update(
            task=task, args=args, kwargs={} if kwargs is None else kwargs, queue=queue, priority=priority,
            delay=delay, max_attempts=max_attempts, timeout=timeout, key=key, id=new_id() if id is None else id,
            created_at=time.time() if created_at is None else created_at, headers={} if headers is None else headers,
        )

    def to_json(self) -> dict[str, Any]:
        """The envelope as a plain mapping (version tag included)."""
        return {
            "v": VERSION,
            "id": self.id,
            "task": self.task,
            "args": list(self.args),
            "kwargs": dict(self.kwargs),
            "queue": self.queue,
            "priority": self.priority,
            "max_attempts": self.max_attempts,
            "timeout": self.timeout,
            "key": self.key,
            "created_at": self.created_at,
            "headers": dict(self.headers),
        }


@dataclass(frozen=True)
class Signer:
    """HMAC-SHA256 signing with key ids, so keys can rotate.

    ``keys`` maps key id to secret; new messages are signed with ``current``; any
    listed key verifies.
    """

    keys: Mapping[str, bytes]
    current: str

    @classmethod
    def from_secret(cls, secret: str | bytes, key_id: str = "k1") -> Signer:
        """A signer with a single key."""
        raw = secret.encode() if isinstance(secret, str) else secret
        return cls({key_id: raw}, key_id)

    def mac(self, key_id: str, payload: bytes) -> str:
        """Hex HMAC of ``payload`` under the key ``key_id``."""
        return hmac.new(self.keys[key_id], payload, hashlib.sha256).hexdigest()


def check_headers(headers: Mapping[str, Any]) -> None:
    """Raise :class:`SerializationError` unless every header outside ``qk.`` is a string pair, together small.

    Middleware and callers may add headers (trace context, tenant ids); they travel in
    the signed body, so they must stay small: at most :data:`MAX_HEADERS_SIZE` bytes.
    """
    size = 0
    for name, value in headers.items():
        if type(name) is not str:
            raise SerializationError(f"header name {name!r} is not a string; use string names and values")
        if name.startswith(RESERVED_PREFIX):
            continue
        if type(value) is not str:
            raise SerializationError(
                f"header {name[:60]!r} is a {type(value).__name__}, not a string; encode it as a string (e.g. JSON)"
            )
        size += len(name.encode()) + len(value.encode())
    if size > MAX_HEADERS_SIZE:
        raise MessageTooLarge(
            f"message headers are {size} bytes, over the limit of {MAX_HEADERS_SIZE}; put large data in the arguments"
        )


def check_message(message: Message) -> None:
    """Raise :class:`SerializationError` unless every argument and header is a JSON value (:mod:`queuekit.json_values`).

    Every codec calls this before encoding, so all of them refuse the same messages.
    """
    where = f"an argument of task {message.task!r}"
    check_values(message.args, where)
    kwargs = message.kwargs
    if kwargs:
        for name in kwargs:
            if type(name) is not str:
                raise SerializationError(f"keyword argument name {name!r} of task {message.task!r} is not a string")
        check_values(kwargs.values(), where)
    if message.headers:
        check_values(message.headers.values(), f"a header of task {message.task!r}")


def not_serializable(message: Message, exc: BaseException) -> SerializationError:
    """The error for arguments a codec's encoder refused (a lone surrogate, an int past Python's text limit)."""
    return SerializationError(f"arguments of task {message.task!r} are not JSON-serializable: {exc}")


def too_large(message: Message, size: int, max_size: int) -> MessageTooLarge:
    """The error for an encoded message over the size limit."""
    return MessageTooLarge(
        f"message for task {message.task!r} is {size} bytes, over the limit of "
        f"{max_size}; pass a reference (a key or URL) instead of the data, or raise "
        "max_message_size"
    )


def canonical(document: Mapping[str, Any]) -> bytes:
    """The bytes a signature covers: sorted keys, no spaces, written by the standard library.

    Every codec signs and verifies these same bytes (the codecs may spell a float
    differently, ``1e+16`` or ``1e16``), so a message signed by one verifies in the other.
    """
    return _canonical(document).encode()


def sign(document: dict[str, Any], signer: Signer) -> None:
    """Add the ``sig`` field to an envelope document (:meth:`Message.to_json`)."""
    document["sig"] = {"kid": signer.current, "mac": signer.mac(signer.current, canonical(document))}


def encode(message: Message, *, max_size: int = DEFAULT_MAX_SIZE, signer: Signer | None = None) -> bytes:
    """Serialize a message with the default codec (:func:`queuekit.codec.default_codec`); raise before any I/O."""
    return default_codec().encode(message, max_size=max_size, signer=signer)


def decode(body: bytes, *, max_size: int = DEFAULT_MAX_SIZE, signer: Signer | None = None) -> Message:
    """Parse and validate a body with the default codec; raise :class:`MalformedMessage` naming the defect."""
    return default_codec().decode(body, max_size=max_size, signer=signer)


def verify(document: dict[str, Any], signer: Signer) -> None:
    """Check and remove the ``sig`` field of a decoded envelope; raise :class:`SignatureError` if it does not match."""
    sig = document.pop("sig", None)
    if not isinstance(sig, dict):
        raise SignatureError("message is not signed")
    kid, mac = sig.get("kid"), sig.get("mac")
    if not isinstance(kid, str) or kid not in signer.keys:
        raise SignatureError(f"unknown signing key id {str(kid)[:40]!r}")
    if not isinstance(mac, str):
        raise SignatureError("signature is not a string")
    try:
        expected = signer.mac(kid, canonical(document))
    except (TypeError, ValueError) as exc:
        raise SignatureError(f"cannot canonicalize body: {exc}") from None
    if not hmac.compare_digest(expected, mac):
        raise SignatureError("signature does not match")


_MISSING: Any = object()
# (field, allowed exact types, default); exact types so that a boolean is never an int.
_SCHEMA: tuple[tuple[str, tuple[type, ...], Any], ...] = (
    ("v", (int,), _MISSING),
    ("id", (str,), _MISSING),
    ("task", (str,), _MISSING),
    ("args", (list,), ()),
    ("kwargs", (dict,), {}),
    ("queue", (str,), "default"),
    ("priority", (int,), 0),
    ("max_attempts", (int,), 1),
    ("timeout", (int, float, type(None)), None),
    ("key", (str, type(None)), None),
    ("created_at", (int, float), 0.0),
    ("headers", (dict,), {}),
)


def _reject(name: str, kinds: tuple[type, ...], value: Any) -> MalformedMessage:
    if value is _MISSING:
        return MalformedMessage(f"field {name!r} is missing")
    names = " or ".join("null" if k is type(None) else k.__name__ for k in kinds)
    return MalformedMessage(f"field {name!r} must be {names}, got {type(value).__name__}")


_FIELDS = tuple(name for name, _, _ in _SCHEMA)
_NUMBER = (int, float)


def validate(document: Mapping[str, Any]) -> Message:
    """The message a decoded envelope document holds; raise :class:`MalformedMessage` naming the first wrong field."""
    try:
        values = [document[name] for name in _FIELDS]
    except KeyError:
        values = _validate_slowly(document)
    else:
        v, job_id, task, args, kwargs, queue, priority, attempts, timeout, key, created, headers = values
        if not (
            type(v) is int and type(job_id) is str and type(task) is str and type(args) is list
            and type(kwargs) is dict and type(queue) is str and type(priority) is int
            and type(attempts) is int and (timeout is None or type(timeout) in _NUMBER)
            and (key is None or type(key) is str) and type(created) in _NUMBER and type(headers) is dict
        ):
            values = _validate_slowly(document)
    version, job_id, task, args, kwargs, queue, priority, max_attempts, timeout, key, created, headers = values
    try:
        timeout, created = None if timeout is None else float(timeout), float(created)
    except OverflowError:
        raise MalformedMessage("field 'timeout' or 'created_at' is too large for a float") from None
    return checked(version, job_id, task, args, kwargs, queue, priority, max_attempts, timeout, key, created, headers)


def checked(
    version: int, job_id: str, task: str, args: list[Any], kwargs: dict[str, Any], queue: str, priority: int,
    max_attempts: int, timeout: float | None, key: str | None, created: float, headers: dict[str, Any],
) -> Message:
    """The message from envelope fields of the right types, once the rules across fields hold."""
    if version != VERSION:
        raise MalformedMessage(f"envelope version {version} is not supported (this worker reads {VERSION})")
    if max_attempts < 1:
        raise MalformedMessage("field 'max_attempts' must be at least 1")
    if created - created != 0.0 or (timeout is not None and timeout - timeout != 0.0):
        raise MalformedMessage("field 'timeout' or 'created_at' is not a finite number")
    return Message(
        task, tuple(args), kwargs, queue, priority, 0.0, max_attempts, timeout, key, job_id, created, headers
    )


def _validate_slowly(document: Mapping[str, Any]) -> list[Any]:
    """Field by field, filling defaults and naming the first field that is wrong."""
    get = document.get
    values = []
    for name, kinds, default in _SCHEMA:
        value = get(name, default)
        if type(value) not in kinds and (value is not default or value is _MISSING):
            raise _reject(name, kinds, value)
        values.append(value)
    return values


def describe(body: bytes) -> str:
    """A short, safe description of a body for logs: its size and a hash, never its content."""
    return f"{len(body)} bytes sha256:{hashlib.sha256(body).hexdigest()[:16]}"
