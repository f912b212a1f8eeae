"""Raw baselines for Redis (redis-py) and RabbitMQ (pika)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from importlib import import_module
from typing import Any

from queuekit_bench.raw import require


class RedisQueue:
    """A Redis list: RPUSH; LMOVE to a processing list, then LREM (the reliable-queue pattern)."""

    def __init__(self, url: str, name: str) -> None:
        self.client = require("redis", "redis", "redis-py")
        redis: Any = import_module("redis")
        self._r = redis.Redis.from_url(url)
        self.key = f"qkbench:raw:{name}"
        self.processing = self.key + ":processing"
        self._r.delete(self.key, self.processing)

    def push(self, bodies: Sequence[bytes]) -> None:
        """One RPUSH per body (a job is one command), all in one pipeline: one round trip."""
        if len(bodies) == 1:
            self._r.rpush(self.key, bodies[0])
            return
        pipe = self._r.pipeline(transaction=False)
        for body in bodies:
            pipe.rpush(self.key, body)
        pipe.execute()

    def pop_ack(self, limit: int) -> int:
        """``limit`` LMOVEs in one pipeline, then one LREM per message taken, in a second pipeline."""
        if limit == 1:
            body = self._r.lmove(self.key, self.processing, "LEFT", "RIGHT")
            if body is not None:
                self._r.lrem(self.processing, 1, body)
            return 0 if body is None else 1
        pipe = self._r.pipeline(transaction=False)
        for _ in range(limit):
            pipe.lmove(self.key, self.processing, "LEFT", "RIGHT")
        bodies = [body for body in pipe.execute() if body is not None]
        if bodies:
            for body in bodies:
                pipe.lrem(self.processing, 1, body)
            pipe.execute()
        return len(bodies)

    def purge(self) -> None:
        """Delete both lists."""
        self._r.delete(self.key, self.processing)

    def close(self) -> None:
        """Delete both lists and disconnect."""
        try:
            self.purge()
        finally:
            self._r.close()


class AmqpQueue:
    """A durable queue of persistent messages: single publishes confirmed by the broker, batches in one
    AMQP transaction; a standing consumer whose deliveries are acked in batches."""

    def __init__(self, url: str, name: str) -> None:
        self.client = require("pika", "pika", "pika")
        self._pika: Any = import_module("pika")
        self._params = self._pika.URLParameters(url)
        self._conn = self._pika.BlockingConnection(self._params)
        self._ch = self._conn.channel()
        self._ch.confirm_delivery()
        self._ch.basic_qos(prefetch_count=64)
        self._tx = self._conn.channel()
        self._tx.tx_select()
        self.queue = f"qkbench.raw.{name}"
        self._ch.queue_declare(self.queue, durable=True)
        self._props = self._pika.BasicProperties(delivery_mode=2)
        self._consumer: Iterator[Any] | None = None

    def push(self, bodies: Sequence[bytes]) -> None:
        """One body: a confirmed publish. Several: one transaction, committed once."""
        if len(bodies) == 1:
            self._ch.basic_publish("", self.queue, bodies[0], self._props)
            return
        for body in bodies:
            self._tx.basic_publish("", self.queue, body, self._props)
        self._tx.tx_commit()

    def pop_ack(self, limit: int) -> int:
        """Take up to ``limit`` deliveries from a standing consumer, then ack them all at once."""
        if self._consumer is None:
            self._consumer = self._ch.consume(self.queue, inactivity_timeout=0.2)
        taken, last = 0, None
        while taken < limit:
            method, _props, _body = next(self._consumer)
            if method is None:
                break
            last = method.delivery_tag
            taken += 1
            if taken % 32 == 0:  # stay under the prefetch window
                self._ch.basic_ack(last, multiple=True)
                last = None
        if last is not None:
            self._ch.basic_ack(last, multiple=True)
        return taken

    def publish_window(self, body: bytes, count: int, window: int) -> float:
        """Seconds to publish ``count`` confirmed persistent messages on one channel, keeping
        ``window`` unconfirmed at a time: what this server's confirm cycle allows, with no client
        work beyond pika's own (an asynchronous connection of its own, closed at the end)."""
        pika = self._pika
        box: dict[str, Any] = {"sent": 0, "confirmed": 0, "started": 0.0, "ended": 0.0, "error": None}

        def send_more(channel: Any) -> None:
            while box["sent"] < count and box["sent"] - box["confirmed"] < window:
                channel.basic_publish("", self.queue, body, self._props)
                box["sent"] += 1

        def confirmed(frame: Any) -> None:
            method = frame.method
            if isinstance(method, pika.spec.Basic.Nack):
                box["error"] = f"the server refused message {method.delivery_tag}"
            box["confirmed"] = method.delivery_tag if method.multiple else box["confirmed"] + 1
            if box["confirmed"] >= count or box["error"]:
                box["ended"] = time.perf_counter()
                box["connection"].close()
            else:
                send_more(box["channel"])

        def ready(_frame: Any) -> None:
            box["started"] = time.perf_counter()
            send_more(box["channel"])

        def opened(channel: Any) -> None:
            box["channel"] = channel
            channel.confirm_delivery(confirmed, callback=ready)

        def closed(connection: Any, reason: Any) -> None:
            if not box["ended"]:
                box["error"] = box["error"] or f"connection closed: {reason}"
            connection.ioloop.stop()

        box["connection"] = pika.SelectConnection(
            self._params, on_open_callback=lambda c: c.channel(on_open_callback=opened),
            on_open_error_callback=closed, on_close_callback=closed)
        box["connection"].ioloop.start()
        if box["error"]:
            raise RuntimeError(f"windowed publish failed: {box['error']}")
        return float(box["ended"] - box["started"])

    def purge(self) -> None:
        """Stop consuming (unacked deliveries return) and purge the queue."""
        if self._consumer is not None:
            self._ch.cancel()
            self._consumer = None
        self._ch.queue_purge(self.queue)

    def close(self) -> None:
        """Delete the queue and disconnect; on a fresh connection when this one is gone (an idle
        BlockingConnection misses heartbeats while later scenarios run, and the server drops it)."""
        try:
            self.purge()
            self._ch.queue_delete(self.queue)
        except self._pika.exceptions.AMQPError:
            fresh = self._pika.BlockingConnection(self._params)
            try:
                fresh.channel().queue_delete(self.queue)
            finally:
                fresh.close()
        finally:
            if self._conn.is_open:
                self._conn.close()
