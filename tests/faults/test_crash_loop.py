"""Issue 12 item 4: a crash loop must not dead-letter innocent jobs that never started.

One worker with a deep prefetch buffer is SIGKILLed over and over, each time soon after it
has reserved a batch, and restarted. Jobs that sat unstarted in the buffers of several
killed workers come back with reservations spent; with the default ``redeliveries=2``
they used to be dead-lettered unrun ("worker lost: reserved 4 times, allowed 3"). Starts
of redelivered jobs are recorded (queuekit/starts.py), so only jobs that really started
that often are set aside: here none, since every job finishes in milliseconds.
"""

from __future__ import annotations

from queuekit.broker import QueueStats
from tests.faults.ledger import account
from tests.faults.rig import Rig
from tests.support import wait_until

JOBS = 200
KILLS = 12
WORKER_OPTIONS = ("--concurrency", "1", "--prefetch", "40", "--lease", "1")


def test_a_crash_loop_dead_letters_no_job_that_never_started(rig: Rig) -> None:
    keys = [f"job{n:03d}" for n in range(JOBS)]
    rig.enqueue(rig.message("faults.brief", key, 20) for key in keys)
    kills = 0
    worker = rig.worker(*WORKER_OPTIONS)
    while kills < KILLS:
        # kill while the worker holds a buffer: it has reserved jobs and started at least one
        before = sum(rig.ledger().start_counts().values())

        def started(before: int = before) -> bool:
            return sum(rig.ledger().start_counts().values()) > before or rig.stats().ready == 0

        wait_until(started, timeout=60, what="the worker starting a job")
        if rig.stats().ready == 0 and rig.stats().in_flight == 0:
            break
        worker.kill()
        worker.wait()
        kills += 1
        worker = rig.worker(*WORKER_OPTIONS)
    wait_until(lambda: set(keys) <= set(rig.ledger().done_counts()) or rig.stats().dead > 0, 180,
               "every job done (or some dead-lettered)")
    stats = rig.stats()
    letters = rig.app.broker.dead_letters(rig.queue)
    print(f"[{rig.target.kind}] {kills} kills; dead-lettered {len(letters)}: "
          f"{[(letter.attempts, letter.reason[:60]) for letter in letters[:3]]}")
    assert kills >= KILLS // 2, f"only {kills} kills landed"
    assert letters == [], f"{len(letters)} jobs dead-lettered unrun, e.g. {letters[0].reason}"
    assert set(keys) <= set(rig.ledger().done_counts())
    assert rig.stop([worker]) == [0]
    assert stats.dead == 0
    verdict = account(rig.ledger())
    assert verdict.lost == 0 and verdict.unexpected == 0, verdict.summary()
    assert rig.stats() == QueueStats()
