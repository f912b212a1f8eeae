"""Research plan 5.8: a job that kills its worker every time, and one that always raises.

The poison job does ``os._exit(137)`` on every attempt; the test restarts the worker
each time it dies. Attempts are counted when a job is reserved, so the poison runs
exactly ``max(max_attempts, 1 + redeliveries)`` times and its next delivery is
dead-lettered unrun with a "worker lost" reason (queuekit/execution.py,
``Runner.prepare``). The raising job is dead-lettered after its retries with an
"exception" reason and a traceback in its outcome. Every normal job completes.

The raising job is enqueued once the poison is set aside: a job the worker holds when the
poison kills it is charged an attempt too (attempts count at reservation), so while the
poison still runs, whether the raising job is held at a kill depends on timing, and its
exact attempt count could not be asserted.
"""

from __future__ import annotations

from queuekit.broker import JobStatus, QueueStats
from tests.faults.ledger import account
from tests.faults.rig import Rig
from tests.support import wait_until

NORMAL = 40
EXPLODE_RETRIES = 2  # the faults.explode task's own setting
WORKER_OPTIONS = ("--concurrency", "2", "--prefetch", "1", "--lease", "1")


class Restarter:
    """Keeps one worker running: a predicate for ``wait_until`` that restarts a dead one."""

    def __init__(self, rig: Rig) -> None:
        self.rig = rig
        self.worker = rig.worker(*WORKER_OPTIONS)
        self.exits: list[int] = []

    def settled(self, normal: set[str], dead: int) -> bool:
        """Restart the worker if it died; true once the normal jobs ran and ``dead`` are set aside."""
        if self.worker.poll() is not None:
            self.exits.append(self.worker.returncode)
            self.worker = self.rig.worker(*WORKER_OPTIONS)
        if not normal <= set(self.rig.ledger().done_counts()):
            return False
        return self.rig.stats() == QueueStats(dead=dead)


def test_poison_and_raising_jobs_are_dead_lettered_after_bounded_attempts(rig: Rig) -> None:
    normal = [f"job{n:03d}" for n in range(NORMAL)]
    messages = [rig.message("faults.poison", "poison"), *(rig.message("faults.work", key, 2) for key in normal)]
    poison_id = rig.enqueue(messages)[0]
    allowed = max(1, 1 + rig.app.redeliveries)  # the poison task has no retries

    keeper = Restarter(rig)
    wait_until(lambda: keeper.settled(set(normal), dead=1), 180, "normal jobs done and the poison set aside")
    explode_id = rig.enqueue([rig.message("faults.explode", "explode")])[0]
    wait_until(lambda: keeper.settled(set(normal), dead=2), 180, "the raising job set aside after its retries")
    assert rig.stop([keeper.worker]) == [0]

    ledger = rig.ledger()
    starts = ledger.start_counts()
    letters = {letter.id: letter for letter in rig.app.broker.dead_letters(rig.queue)}
    figures = (f"[{rig.target.kind}] poison: worker exits {keeper.exits}, runs {starts['poison']}, "
               f"dead-lettered at delivery {letters[poison_id].attempts}; raising job runs {starts['explode']}")
    print(figures)
    assert keeper.exits == [137] * allowed, figures
    assert starts["poison"] == allowed, figures
    reason = letters[poison_id].reason
    assert reason.startswith(f"worker lost: reserved {allowed + 1} times") and f"allowed {allowed};" in reason, reason
    assert letters[poison_id].attempts == allowed + 1, figures

    assert starts["explode"] == 1 + EXPLODE_RETRIES, figures
    assert letters[explode_id].reason.startswith("exception: RuntimeError: explode explode")
    assert letters[explode_id].attempts == 1 + EXPLODE_RETRIES
    results = rig.app.results
    assert results is not None
    failed = results.load_outcome(explode_id)
    assert failed is not None and failed.status is JobStatus.FAILED
    assert failed.traceback is not None and 'raise RuntimeError(f"explode {key}")' in failed.traceback
    lost = results.load_outcome(poison_id)
    assert lost is not None and lost.status is JobStatus.DEAD and (lost.error or "").startswith("worker lost")

    verdict = account(ledger)
    assert sorted(verdict.lost_keys) == ["explode", "poison"], f"only the bad jobs never end; {verdict.summary()}"
    assert verdict.unexpected == 0, verdict.summary()

