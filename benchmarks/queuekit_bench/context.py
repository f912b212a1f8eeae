"""Everything one backend's run needs: its App, agents, raw client, queues and folders."""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from queuekit import App, Capabilities
from queuekit.broker import QueueDeletion
from queuekit_bench.agent import AgentCore
from queuekit_bench.agents import Agent, AgentProcess, BenchError, LocalAgent, start_agents
from queuekit_bench.cleanup import Cleanup
from queuekit_bench.ledger import SUFFIX, Ledger, read_ledger
from queuekit_bench.progress import Progress
from queuekit_bench.raw import RawQueue, RawUnavailable, open_raw
from queuekit_bench.settings import Settings
from queuekit_bench.targets import Target
from queuekit_bench.tasks import NOOP, bench_app


class ScenarioSkipped(Exception):
    """A scenario that cannot run on this backend; the message says why (reported as ``skipped``)."""


class BackendRun:
    """The state of one backend's run; scenarios take it and return their results."""

    def __init__(self, target: Target, settings: Settings, *, workdir: Path, run_id: str,
                 cleanup: Cleanup, progress: Progress) -> None:
        self.target = target
        self.settings = settings
        self.workdir = workdir
        self.run_id = run_id
        self.cleanup = cleanup
        self.progress = progress
        self.rng = random.Random(f"{settings.seed}:{target.name}")
        self.app = bench_app(target.url)
        cleanup.add(f"{target.name} app", self.app.close)
        self.producer = AgentCore(target.url, app=self.app)
        self.capabilities: Capabilities = self.app.broker.capabilities
        self.raw_reason: str | None = None
        # Workflows need a result store: the broker's, or an SQLite file beside the run for brokers without one.
        self.results_url = None if self.capabilities.results else f"sqlite:///{workdir / 'results.db'}"
        self._results_app: App | None = None
        self._pool: list[Agent] = []
        self._results_pool: list[Agent] = []
        self._counter = itertools.count(1)
        (workdir / "logs").mkdir(parents=True, exist_ok=True)

    @property
    def cross_process(self) -> bool:
        """True when workers may be other processes; ``memory://`` runs them as threads here."""
        return self.capabilities.cross_process

    def say(self, text: str) -> None:
        """A progress line for this backend."""
        self.progress.step(self.target.name, text)

    # -- queues and folders --------------------------------------------------------------

    def queue(self, label: str) -> str:
        """A fresh queue name for this run, purged at cleanup."""
        name = f"qkbench-{self.run_id}-{label}-{next(self._counter)}"
        self.cleanup.add(f"queue {name}", lambda: self.drop_queue(name))
        return name

    def drop_queue(self, name: str) -> None:
        """Delete a queue where the backend declares ``delete_queue``; otherwise purge its jobs and dead letters."""
        broker = self.app.broker
        if broker.capabilities.delete_queue and isinstance(broker, QueueDeletion):
            broker.delete_queue(name)
            return
        broker.purge(name)
        broker.purge_dead(name)

    def folder(self, label: str) -> Path:
        """A fresh folder under this backend's work directory (ledgers live here)."""
        path = self.workdir / f"{label}-{next(self._counter)}"
        path.mkdir(parents=True)
        return path

    def ledger_path(self, folder: Path, agent: Agent) -> str:
        """Where an agent records starts and finishes: one file per process (threads of one process share it)."""
        return str(folder / f"worker-{agent.pid}{SUFFIX}")

    # -- agents ----------------------------------------------------------------------------

    def workers(self, count: int) -> list[Agent]:
        """``count`` idle agents, started on first need and kept for the whole backend run."""
        return self._grow(self._pool, count, "agent", None)

    def result_workers(self, count: int) -> list[Agent]:
        """``count`` idle agents whose apps keep results (see :attr:`results_url`): the pool's when the broker can."""
        if self.results_url is None:
            return self.workers(count)
        return self._grow(self._results_pool, count, "results-agent", self.results_url)

    def results_app(self) -> App:
        """The harness's App with a result store: this run's App, or one using :attr:`results_url`."""
        if self.results_url is None:
            return self.app
        if self._results_app is None:
            self._results_app = bench_app(self.target.url, results=self.results_url)
            self.cleanup.add(f"{self.target.name} results app", self._results_app.close)
        return self._results_app

    def _grow(self, pool: list[Agent], count: int, prefix: str, results: str | None) -> list[Agent]:
        missing = count - len(pool)
        if missing > 0:
            names = [f"{prefix}{len(pool) + i}" for i in range(missing)]
            if self.cross_process:
                pool.extend(start_agents(names, self.target.url, lease=self.app.lease, logs=self.workdir / "logs",
                                         cleanup=self.cleanup, results=results))
            else:
                pool.extend(LocalAgent(name, AgentCore(self.target.url, results=results)) for name in names)
        return pool[:count]

    def spawn(self, name: str, *, lease: float, url: str | None = None) -> AgentProcess:
        """A fresh agent subprocess outside the pool (the failure workload kills these)."""
        agent = AgentProcess(name, url or self.target.url, lease=lease, logs=self.workdir / "logs",
                             cleanup=self.cleanup)
        agent.wait_ready()
        return agent

    # -- helpers shared by the workloads ------------------------------------------------------

    def raw(self, label: str) -> RawQueue | None:
        """The raw client on a fresh queue, or None (the reason kept in ``raw_reason``)."""
        try:
            queue = open_raw(self.target.url, f"{self.run_id}_{label}_{next(self._counter)}",
                             self.capabilities.durability.value)
        except RawUnavailable as exc:
            self.raw_reason = str(exc)
            return None
        self.cleanup.add(f"raw queue {label}", queue.close)
        return queue

    def body(self, payload: int = 0) -> bytes:
        """The encoded body of a no-op job with ``payload`` bytes of argument: what raw clients send."""
        message = self.app.tasks[NOOP].build(("x" * payload,), queue="raw")
        return self.app.envelope(message).body

    def prefill(self, queue: str, count: int, payload: int = 0) -> None:
        """Enqueue ``count`` no-op jobs in batches of 500 (setup, not timed)."""
        done = 0
        while done < count:
            chunk = min(500, count - done)
            self.producer.produce({"queue": queue, "count": chunk, "mode": "batch", "batch": 500,
                                   "payload": payload, "producer": "fill", "start": done})
            done += chunk
            self.progress.bar(done, count, "enqueued")

    def wait_for(self, folder: Path, predicate: Callable[[Ledger], bool], timeout: float,
                 give_up: Callable[[], bool] | None = None) -> Ledger:
        """Poll the ledger in ``folder`` until ``predicate`` holds, ``give_up`` says nothing more can
        come, or ``timeout`` passes; return the last reading."""
        deadline = time.monotonic() + timeout
        while True:
            ledger = read_ledger(folder)
            if predicate(ledger) or time.monotonic() >= deadline:
                return ledger
            if give_up is not None and give_up():
                return read_ledger(folder)  # read again: a finish may have landed meanwhile
            time.sleep(0.1)

    def settled(self, queue: str) -> bool:
        """True when the broker holds no ready, delayed or in-flight job of ``queue``."""
        stats = self.app.broker.stats([queue]).get(queue)
        return stats is not None and stats.ready == 0 and stats.delayed == 0 and stats.in_flight == 0

    def close(self) -> None:
        """Close the agents of the pool (their queues are purged by the cleanup stack)."""
        pool, self._pool, self._results_pool = self._pool + self._results_pool, [], []
        for agent in pool:
            try:
                agent.close()
            except BenchError as exc:
                self.progress.warn(f"{self.target.name}: closing {agent.name}: {exc}")


def all_done(expected: int) -> Callable[[Ledger], bool]:
    """Predicate: every accepted job has finished at least once (and ``expected`` were accepted)."""

    def check(ledger: Ledger) -> bool:
        return len(ledger.accepted) >= expected and set(ledger.accepted) <= ledger.done_keys()

    return check


def reply_float(reply: dict[str, Any], key: str) -> float:
    """A numeric field of an agent's reply."""
    value = reply.get(key)
    if not isinstance(value, (int, float)):
        raise BenchError(f"agent reply lacks {key!r}: {reply}")
    return float(value)
