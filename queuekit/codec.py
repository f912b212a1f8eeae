"""The codec seam: every envelope and stored outcome becomes bytes, and back, through a :class:`Codec`.

Two codecs write the same JSON and accept exactly the same values (:mod:`queuekit.json_values`):

- ``json`` (:mod:`queuekit.codec_json`): the standard library; the reference, always available.
- ``msgspec`` (:mod:`queuekit.codec_msgspec`): typed msgspec structs, several times faster;
  installed with ``pip install "queuekit[fast]"``.

``App(codec=...)`` picks one by name (or takes any object with the :class:`Codec` methods);
otherwise ``QUEUEKIT_CODEC`` does (``json``, ``msgspec`` or ``auto``); ``auto``, the default,
takes msgspec when it is installed. Producers and workers on different codecs interoperate.
"""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from queuekit.errors import ConfigurationError

if TYPE_CHECKING:
    from queuekit.broker import Outcome
    from queuekit.message import Message, Signer

ENV_CODEC = "QUEUEKIT_CODEC"
NAMES = ("auto", "json", "msgspec")


@runtime_checkable
class Codec(Protocol):
    """Turns envelopes and outcomes into JSON bytes and back, under one contract.

    ``encode`` raises :class:`~queuekit.errors.SerializationError` or
    :class:`~queuekit.errors.MessageTooLarge` before any I/O; ``decode`` raises
    :class:`~queuekit.errors.MalformedMessage` (or its subclass
    :class:`~queuekit.errors.SignatureError`) naming the defect.
    """

    name: str

    def encode(self, message: Message, *, max_size: int, signer: Signer | None = None) -> bytes:
        """The envelope of ``message`` as bytes, signed if ``signer`` is given."""
        ...

    def decode(self, body: bytes, *, max_size: int, signer: Signer | None = None) -> Message:
        """The message a body holds, checked against the schema (and the signature, with ``signer``)."""
        ...

    def encode_outcome(self, outcome: Outcome) -> bytes:
        """An outcome record as bytes, for result stores that keep bytes."""
        ...

    def decode_outcome(self, raw: bytes | str) -> Outcome:
        """The outcome :meth:`encode_outcome` wrote."""
        ...


def resolve_codec(choice: str | Codec | None = None) -> Codec:
    """The codec an app uses: ``choice`` (a name or a codec), else ``QUEUEKIT_CODEC``, else ``auto``."""
    if choice is None:
        choice = os.environ.get(ENV_CODEC) or "auto"
    if isinstance(choice, str):
        return codec_named(choice)
    if not isinstance(choice, Codec):
        raise ConfigurationError(
            f"codec must be one of {', '.join(NAMES)} or an object with encode, decode, encode_outcome and "
            f"decode_outcome, got {type(choice).__name__}"
        )
    return choice


@functools.cache
def codec_named(name: str) -> Codec:
    """The codec called ``name`` (one instance per process); ``auto``: msgspec if installed, else json."""
    if name == "json":
        from queuekit.codec_json import JsonCodec

        return JsonCodec()
    if name == "auto":
        try:
            return codec_named("msgspec")
        except ConfigurationError:
            return codec_named("json")
    if name == "msgspec":
        try:
            from queuekit.codec_msgspec import MsgspecCodec
        except ImportError:
            raise ConfigurationError(
                'codec "msgspec" needs msgspec, which is not installed: pip install "queuekit[fast]", '
                f"or set {ENV_CODEC}=json"
            ) from None
        return MsgspecCodec()
    raise ConfigurationError(f"unknown codec {name[:40]!r}: use one of {', '.join(NAMES)} (in {ENV_CODEC} or codec=)")


@functools.cache
def default_codec() -> Codec:
    """The codec chosen by ``QUEUEKIT_CODEC`` (``auto`` if unset): what code without an app encodes with.

    Result stores encode outcomes with it. The variable is read on first use (an app reads
    it when created); ``default_codec.cache_clear()`` makes the next call read it again.
    """
    return resolve_codec(None)
