"""Issue 12 item 4: a crash loop must not dead-letter innocent jobs that never started.

One worker with a deep prefetch buffer is SIGKILLed over and over, each time soon after it
has reserved a batch, and restarted. Jobs that sat unstarted in the buffers of several
killed workers come back with reservations spent; with the default ``redeliveries=2``
they used to be dead-lettered unrun ("worker lost: reserved 4 times, allowed 3"). Starts
of redelivered jobs are recorded (queuekit/starts.py), so only jobs that really started
that often are set aside: here none, since each kill comes after the worker finished a job.
"""

from __future__ import annotations

from queuekit.broker import QueueStats
from tests.faults.ledger import account
from tests.faults.rig import Rig
from tests.support import wait_until

JOBS = 200
KILLS = 12
SLEEP_MS = 200  # slow enough that a kill lands before the queue drains, however late a busy machine sees the start
WORKER_OPTIONS = ("--concurrency", "1", "--prefetch", "40", "--lease", "1")
FINISH_OPTIONS = ("--concurrency", "8", "--prefetch", "40", "--lease", "1")  # drains the rest after the kills


def test_a_crash_loop_dead_letters_no_job_that_never_started(rig: Rig) -> None:
    keys = [f"job{n:03d}" for n in range(JOBS)]
    rig.enqueue(rig.message("faults.brief", key, SLEEP_MS) for key in keys)
    kills = 0
    worker = rig.worker(*WORKER_OPTIONS)
    while kills < KILLS:
        # Kill while the worker holds a buffer: it has reserved jobs and finished one. Waiting
        # for a finish, not a start, keeps a job from being killed in each of its runs (a job
        # killed while it ran three times is rightly set aside: that is a poison job).
        before = sum(rig.ledger().done_counts().values())

        def finished(before: int = before) -> bool:
            return sum(rig.ledger().done_counts().values()) > before or rig.stats().ready == 0

        wait_until(finished, timeout=60, what="the worker finishing a job")
        if rig.stats().ready == 0 and rig.stats().in_flight == 0:
            break
        worker.kill()
        worker.wait()
        kills += 1
        worker = rig.worker(*(WORKER_OPTIONS if kills < KILLS else FINISH_OPTIONS))
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
