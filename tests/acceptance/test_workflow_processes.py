"""A chord of 2,000 members across three worker processes on SQLite: once without kills, and
with workers SIGKILLed during the run (at least once, and no member's result lost)."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from queuekit import App, chord, group
from tests.support import stop_processes, wait_until

HERE = Path(__file__).parent
MEMBERS = 2000
EXPECTED = sum(n * n for n in range(MEMBERS))


class Rig:
    """Worker processes of this test (ended by PID) on a private SQLite file, and the ledger."""

    def __init__(self, tmp: Path) -> None:
        self.ledger = tmp / "ledger.txt"
        self.url = f"sqlite:///{tmp / 'jobs.db'}"
        self.queue = f"chord-{uuid.uuid4().hex[:8]}"
        self.vars = {**os.environ, "QUEUEKIT_BROKER_URL": self.url, "QK_LEDGER": str(self.ledger),
                     "QK_QUEUE": self.queue, "PYTHONPATH": os.pathsep.join([str(HERE), str(HERE.parents[1])])}
        self.log = tmp / "workers.log"
        self.procs: list[subprocess.Popen[bytes]] = []

    def worker(self) -> subprocess.Popen[bytes]:
        with self.log.open("ab") as out:
            proc = subprocess.Popen([sys.executable, "-m", "queuekit", "worker", "workflow_app:app",
                                     "--concurrency", "4", "--prefetch", "8", "--grace", "5"],
                                    env=self.vars, cwd=HERE, stdout=out, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def start_chord(self) -> object:
        app = App(self.url, default_queue=self.queue, lease=2.0)

        @app.task(name="workflow_app.square")
        def square(n: int) -> int:
            return n * n

        @app.task(name="workflow_app.collect")
        def collect(values: list[int]) -> int:
            return sum(values)

        self.app = app
        return chord(group(square.s(n) for n in range(MEMBERS)), collect.s()).delay()

    def callbacks(self) -> list[tuple[int, int]]:
        if not self.ledger.exists():
            return []
        return [(int(count), int(total)) for _, count, total, _ in
                (line.split() for line in self.ledger.read_text().splitlines())]

    def stop(self) -> None:
        stop_processes(self.procs)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    found = Rig(tmp_path)
    yield found
    found.stop()


def test_a_2000_member_chord_calls_back_exactly_once(rig: Rig) -> None:
    flow = rig.start_chord()
    for _ in range(3):
        rig.worker()
    assert flow.result(timeout=300) == EXPECTED  # type: ignore[attr-defined]
    wait_until(lambda: rig.callbacks(), timeout=30, what="the callback's ledger line")
    rig.stop()
    assert rig.callbacks() == [(MEMBERS, EXPECTED)]


def test_a_2000_member_chord_survives_worker_kills(rig: Rig) -> None:
    flow = rig.start_chord()
    for _ in range(3):
        rig.worker()
    pick = random.Random(7)
    kills = 0

    def ready() -> int:
        return rig.app.broker.stats([rig.queue])[rig.queue].ready

    while kills < 5:
        before = ready()
        # kill only while members are being worked on: after 100 more of them were taken
        wait_until(lambda limit=before - 100: ready() <= max(limit, 0), timeout=120,  # type: ignore[misc]
                   what="the workers taking members")
        if ready() == 0:
            break
        victim = pick.choice([proc for proc in rig.procs if proc.poll() is None])
        victim.kill()
        victim.wait()
        kills += 1
        rig.worker()
    assert kills >= 3, f"only {kills} kills landed during the run"
    assert flow.result(timeout=300) == EXPECTED  # type: ignore[attr-defined]
    wait_until(lambda: rig.callbacks(), timeout=30, what="the callback's ledger line")
    calls = rig.callbacks()
    assert calls and all(call == (MEMBERS, EXPECTED) for call in calls), calls
