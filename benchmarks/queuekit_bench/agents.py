"""The harness's side of the agents: subprocesses for shared brokers, threads for ``memory://``."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any, Protocol

import queuekit_bench
from queuekit_bench.agent import RESULTS_ENV, URL_ENV, AgentCore, Reply
from queuekit_bench.cleanup import Cleanup, stop_process


class BenchError(RuntimeError):
    """A workload could not be carried out (an agent failed or a deadline passed)."""


class Agent(Protocol):
    """What the scenarios use: send a command, get a future reply."""

    name: str
    pid: int

    def submit(self, command: Mapping[str, Any]) -> Future[Reply]:
        """Send a command; the future holds the reply (or a BenchError)."""
        ...

    def close(self) -> None:
        """Stop the agent and release it."""
        ...


def ask(agent: Agent, command: Mapping[str, Any], timeout: float = 600.0) -> Reply:
    """Send a command and wait for its reply."""
    return wait(agent.submit(command), timeout)


def wait(future: Future[Reply], timeout: float = 600.0) -> Reply:
    """The reply of a submitted command; a BenchError if it failed or timed out."""
    try:
        return future.result(timeout=timeout)
    except FutureTimeout:
        raise BenchError(f"an agent gave no answer within {timeout:.0f} s") from None


class LocalAgent:
    """An :class:`AgentCore` inside the harness; each command runs on its own thread."""

    def __init__(self, name: str, core: AgentCore) -> None:
        self.name = name
        self.pid = os.getpid()
        self.core = core

    def submit(self, command: Mapping[str, Any]) -> Future[Reply]:
        """Run the command on a fresh thread."""
        future: Future[Reply] = Future()

        def run() -> None:
            try:
                future.set_result(self.core.handle(command))
            except Exception as exc:
                future.set_exception(BenchError(f"agent {self.name}: {type(exc).__name__}: {exc}"))

        threading.Thread(target=run, name=f"qkbench-{self.name}", daemon=True).start()
        return future

    def close(self) -> None:
        """Stop any worker; the App is shared and closed by its owner."""
        if self.core.worker is not None:
            self.core.stop()


class AgentProcess:
    """An agent subprocess speaking JSON lines; replies are matched to commands by id."""

    def __init__(self, name: str, url: str, *, lease: float, logs: Path, cleanup: Cleanup,
                 results: str | None = None) -> None:
        self.name = name
        self._ids = itertools.count(1)
        self._pending: dict[int, Future[Reply]] = {}
        self._lock = threading.Lock()
        self._ready: Future[Reply] = Future()
        self._cleanup = cleanup
        env = dict(os.environ, **{URL_ENV: url, "QKBENCH_LEASE": str(lease), "PYTHONPATH": pythonpath(),
                                  "QKBENCH_LOGS": str(logs)})  # QKBENCH_LOGS also tags the run's processes
        if results:
            env[RESULTS_ENV] = results
        self._stderr = (logs / f"{name}.log").open("a")
        self.process: subprocess.Popen[str] = subprocess.Popen(
            [sys.executable, "-m", "queuekit_bench.agent"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self._stderr, text=True, env=env, start_new_session=True,  # Ctrl-C reaches only the harness
        )
        cleanup.track(self.process)
        self.pid = self.process.pid
        threading.Thread(target=self._read, name=f"qkbench-read-{name}", daemon=True).start()

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Block until the agent has connected to the broker."""
        reply = wait(self._ready, timeout)
        if not reply.get("ready"):
            raise BenchError(f"agent {self.name} could not start: {reply.get('error', 'no reason given')}")

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                reply = json.loads(line)
            except ValueError:
                continue
            if not self._ready.done():
                self._ready.set_result(reply)
                continue
            with self._lock:
                future = self._pending.pop(reply.get("id"), None)
            if future is not None:
                if "error" in reply:
                    future.set_exception(BenchError(f"agent {self.name}: {reply['error']}"))
                else:
                    future.set_result(reply)
        self._fail_pending(f"agent {self.name} (pid {self.pid}) exited with code {self.process.wait()}")

    def _fail_pending(self, reason: str) -> None:
        if not self._ready.done():
            self._ready.set_result({"ready": False, "error": reason + _tail(self._stderr.name)})
        with self._lock:
            pending, self._pending = list(self._pending.values()), {}
        for future in pending:
            if not future.done():
                future.set_exception(BenchError(reason))

    def submit(self, command: Mapping[str, Any]) -> Future[Reply]:
        """Write the command to the agent's stdin."""
        future: Future[Reply] = Future()
        with self._lock:
            ident = next(self._ids)
            self._pending[ident] = future
        try:
            assert self.process.stdin is not None
            self.process.stdin.write(json.dumps({**command, "id": ident}) + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, ValueError, OSError):
            with self._lock:
                self._pending.pop(ident, None)
            future.set_exception(BenchError(f"agent {self.name} is gone"))
        return future

    def kill(self) -> float:
        """SIGKILL the agent (the failure workload); return the time of the kill."""
        moment = time.time()
        if self.process.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self._cleanup.forget(self.process)
        return moment

    def close(self) -> None:
        """Ask the agent to exit; terminate it if it does not."""
        if self.process.poll() is None:
            try:
                wait(self.submit({"op": "exit"}), timeout=10.0)
                self.process.wait(timeout=10)
            except (BenchError, subprocess.TimeoutExpired):
                stop_process(self.process)
        self._cleanup.forget(self.process)
        self._stderr.close()


def pythonpath() -> str:
    """The folder holding ``queuekit_bench`` first, so agents import this very harness."""
    here = str(Path(queuekit_bench.__file__).resolve().parent.parent)
    existing = os.environ.get("PYTHONPATH")
    return here + (os.pathsep + existing if existing else "")


def _tail(path: str, size: int = 600) -> str:
    try:
        text = Path(path).read_text(errors="replace")[-size:].strip()
    except OSError:
        return ""
    return f"; its last output: {text}" if text else ""


def start_agents(names: list[str], url: str, *, lease: float, logs: Path, cleanup: Cleanup,
                 results: str | None = None) -> list[AgentProcess]:
    """Start several agent subprocesses at once and wait until all are connected (``results``: see AgentCore)."""
    agents = [AgentProcess(name, url, lease=lease, logs=logs, cleanup=cleanup, results=results) for name in names]
    try:
        for agent in agents:
            agent.wait_ready()
    except BenchError:
        for agent in agents:
            agent.close()
        raise
    return agents
