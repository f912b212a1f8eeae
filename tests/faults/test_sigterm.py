"""Research plan 5.2: SIGTERM is the graceful signal.

A worker holds six jobs: two running (they wait for a release file) and four
prefetched. On SIGTERM it must start nothing new, hand the four back at once (the
lease is 60 s, so only an immediate hand-back makes them ready while the worker still
runs), finish the two, exit 0; the four then run on the next worker as their first
attempt. Nothing is lost and nothing runs twice.
"""

from __future__ import annotations

import time

from queuekit.broker import QueueStats
from tests.faults.ledger import account
from tests.faults.rig import Rig
from tests.support import wait_until

CONCURRENCY, PREFETCH = 2, 4
LONG_LEASE = "60"


def test_sigterm_finishes_running_jobs_and_hands_back_prefetched_ones_at_once(rig: Rig) -> None:
    keys = [f"hold{n}" for n in range(CONCURRENCY + PREFETCH)]
    rig.enqueue(rig.message("faults.hold", key) for key in keys)
    first = rig.worker("--concurrency", str(CONCURRENCY), "--prefetch", str(PREFETCH), "--lease", LONG_LEASE,
                       "--grace", "60")
    wait_until(lambda: len(rig.ledger().starts) == CONCURRENCY, 60, "the first jobs to start")
    wait_until(lambda: rig.stats().ready == 0, 60, "the worker to hold every job")

    signalled = time.time()
    first.terminate()
    wait_until(lambda: rig.stats().ready == PREFETCH, 20, "the prefetched jobs to be handed back")
    handed_back = time.time() - signalled
    assert first.poll() is None, "the worker is still finishing its running jobs"
    (rig.folder / "release").touch()
    assert first.wait(60) == 0, rig.log(first)

    second = rig.worker("--burst", "--lease", LONG_LEASE)
    assert second.wait(120) == 0, rig.log(second)
    ledger = rig.ledger()
    verdict = account(ledger)
    print(f"[{rig.target.kind}] SIGTERM: {verdict.summary()} handed back {PREFETCH} jobs within {handed_back:.2f}s")
    ran_first = {run.key for run in ledger.starts if run.pid == first.pid}
    assert len(ran_first) == CONCURRENCY, "nothing new starts after SIGTERM"
    assert {run.key for run in ledger.dones if run.pid == first.pid} == ran_first, "running jobs finish"
    later = [run for run in ledger.starts if run.pid == second.pid]
    assert sorted(run.key for run in later) == sorted(set(keys) - ran_first)
    assert {run.attempt for run in later} == {1}, "a handed-back job has not spent an attempt"
    assert (verdict.lost, verdict.duplicated, verdict.unexpected) == (0, 0, 0), verdict.summary()
    assert rig.stats() == QueueStats()
