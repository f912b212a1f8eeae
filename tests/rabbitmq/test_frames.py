"""The consumer connection's delivery fast path against pika's own frame decoding.

No server: frames are made with pika's encoders, read back by ``take_deliveries``, and
what it hands out must equal what pika's ``decode_frame`` and content assembly make of
the same bytes. What it does not take is left for pika's path, byte for byte.
"""

from __future__ import annotations

from typing import Any

import pika  # type: ignore[import-untyped]
import pytest
from pika import frame, spec
from pika.adapters.select_connection import IOLoop  # type: ignore[import-untyped]
from queuekit_rabbitmq.frames import take_deliveries
from queuekit_rabbitmq.io import _Connection, _KeepingChannel

FRAME_MAX = 131072


def deliver(channel: int, tag: int, body: bytes, *, redelivered: bool = False, frame_max: int = FRAME_MAX,
            **properties: Any) -> bytes:
    """The frames RabbitMQ sends for one delivery, as pika would encode them."""
    method = spec.Basic.Deliver(consumer_tag=f"ctag-{channel}", delivery_tag=tag, redelivered=redelivered,
                                exchange="", routing_key="jobs")
    props = spec.BasicProperties(**properties)
    parts = [frame.Method(channel, method).marshal(), frame.Header(channel, len(body), props).marshal()]
    room = frame_max - spec.FRAME_HEADER_SIZE - spec.FRAME_END_SIZE
    parts += [frame.Body(channel, body[at:at + room]).marshal() for at in range(0, len(body), room)]
    return b"".join(parts)


class Recorder:
    """A receiver per channel; records (channel, method, properties, body)."""

    def __init__(self, *channels: int) -> None:
        self.got: list[tuple[int, Any, Any, bytes]] = []
        self.receivers = {n: (lambda m, p, b, n=n: self.got.append((n, m, p, b))) for n in channels}


def pika_reads(buffer: bytes) -> list[tuple[int, Any, Any, bytes]]:
    """What pika's own path makes of ``buffer``: whole deliveries, in order."""
    out: list[tuple[int, Any, Any, bytes]] = []
    pending: dict[int, list[Any]] = {}
    while buffer:
        used, value = frame.decode_frame(buffer)
        assert value is not None
        buffer = buffer[used:]
        if isinstance(value, frame.Method):
            pending[value.channel_number] = [value.method, None, b"", 0]
        elif isinstance(value, frame.Header):
            pending[value.channel_number][1:4] = [value.properties, b"", value.body_size]
        elif isinstance(value, frame.Body):
            pending[value.channel_number][2] += value.fragment
        entry = pending.get(getattr(value, "channel_number", -1))
        if entry and entry[1] is not None and len(entry[2]) == entry[3]:
            out.append((value.channel_number, entry[0], entry[1], entry[2]))
            del pending[value.channel_number]
    return out


def same(a: tuple[int, Any, Any, bytes], b: tuple[int, Any, Any, bytes]) -> bool:
    return a[0] == b[0] and vars(a[1]) == vars(b[1]) and vars(a[2]) == vars(b[2]) and a[3] == b[3]


def test_a_run_of_deliveries_is_read_as_pika_reads_it() -> None:
    buffer = b"".join([
        deliver(1, 1, b'{"job": 1}', message_id="a", delivery_mode=2, headers={"x-qk-attempts": 2}),
        deliver(1, 2, b"", message_id="empty"),
        deliver(1, 3, b"x" * 300_000, priority=7, redelivered=True),  # three body frames
        deliver(2, 1, "é".encode() * 10, headers={"nested": {"list": [1, "two"]}}),
    ])
    recorder = Recorder(1, 2)
    assert take_deliveries(buffer, recorder.receivers) == (len(buffer), 3 + 2 + 5 + 3)
    expected = pika_reads(buffer)
    assert len(recorder.got) == len(expected) == 4
    assert all(same(a, b) for a, b in zip(recorder.got, expected, strict=True))
    assert recorder.got[2][1].redelivered is True and recorder.got[0][2].headers == {"x-qk-attempts": 2}


@pytest.mark.parametrize("cut", [1, 6, 7, 30, -1, -9])
def test_a_delivery_cut_by_the_end_of_the_buffer_is_left_whole(cut: int) -> None:
    first = deliver(1, 1, b"one", message_id="a")
    second = deliver(1, 2, b"two" * 50, message_id="b")
    partial = second[:cut] if cut > 0 else second[:len(second) + cut]
    recorder = Recorder(1)
    assert take_deliveries(first + partial, recorder.receivers) == (len(first), 3)
    assert [m.delivery_tag for _, m, _, _ in recorder.got] == [1]


def test_other_frames_stop_the_run_for_pikas_path() -> None:
    heartbeat = frame.Heartbeat().marshal()
    consume_ok = frame.Method(1, spec.Basic.ConsumeOk(consumer_tag="ctag-1")).marshal()
    one = deliver(1, 1, b"one")
    for stop in (heartbeat, consume_ok):
        recorder = Recorder(1)
        assert take_deliveries(one + stop + one, recorder.receivers) == (len(one), 3)
        assert take_deliveries(stop + one, recorder.receivers) == (0, 0)
        assert len(recorder.got) == 1


def test_a_channel_without_a_receiver_and_a_bad_frame_end_are_left_for_pika() -> None:
    one = deliver(1, 1, b"one")
    assert take_deliveries(one, Recorder(2).receivers) == (0, 0)
    broken = bytearray(one)
    broken[-1] = 0  # the body frame's end marker
    recorder = Recorder(1)
    assert take_deliveries(bytes(broken), recorder.receivers) == (0, 0)
    assert recorder.got == []


def test_the_connection_hands_out_every_delivery_in_order_across_both_paths() -> None:
    """Through ``_Connection._on_data_available``: fast runs, pika's path between them, split reads."""
    connection = _Connection(pika.ConnectionParameters(), custom_ioloop=IOLoop())
    channel = _KeepingChannel(connection, 1, lambda _channel: None)
    got: list[tuple[int, bytes]] = []
    channel._consumers["ctag-1"] = lambda _ch, method, _props, body: got.append((method.delivery_tag, body))
    connection._channels[1] = channel
    stream = b"".join([
        deliver(1, 1, b"a"), deliver(1, 2, b"b" * 200_000), frame.Heartbeat().marshal(), deliver(1, 3, b""),
        deliver(1, 4, b"d"),
    ])
    previous = 0
    for cut in (5, 40, 131_000, 131_100, len(stream) - 3, len(stream)):  # reads that end inside frames
        connection._on_data_available(stream[previous:cut])
        previous = cut
    assert got == [(1, b"a"), (2, b"b" * 200_000), (3, b""), (4, b"d")]
    assert connection._frame_buffer == b"" and connection.bytes_received == len(stream)
