"""Reading runs of whole deliveries off the consumer connection's receive buffer in one pass.

A delivery is three AMQP frames: ``basic.deliver``, a content header, and the body (one
frame at the default frame size). pika decodes each frame into an object, slices it off
the front of its buffer (a copy of the rest), asks its callback registry whether anyone
waits for it, routes it to the channel, and feeds the channel's content assembler; only
then is the consumer called. On a drain of no-op jobs that machinery was most of the
I/O thread's time. :func:`take_deliveries` reads the frames where they lie, decodes the
method and the properties with pika's own decoders, and calls the channel's
``deliver``; everything else (a heartbeat, a ``consume-ok``, a delivery cut by the end
of the buffer, anything unexpected) is left where it is for pika's usual path, which
also raises on a malformed frame.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from typing import Any

from pika import spec  # type: ignore[import-untyped]

_FRAME = struct.Struct(">BHI")  # frame type, channel number, payload size
_METHOD_ID = struct.Struct(">I")
_CONTENT = struct.Struct(">HHQ")  # class id, weight, body size
_HEAD = _FRAME.size
_END = spec.FRAME_END
_DELIVER = spec.Basic.Deliver.INDEX
_METHOD, _HEADER, _BODY = spec.FRAME_METHOD, spec.FRAME_HEADER, spec.FRAME_BODY

# channel number -> deliver(method, properties, body), for channels that take the fast path
Receivers = Mapping[int, Callable[[Any, Any, bytes], None]]


def take_deliveries(buffer: bytes, receivers: Receivers) -> tuple[int, int]:
    """Hand every whole delivery at the front of ``buffer`` to its channel's receiver.

    Returns ``(bytes consumed, frames consumed)``; ``(0, 0)`` when the first frame is
    not the start of a whole delivery on a receiving channel.
    """
    end = len(buffer)
    offset = frames = 0
    unpack_frame, unpack_method, unpack_content = _FRAME.unpack_from, _METHOD_ID.unpack_from, _CONTENT.unpack_from
    while end - offset > _HEAD:
        kind, channel, size = unpack_frame(buffer, offset)
        start = offset + _HEAD
        header_at = start + size + 1
        if (kind != _METHOD or header_at > end or buffer[header_at - 1] != _END or size < 4
                or unpack_method(buffer, start)[0] != _DELIVER):
            break
        receiver = receivers.get(channel)
        if receiver is None or end - header_at <= _HEAD:
            break
        kind, header_channel, header_size = unpack_frame(buffer, header_at)
        body_at = header_at + _HEAD + header_size + 1
        if kind != _HEADER or header_channel != channel or body_at > end or buffer[body_at - 1] != _END:
            break
        _class, _weight, body_size = unpack_content(buffer, header_at + _HEAD)
        taken, after, body = _body(buffer, body_at, end, channel, body_size)
        if after < 0:
            break
        method = spec.Basic.Deliver()
        method.decode(buffer, start + 4)
        properties = spec.BasicProperties()
        properties.decode(buffer, header_at + _HEAD + _CONTENT.size)
        offset = after
        frames += 2 + taken
        receiver(method, properties, body)
    return offset, frames


def _body(buffer: bytes, at: int, end: int, channel: int, size: int) -> tuple[int, int, bytes]:
    """(body frames, offset after them, the body) for ``size`` body bytes from ``at``; offset -1 if not all here."""
    parts: list[bytes] = []
    seen = 0
    while seen < size:
        if end - at <= _HEAD:
            return 0, -1, b""
        kind, body_channel, length = _FRAME.unpack_from(buffer, at)
        after = at + _HEAD + length + 1
        if kind != _BODY or body_channel != channel or after > end or buffer[after - 1] != _END:
            return 0, -1, b""
        parts.append(buffer[at + _HEAD:after - 1])
        seen += length
        at = after
    if seen != size:
        return 0, -1, b""
    return len(parts), at, parts[0] if len(parts) == 1 else b"".join(parts)
