"""The consuming side: ``basic.consume`` into a local buffer that ``reserve`` drains.

* RabbitMQ pushes up to ``prefetch`` unacknowledged deliveries per queue
  (``basic.qos``, per consumer). They wait in a buffer ordered by priority, then arrival;
  ``reserve`` moves them to the held set and hands them out.
* The prefetch only grows, and it grows on the live channel without cancelling anything:
  a queue that needs more room gets one more consumer whose own prefetch is the
  difference, so its consumers' limits add up to the new prefetch. Per-consumer qos
  (``global=false``) is the one RabbitMQ applies to consumers created after it, and the
  only one quorum queues honour; channel-wide qos (``global=true``) would apply live but
  quorum queues refuse consumers on such a channel, and it is a deprecated feature
  (``global_qos``) that RabbitMQ 4.3 rejects by default.
  Cancelling and re-creating the consumer instead strands what RabbitMQ sent before the
  ``cancel-ok``: pika rejects (requeues) a delivery for a consumer being cancelled, and
  it comes back flagged ``redelivered``, which counts as a crash and spends an attempt.
* A receipt is ``"<channel generation>.<delivery tag>"``. Acks for a receipt of an
  older channel are dropped, never sent on the new channel (RabbitMQ would close it
  with ``PRECONDITION_FAILED - unknown delivery tag``); the broker has already put that
  message back.
* Acks travel to the I/O thread in batches; a run of settled tags at the head of the
  channel's unacked window goes out as one ``basic.ack(multiple=True)``. A job finished
  behind an unfinished one waits up to ``ACK_HOLD`` seconds for the head to settle, so
  that one multiple ack covers both (:mod:`queuekit_rabbitmq.acks`); closing sends what
  still waits.
* When the channel is lost, the buffer is dropped at once (RabbitMQ takes those
  deliveries back: nothing is handed out from a dead channel), and what comes back
  flagged ``redelivered`` is matched to what this process held (:mod:`queuekit_rabbitmq.recall`):
  a delivery still held by the caller is adopted by its old receipt, one the caller
  finished is acked, one that was only buffered is handed out again unspent, and one
  this process cannot place within ``ADOPT_GRACE`` seconds of its own reconnect is taken
  for one RabbitMQ had sent down the dead channel but that never arrived: handed out
  unspent too.
* Any other delivery RabbitMQ flags ``redelivered`` came back because an earlier
  holder's channel closed (crash, kill). It is republished with one more attempt spent
  and then acked, so crash loops are counted and bounded.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from typing import Any

from queuekit.broker import Delivery
from queuekit.errors import ConnectionLost
from queuekit_rabbitmq.acks import AckWindow
from queuekit_rabbitmq.gets import Getter, Held
from queuekit_rabbitmq.io import IoThread, Link, Reject, Resolve
from queuekit_rabbitmq.messages import ATTEMPTS, copy_properties, int_header
from queuekit_rabbitmq.publisher import Outgoing, Publisher
from queuekit_rabbitmq.recall import Recall, copy_key
from queuekit_rabbitmq.settings import Settings
from queuekit_rabbitmq.steps import TempChannel
from queuekit_rabbitmq.topology import Topology

log = logging.getLogger("queuekit.rabbitmq")

MAX_PREFETCH = 65535  # basic.qos prefetch_count is a 16-bit field; the most one queue gets here
ADOPT_GRACE = 5.0  # seconds after a reconnect in which a held delivery of a lost channel may still come back here
ACK_HOLD = 0.05  # seconds a settled delivery behind an unsettled one waits to be covered by a multiple ack
ACK_EVERY = 0.001  # least seconds between two acks of reserved deliveries; those settled meanwhile go together


class Consumer:
    """Buffer, held set and ack batching for one consumer connection."""

    def __init__(self, io: IoThread, settings: Settings, publisher: Publisher, topology: Topology) -> None:
        self.io = io
        self.settings = settings
        self.publisher = publisher
        self.topology = topology
        self.link = Link(io, settings.pika_url, "consumer", self._setup, self._lost)
        self._cond = threading.Condition()
        self._buffer: dict[str, list[tuple[int, int, Held]]] = {}
        self._held: dict[str, Held] = {}
        self._generation = 0
        self._seq = 0
        self._sub_lock = threading.Lock()
        self._wanted: list[str] = []
        self._prefetch = 0
        # Across a lost channel (see queuekit_rabbitmq.recall), all under _cond:
        self._orphans: dict[str, str] = {}  # copy key -> receipt of a held delivery of a lost channel
        self._finished = Recall()  # copy keys acked lately
        self._unstarted = Recall()  # copy keys dropped from the buffer with a lost channel
        self._ready_at = 0.0
        # I/O thread only:
        self._io_generation = 0
        self._queue_of: dict[str, str] = {}  # consumer tag -> queue
        self._active: dict[str, list[str]] = {}  # queue -> its consumer tags
        self._granted: dict[str, int] = {}  # queue -> the sum of its consumers' prefetch
        self._window = AckWindow()
        self._release_due = False  # a release of the window's waiting acks is scheduled
        self._settled: list[int] = []  # tags of the current channel settled and not yet given to the window
        self._flush_due = False  # a flush of _settled is scheduled
        self._flushed_at = 0.0
        self._gets = Getter(self.link, self._window, self._returned)
        self._waiting: set[Resolve] = set()  # subscribe calls waiting for their consume-oks

    # -- reserving (any thread) ----------------------------------------------------------

    def reserve(self, queues: Sequence[str], limit: int, wait: float) -> list[Delivery]:
        """Up to ``limit`` buffered deliveries of ``queues``, waiting up to ``wait`` for one."""
        if wait <= 0 and not any(queue in self._wanted for queue in queues):
            return self._get(queues, limit)
        self.subscribe(queues, limit)
        if wait <= 0:
            self._catch_up(queues, limit)
        deadline = time.monotonic() + wait
        with self._cond:
            while True:
                taken = self._take(queues, limit)
                remaining = deadline - time.monotonic()
                if taken or remaining <= 0:
                    return taken
                self._cond.wait(remaining)

    def _get(self, queues: Sequence[str], limit: int) -> list[Delivery]:
        """A non-blocking reserve on queues nobody consumes here: ``basic.get`` from each in turn.

        Exact: each get takes the head of the queue (highest priority, then oldest) at
        that moment, and nothing is prefetched.
        """
        for queue in queues:
            self.topology.ensure_queue(queue)
        self.link.wait_ready(self.settings.connect_timeout)
        got = self._fetch(queues, limit)
        with self._cond:
            fresh = [held for held in got if held.generation == self._generation]
            for held in fresh:
                self._held[held.receipt] = held
        return [held.delivery() for held in fresh]

    def _fetch(self, queues: Sequence[str], limit: int) -> list[Held]:
        found: list[Held] = self.io.call(
            partial(self._gets.submit, self._io_generation, list(queues), limit), self.settings.connect_timeout
        )
        return found

    def _catch_up(self, queues: Sequence[str], limit: int) -> None:
        """Make a non-blocking reserve see what is ready now, in priority order.

        Deliveries travel asynchronously: one RabbitMQ pushed (or is about to push, on an
        ack just sent) may not be here yet. A round trip on the consumer channel gets the
        acks processed, a queue declaration orders us behind the pushes they caused, and
        a second round trip brings those pushes in. What RabbitMQ still holds (the
        prefetch window was full) may outrank the buffer: up to ``limit`` of it is fetched
        with ``basic.get`` into the buffer, so the buffer's best are the queue's best.
        """
        self.sync()
        with TempChannel(self.publisher.link, self.settings.connect_timeout) as chan:
            waiting = {queue: chan.declare_queue(queue, passive=True) for queue in queues}
        self.sync()
        for queue, count in waiting.items():
            if count:
                self._buffer_all(self._fetch([queue], min(count, limit)))

    def _buffer_all(self, found: Sequence[Held]) -> None:
        with self._cond:
            for held in found:
                if held.generation == self._generation:
                    self._seq += 1
                    priority = -(held.properties.priority or 0)
                    heapq.heappush(self._buffer.setdefault(held.queue, []), (priority, self._seq, held))

    def _take(self, queues: Sequence[str], limit: int) -> list[Delivery]:
        taken: list[Delivery] = []
        while len(taken) < limit:
            best: list[tuple[int, int, Held]] | None = None
            for queue in queues:
                heap = self._buffer.get(queue)
                if heap and (best is None or heap[0][:2] < best[0][:2]):
                    best = heap
            if best is None:
                break
            held = heapq.heappop(best)[2]
            self._held[held.receipt] = held
            taken.append(held.delivery())
        return taken

    def subscribe(self, queues: Sequence[str], limit: int) -> None:
        """Consume ``queues`` (declaring them) with room for what is held plus ``limit``."""
        # Room for every held delivery plus this request, so a caller that holds jobs
        # without acking them can always reserve more (the worker never needs a bump).
        with self._cond:
            held = len(self._held)
        prefetch = min(MAX_PREFETCH, max(self.settings.prefetch or 0, self._prefetch, held + limit))
        if prefetch > self._prefetch > 0:
            # Each raise adds a consumer per queue: grow by a quarter at least, so a
            # window that climbs one job at a time still adds only a few consumers.
            prefetch = min(MAX_PREFETCH, max(prefetch, self._prefetch + self._prefetch // 4))
        if prefetch == self._prefetch and all(q in self._wanted for q in queues):
            return
        with self._sub_lock:
            new = [q for q in dict.fromkeys(queues) if q not in self._wanted]
            for queue in new:
                self.topology.ensure_queue(queue)
            self.link.wait_ready(self.settings.connect_timeout)
            self._prefetch = max(prefetch, self._prefetch)
            self._wanted = [*self._wanted, *new]
            self.io.call(partial(self._subscribe_io, self._prefetch), self.settings.connect_timeout)

    # -- settling (any thread) -----------------------------------------------------------

    def claim(self, receipt: str) -> Held | None:
        """Take a held delivery out of the held set if its channel is still the current one."""
        with self._cond:
            held = self._held.pop(receipt, None)
            return held if held is not None and held.generation == self._generation else None

    def unclaim(self, held: Held) -> None:
        """Put a claimed delivery back (its settlement failed and may be retried)."""
        with self._cond:
            if held.generation == self._generation:
                self._held[held.receipt] = held

    def ack(self, receipts: Sequence[str]) -> None:
        """Acknowledge held deliveries; stale receipts are ignored."""
        tags: list[int] = []
        finished: list[str] = []
        with self._cond:
            generation = self._generation
            for receipt in receipts:
                held = self._held.pop(receipt, None)
                if held is None:
                    continue
                if held.key:  # should it come back (the ack lost with its channel): ack it
                    finished.append(held.key)
                if held.generation == generation:
                    tags.append(held.tag)
            self._finished.add(finished)
        if tags:
            self.io.submit(partial(self._settled_io, generation, tags))

    def settle(self, held: Held) -> None:
        """Acknowledge a claimed delivery (its copy is already confirmed elsewhere)."""
        self.io.submit(partial(self._ack_io, held.generation, [held.tag]))

    def lost(self, receipts: Sequence[tuple[str, str]]) -> set[str]:
        """Ids among ``(id, receipt)`` pairs whose delivery is no longer held.

        A delivery of a lost channel is not reported while it may still come back here
        and be adopted: until ``ADOPT_GRACE`` seconds after the reconnect.
        """
        with self._cond:
            gen = self._generation
            waiting = gen == 0 or time.monotonic() - self._ready_at < ADOPT_GRACE
            return {
                job_id for job_id, receipt in receipts
                if (held := self._held.get(receipt)) is None
                or (held.generation != gen and not (waiting and held.key in self._orphans))
            }

    def sync(self) -> None:
        """Wait until every delivery RabbitMQ sent on the consumer channel so far is buffered.

        A round trip on the channel: its answer comes after every frame sent before it.
        The ``basic.qos`` it sends changes nothing: per-consumer qos applies only to
        consumers created later, and :meth:`_consume` sends its own before each one.
        """
        if not self.link.ready.is_set():
            return

        def step(resolve: Resolve, _reject: Reject) -> None:
            channel = self.link.channel
            if channel is None or not channel.is_open or not self._prefetch:
                resolve(None)
                return
            channel.basic_qos(prefetch_count=self._prefetch, callback=lambda _f: resolve(None))

        self.io.call(step, self.settings.connect_timeout)

    def local_counts(self) -> tuple[dict[str, int], dict[str, int]]:
        """(buffered, held) deliveries per queue in this process."""
        with self._cond:
            buffered = {queue: len(heap) for queue, heap in self._buffer.items()}
            held: dict[str, int] = {}
            for item in self._held.values():
                if item.generation == self._generation:
                    held[item.queue] = held.get(item.queue, 0) + 1
            return buffered, held

    def drop_buffered(self, queue: str) -> int:
        """Acknowledge (delete) this process's buffered deliveries of ``queue``; return how many."""
        with self._cond:
            entries = self._buffer.pop(queue, [])
            generation = self._generation
        if entries:
            self.io.submit(partial(self._ack_io, generation, [entry[2].tag for entry in entries]))
        return len(entries)

    def stop(self, queues: Sequence[str]) -> None:
        """Cancel the consumers of ``queues`` and hand their buffered deliveries back unspent.

        Held (reserved) deliveries stay held and can still be settled. A later blocking
        ``reserve`` on these queues consumes them again.
        """
        names = frozenset(queues)
        with self._sub_lock:
            self.io.call(partial(self._cancel_io, names), self.settings.connect_timeout)
        self._return_buffered(names)

    def close(self) -> None:
        """Stop consuming, hand buffered deliveries back without spending attempts, disconnect."""
        if self.link.ready.is_set():
            try:
                self.io.call(partial(self._cancel_io, None), self.settings.connect_timeout)
                self._return_buffered(None)
                self.io.call(self._send_held_acks, self.settings.connect_timeout)
            except Exception as exc:  # closing must not fail; RabbitMQ requeues on close anyway
                log.warning("could not hand back buffered RabbitMQ deliveries cleanly: %s", exc)
        self.link.close()

    def _return_buffered(self, queues: frozenset[str] | None) -> None:
        """Republish buffered deliveries (all, or those of ``queues``) with the same count, then ack them."""
        with self._cond:
            names = list(self._buffer) if queues is None else [q for q in self._buffer if q in queues]
            entries = [entry[2] for name in names for entry in self._buffer.pop(name)]
        if not entries:
            return
        generation, tags = entries[0].generation, [h.tag for h in entries]
        copies = [Outgoing("", h.queue, h.body, copy_properties(h.properties, h.spent)) for h in entries]
        try:
            self.publisher.publish(copies)
        except BaseException:  # nothing lost: RabbitMQ takes them back as they are (flagged redelivered)
            self.io.submit(partial(self._requeue_all_io, generation, tags))
            raise

        def ack_all(resolve: Resolve, _reject: Reject) -> None:
            self._ack_io(generation, tags)
            resolve(None)

        self.io.call(ack_all, self.settings.connect_timeout)

    # -- I/O thread ----------------------------------------------------------------------

    def _setup(self, channel: Any, generation: int, ready: Callable[[], None]) -> None:
        self._io_generation = generation
        self._queue_of.clear()
        self._active.clear()
        self._granted.clear()
        self._window.reset()
        self._settled.clear()  # the old channel's tags: RabbitMQ has taken those deliveries back
        with self._cond:
            self._generation = generation
            self._ready_at = time.monotonic()
            self._buffer.clear()
        channel.add_on_cancel_callback(self._cancelled_by_server)
        self._consume(channel, self._prefetch, ready)

    def _lost(self, generation: int, _error: BaseException | None) -> None:
        """The channel is gone: drop the buffer at once, remember what may come back (see recall)."""
        self._gets.abandon()
        waiting, self._waiting = self._waiting, set()
        for resolve in waiting:
            resolve(None)  # no consume-ok will come; the next channel subscribes everything in _wanted
        with self._cond:
            buffered = [entry[2] for heap in self._buffer.values() for entry in heap]
            self._unstarted.add(h.key for h in buffered if h.key)
            self._orphans = {mid: receipt for mid, receipt in self._orphans.items() if receipt in self._held}
            held = [h for h in self._held.values() if h.generation == generation and h.key]
            self._orphans.update((h.key, h.receipt) for h in held if h.key)
            self._generation = 0
            self._buffer.clear()
        log.debug("RabbitMQ consumer channel %d lost: %d buffered deliveries dropped, %d held ones may come back",
                  generation, len(buffered), len(held))

    def _subscribe_io(self, prefetch: int, resolve: Resolve, _reject: Reject) -> None:
        channel = self.link.channel
        if channel is None or not channel.is_open:
            resolve(None)  # the next channel subscribes everything in _wanted
            return
        waiting = self._waiting

        def done() -> None:
            waiting.discard(resolve)
            resolve(None)

        waiting.add(resolve)  # answered by the consume-oks, or by the channel's loss
        self._consume(channel, prefetch, done)

    def _consume(self, channel: Any, prefetch: int, done: Callable[[], None]) -> None:
        """Give every wanted queue consumers whose prefetch adds up to ``prefetch``; then ``done()``.

        A queue short of it gets one more consumer for the difference; no consumer is
        ever cancelled here. pika sends synchronous methods one at a time in the order
        asked, so each ``basic.qos`` applies to the ``basic.consume`` that follows it.
        """
        short: dict[int, list[str]] = {}
        for queue in self._wanted:
            room = prefetch - self._granted.get(queue, 0)
            if room > 0:
                short.setdefault(room, []).append(queue)
        if not short:
            done()
            return
        remaining = [sum(len(queues) for queues in short.values())]

        def consumed(_frame: Any) -> None:
            remaining[0] -= 1
            if remaining[0] == 0:
                done()

        for room, queues in short.items():
            channel.basic_qos(prefetch_count=room)
            for queue in queues:
                tag = channel.basic_consume(queue, self._deliver, callback=consumed)
                self._queue_of[tag] = queue
                self._active.setdefault(queue, []).append(tag)
                self._granted[queue] = prefetch

    def _cancel_io(self, queues: frozenset[str] | None, resolve: Resolve, _reject: Reject) -> None:
        """Cancel the consumers of ``queues`` (None: all); resolve on the last ``cancel-ok``.

        Deliveries RabbitMQ sent before a ``cancel-ok`` reach the buffer before it (the
        link's channels hand them to the consumer instead of rejecting them, see
        ``queuekit_rabbitmq.io``), so the buffer holds all of them once this resolves. A channel that closes meanwhile
        resolves it too: RabbitMQ takes back everything unacked of a closed channel.
        """
        channel = self.link.channel
        stopping = [q for q in self._active if queues is None or q in queues]
        tags = [tag for q in stopping for tag in self._active.pop(q)]
        for queue in stopping:
            self._granted.pop(queue, None)
        self._wanted = [] if queues is None else [q for q in self._wanted if q not in queues]
        if channel is None or not channel.is_open or not tags:
            resolve(None)
            return
        channel.add_on_close_callback(lambda _channel, _error: resolve(None))
        remaining = [len(tags)]

        def cancelled(_frame: Any) -> None:
            remaining[0] -= 1
            if remaining[0] == 0:
                resolve(None)

        for tag in tags:
            channel.basic_cancel(tag, callback=cancelled)

    def _cancelled_by_server(self, frame: Any) -> None:
        tag = frame.method.consumer_tag
        queue = self._queue_of.get(tag, "?")
        if tag not in self._active.get(queue, ()):
            return  # another consumer of the same queue was cancelled already
        log.warning("RabbitMQ cancelled the consumer of queue %r (deleted?); it will be declared again", queue)
        self._active.pop(queue, None)
        self._granted.pop(queue, None)
        self._wanted = [q for q in self._wanted if q != queue]
        self.topology.forget()

    def _deliver(self, channel: Any, method: Any, properties: Any, body: bytes) -> None:
        if channel is not self.link.channel:
            return
        generation, tag = self._io_generation, method.delivery_tag
        self._window.delivered(tag)
        queue = self._queue_of.get(method.consumer_tag, method.routing_key)
        spent = int_header(properties.headers, ATTEMPTS)
        if method.redelivered:
            returned = self._returned(generation, tag, queue, properties, body, spent)
            if returned is None:
                return
            held = returned
        else:
            held = Held(generation, tag, queue, body, properties, spent, f"{generation}.{tag}")
        with self._cond:
            if self._generation != generation:
                return
            if not method.redelivered and held.key:
                self._finished.take(held.key)  # this copy is new (a retry, a counted crash): it runs
            self._seq += 1
            heapq.heappush(self._buffer.setdefault(queue, []), (-(properties.priority or 0), self._seq, held))
            self._cond.notify()

    def _returned(self, generation: int, tag: int, queue: str, properties: Any, body: bytes,
                  spent: int) -> Held | None:
        """A redelivery: adopt it, ack it, hand it out unspent, or count it as a crash (see recall).

        Returns the delivery to hand out, if any.
        """
        key = copy_key(properties.message_id, spent)
        if key:
            with self._cond:
                receipt = self._orphans.pop(key, None)
                old = None if receipt is None else self._held.get(receipt)
                if old is not None and receipt is not None and self._generation == generation:
                    self._held[receipt] = replace(old, generation=generation, tag=tag)  # the caller settles this tag
                    return None
                finished = self._finished.take(key)
                unstarted = not finished and (self._unstarted.take(key) or self._in_transit(generation))
            if finished:
                self._finished.add([key])  # should this ack be lost too
                self._ack_io(generation, [tag])
                return None
            if unstarted:
                return Held(generation, tag, queue, body, properties, spent, f"{generation}.{tag}")
        log.debug("redelivery of %s counted as a crash", properties.message_id)
        self._checkpoint(generation, tag, queue, properties, body, spent)
        return None

    def _in_transit(self, generation: int) -> bool:
        """Whether an unplaced redelivery on ``generation`` is one that never reached this process (under _cond).

        Right after this process's own reconnect, RabbitMQ redelivers what it had sent down
        the dead channel: the deliveries held and buffered here (matched above), and those
        still on the wire when it died, which this process never saw, so never started.
        Counting those as crashes spent an attempt on each and republished it, and a
        republish whose confirm was lost in the next reset left two copies that both ran.
        A first connection is not a reconnect: what arrives then is a crashed
        predecessor's, and is counted.
        """
        return generation > 1 and time.monotonic() - self._ready_at < ADOPT_GRACE

    def _checkpoint(self, generation: int, tag: int, queue: str, properties: Any, body: bytes, spent: int) -> None:
        """Count a crash redelivery: republish with one more attempt spent, then ack."""
        copy = Outgoing("", queue, body, copy_properties(properties, spent + 1))

        def done(error: BaseException | None) -> None:
            if error is None:
                if key := copy_key(properties.message_id, spent):  # the copy stands in: should this come back, ack it
                    with self._cond:
                        self._finished.add([key])
                self._ack_io(generation, [tag])
                return
            # A lost connection is reported once by the link; a refusal is worth a line of its own.
            report = log.debug if isinstance(error, ConnectionLost) else log.warning
            report("could not count a redelivery of %s (%s); requeueing it", properties.message_id, error)
            self.io.later(1.0, lambda: self._requeue_io(generation, tag))

        self.publisher.publish_io([copy], done)

    def _requeue_io(self, generation: int, tag: int) -> None:
        channel = self.link.channel
        if generation == self._io_generation and channel is not None and channel.is_open:
            self._window.requeue(channel, tag)

    def _requeue_all_io(self, generation: int, tags: Sequence[int]) -> None:
        for tag in tags:
            self._requeue_io(generation, tag)

    def _ack_io(self, generation: int, tags: Sequence[int], *, hold: bool = False) -> None:
        channel = self.link.channel
        if generation != self._io_generation or channel is None or not channel.is_open:
            return
        if self._window.ack(channel, tags, hold=hold) and not self._release_due:
            self._release_due = True
            self.io.later(ACK_HOLD, self._release_io)

    def _settled_io(self, generation: int, tags: Sequence[int]) -> None:
        """Ack reserved deliveries now, or with what else settles within ``ACK_EVERY`` of the last ack.

        RabbitMQ settles a multiple ack of many tags for about the cost of one: a drain
        of no-op jobs acked in whatever batches the worker's acker happened to form sent
        three times the acks when its threads woke often, and RabbitMQ then spent about
        twice the CPU per job.
        """
        if generation != self._io_generation:
            return
        self._settled.extend(tags)
        if self._flush_due:
            return
        wait = self._flushed_at + ACK_EVERY - time.monotonic()
        if wait > 0:
            self._flush_due = True
            self.io.later(wait, self._flush_settled)
        else:
            self._flush_settled()

    def _flush_settled(self) -> None:
        self._flush_due = False
        tags, self._settled = self._settled, []
        self._flushed_at = time.monotonic()
        if tags:
            self._ack_io(self._io_generation, tags, hold=True)

    def _send_held_acks(self, resolve: Resolve, _reject: Reject) -> None:
        """Send every ack still waiting (closing: nothing settled may be left unacked)."""
        self._flush_settled()
        self._release_io()
        resolve(None)

    def _release_io(self) -> None:
        """Ack on their own the settled deliveries still waiting behind an unsettled one.

        The window holds the current channel's tags only (a new channel resets it), so a
        release scheduled on an older channel serves the current one.
        """
        self._release_due = False
        channel = self.link.channel
        if channel is not None and channel.is_open:
            self._window.release(channel)

