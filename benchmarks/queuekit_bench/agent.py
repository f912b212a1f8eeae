"""A benchmark agent: one App that produces or works on command.

The harness starts agents as subprocesses (``python -m queuekit_bench.agent``, the broker
URL in ``QKBENCH_URL`` so it never shows in a process list) and talks to them in JSON
lines on stdin/stdout. Brokers that cannot be shared between processes (``memory://``)
get the same :class:`AgentCore` on a thread inside the harness instead.

Commands (each answered by one line carrying the same ``id``)::

    {"op": "produce", "queue": q, "count": n, "producer": "p0", ...}  -> {"t_start", "t_end", "count"}
        (mode: single, batch, delay (task.delay from ``threads`` threads), enqueue_many, build
        (enqueue_many's messages built and encoded, never sent))
    {"op": "work", "queue": q, "burst": true, ...}    -> {"t_start", "t_end", "counts"} once idle
    {"op": "work", "queue": q, "burst": false, ...}   -> {"started": true} at once
    {"op": "stop"}                                    -> {"t_end", "counts"} after a graceful stop
    {"op": "stats", "queue": q}                       -> {"ready", "delayed", "in_flight", "dead"} seen from here
    {"op": "counts"}                                  -> {"counts"}: the running worker's completions so far
    {"op": "exit"}                                    -> {} and the process ends
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from queuekit import App, Message, Worker
from queuekit.urls import redact
from queuekit.worker import OWN_PROCESS_SWITCH
from queuekit_bench.ledger import LedgerWriter
from queuekit_bench.tasks import NOOP, TRACKED, bench_app, open_ledger, release_ledger

URL_ENV = "QKBENCH_URL"
RESULTS_ENV = "QKBENCH_RESULTS"  # a separate result store, for brokers that keep no results
Reply = dict[str, Any]


class AgentCore:
    """Carries out agent commands on one App."""

    def __init__(self, url: str, *, lease: float = 30.0, app: App | None = None, results: str | None = None) -> None:
        self.app = app or bench_app(url, lease=lease, results=results)
        self.worker: Worker | None = None
        self._thread: threading.Thread | None = None
        self._t_start = 0.0
        self._ledger = False

    def connect(self) -> None:
        """Open the broker now, so that connecting is not timed later."""
        _ = self.app.broker

    def handle(self, command: Mapping[str, Any]) -> Reply:
        """Run one command and return its reply (raises on bad commands or broker errors)."""
        op = command.get("op")
        if op == "produce":
            return self.produce(command)
        if op == "work":
            return self.work(command)
        if op == "stop":
            return self.stop()
        if op == "stats":
            return self.stats(str(command["queue"]))
        if op == "counts":
            return {"counts": dict(self.worker.counts) if self.worker is not None else {}}
        if op in ("ping", "exit"):
            return {"pid": os.getpid()}
        raise ValueError(f"unknown agent command {op!r}")

    # -- producing ---------------------------------------------------------------------

    def produce(self, command: Mapping[str, Any]) -> Reply:
        """Enqueue ``count`` jobs singly or in batches, optionally at a fixed rate."""
        count = int(command["count"])
        mode = command.get("mode", "single")
        if mode in ("delay", "enqueue_many", "build"):
            return self._through_api(command, count, str(mode))
        ledger_path = command.get("ledger")
        ledger = LedgerWriter(Path(ledger_path)) if ledger_path else None
        try:
            messages = self._messages(command, count)
            t_start = time.time()
            if mode == "batch":
                self._send_batches(messages, int(command.get("batch", 100)), ledger)
            else:
                self._send_singly(messages, command.get("rate"), ledger)
            t_end = time.time()
        finally:
            if ledger is not None:
                ledger.close()
        return {"t_start": t_start, "t_end": t_end, "count": count}

    def _through_api(self, command: Mapping[str, Any], count: int, mode: str) -> Reply:
        """What a user writes, each message built inside the timing: ``task.delay()`` one by one from
        ``threads`` threads started together, or ``app.enqueue_many`` in batches of ``batch``.

        ``build``: what ``enqueue_many`` does before its broker call (``task.message()`` and
        ``app.envelope()`` for each message of a batch), and nothing sent."""
        task = self.app.tasks[NOOP].with_options(queue=str(command["queue"]))
        payload = "x" * int(command.get("payload", 0))
        if mode in ("enqueue_many", "build"):
            size = max(int(command.get("batch", 1000)), 1)
            app = self.app
            t_start = time.time()
            for first in range(0, count, size):
                batch = [task.message(payload) for _ in range(min(size, count - first))]
                if mode == "build":
                    for message in batch:
                        app.envelope(message)
                else:
                    app.enqueue_many(batch)
            return {"t_start": t_start, "t_end": time.time(), "count": count}
        threads = max(int(command.get("threads", 1)), 1)
        shares = [count // threads + (1 if i < count % threads else 0) for i in range(threads)]
        go = threading.Barrier(threads + 1)
        failures: list[BaseException] = []

        def call(n: int) -> None:
            go.wait()
            try:
                for _ in range(n):
                    task.delay(payload)
            except BaseException as exc:
                failures.append(exc)

        workers = [threading.Thread(target=call, args=(n,), name=f"qkbench-delay{i}") for i, n in enumerate(shares)]
        for thread in workers:
            thread.start()
        go.wait()
        t_start = time.time()
        for thread in workers:
            thread.join()
        t_end = time.time()
        if failures:
            raise failures[0]
        return {"t_start": t_start, "t_end": t_end, "count": count}

    def _messages(self, command: Mapping[str, Any], count: int) -> list[tuple[str, Message]]:
        queue = str(command["queue"])
        producer = str(command.get("producer", "p0"))
        first = int(command.get("start", 0))
        payload = "x" * int(command.get("payload", 0))
        priorities: Sequence[int] = command.get("priorities") or [0] * count
        sleeps: Sequence[float] = command.get("sleep_ms") or [0.0] * count
        delay = float(command.get("delay", 0.0))
        retries = command.get("retries")  # None: the task's own allowance
        tracked = bool(command.get("tracked", False))
        task = self.app.tasks[TRACKED if tracked else NOOP]
        out = []
        for index in range(count):
            key = f"{producer}:{first + index}"
            args: tuple[Any, ...] = (key, sleeps[index], payload) if tracked else (payload,)
            message = task.build(args, queue=queue, priority=priorities[index], delay=delay or None,
                                 retries=None if retries is None else int(retries))
            out.append((key, message))
        return out

    def _send_singly(self, messages: list[tuple[str, Message]], rate: Any, ledger: LedgerWriter | None) -> None:
        interval = 1.0 / float(rate) if rate else 0.0
        begin = time.perf_counter()
        for index, (key, message) in enumerate(messages):
            if interval:
                pause = begin + index * interval - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
            t_call = time.time()
            try:
                self.app.send([message])
            except Exception:
                if ledger is not None:
                    ledger.unknown(key)
                raise
            if ledger is not None:
                ledger.accepted(key, t_call, time.time())

    def _send_batches(self, messages: list[tuple[str, Message]], size: int, ledger: LedgerWriter | None) -> None:
        for first in range(0, len(messages), max(size, 1)):
            chunk = messages[first:first + size]
            t_call = time.time()
            self.app.send([message for _, message in chunk])
            t_return = time.time()
            if ledger is not None:
                for key, _ in chunk:
                    ledger.accepted(key, t_call, t_return)

    # -- working -----------------------------------------------------------------------

    def work(self, command: Mapping[str, Any]) -> Reply:
        """Run a worker: in burst mode until idle, otherwise in the background until ``stop``."""
        if self.worker is not None:
            raise RuntimeError("this agent is already working; send stop first")
        ledger = command.get("ledger")
        self._ledger = bool(ledger)
        if ledger:
            open_ledger(Path(ledger))
        self.worker = self.app.worker(
            queues=[str(command["queue"])],
            concurrency=int(command.get("concurrency", 1)),
            prefetch=command.get("prefetch"),
            burst=bool(command.get("burst", True)),
            lease=command.get("lease"),
            grace=float(command.get("grace", 5.0)),
            poll=float(command.get("poll", 0.2)),
            switch_interval=OWN_PROCESS_SWITCH,  # an agent owns its process, as `queuekit worker` does
        )
        self._t_start = time.time()
        if self.worker.burst:
            self.worker.run(install_signals=False)
            return self._finish()
        self._thread = self.worker.start()
        return {"started": True, "t_start": self._t_start}

    def stop(self) -> Reply:
        """Stop a background worker gracefully and report its counts."""
        if self.worker is None:
            return {"t_end": time.time(), "counts": {}}
        self.worker.stop()
        self.worker.join(timeout=60.0)
        return self._finish()

    def stats(self, queue: str) -> Reply:
        """The queue's counts as this process's broker client sees them.

        A broker may count in ``in_flight`` only what the asking process holds (RabbitMQ
        does: unacknowledged deliveries are in none of its counts), so what a worker
        process has reserved or prefetched is seen here, not from the harness.
        """
        stats = self.app.broker.stats([queue]).get(queue)
        return dataclasses.asdict(stats) if stats is not None else {"ready": 0, "delayed": 0, "in_flight": 0, "dead": 0}

    def _finish(self) -> Reply:
        assert self.worker is not None
        counts = dict(self.worker.counts)
        self.worker, self._thread = None, None
        if self._ledger:
            release_ledger()
            self._ledger = False
        return {"t_start": self._t_start, "t_end": time.time(), "counts": counts}

    def close(self) -> None:
        """Stop any worker and close the App."""
        if self.worker is not None:
            self.stop()
        self.app.close()


def _reply(stream: Any, payload: Reply) -> None:
    stream.write(json.dumps(payload) + "\n")
    stream.flush()


def serve(core: AgentCore, lines: Any, out: Any) -> None:
    """Answer commands from ``lines`` until ``exit`` or end of input."""
    for line in lines:
        if not line.strip():
            continue
        command = json.loads(line)
        try:
            reply = core.handle(command)
        except Exception as exc:
            reply = {"error": redact(f"{type(exc).__name__}: {exc}")}
        reply["id"] = command.get("id")
        _reply(out, reply)
        if command.get("op") == "exit":
            return


def main() -> int:
    """Subprocess entry point: connect, say ready, then serve stdin."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    url = os.environ.get(URL_ENV)
    if not url:
        print(f"{URL_ENV} is not set", file=sys.stderr)
        return 2
    lease = float(os.environ.get("QKBENCH_LEASE", "30"))
    try:
        core = AgentCore(url, lease=lease, results=os.environ.get(RESULTS_ENV) or None)
        core.connect()
    except Exception as exc:
        _reply(sys.stdout, {"ready": False, "error": redact(f"{type(exc).__name__}: {exc}")})
        return 1
    _reply(sys.stdout, {"ready": True, "pid": os.getpid()})
    try:
        serve(core, sys.stdin, sys.stdout)
    finally:
        core.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
