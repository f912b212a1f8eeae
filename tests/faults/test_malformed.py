"""Research plan 5.9: malformed messages written straight into the broker.

Bodies no producer could send (see :mod:`tests.faults.bad_bodies`) go in through the
Broker protocol, interleaved with good signed jobs, to a worker process that verifies
signatures. The worker must survive; each bad message is dead-lettered on its first
delivery with a reason naming the defect; every good job completes once; no raw body
reaches the log; and the worker's ``sys.modules`` is the same before and after (a
task reports it), so no message made it import anything.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from queuekit.broker import Envelope, QueueStats
from queuekit.message import new_id
from tests.faults.bad_bodies import MARK, UNIMPORTED_MODULE, BadBody, bad_bodies
from tests.faults.fault_app import MAX_SIZE
from tests.faults.ledger import account
from tests.faults.rig import Rig
from tests.faults.targets import Target
from tests.support import wait_until

SECRET = "faults-signing-key"
GOOD = 32


@pytest.fixture
def signed(target: Target, tmp_path: Path) -> Iterator[Rig]:
    """A rig whose producer and workers sign and verify with :data:`SECRET`."""
    made = Rig(target, tmp_path, secret=SECRET)
    yield made
    made.close()


def _settled(rig: Rig, keys: set[str], dead: int) -> bool:
    return keys <= set(rig.ledger().done_counts()) and rig.stats() == QueueStats(dead=dead)


def _modules(rig: Rig, key: str, dead: int) -> set[str]:
    """The worker's ``sys.modules`` names, as reported by a task run now."""
    rig.enqueue([rig.message("faults.modules", key)])
    wait_until(lambda: _settled(rig, {key}, dead), 60, f"the {key} modules report")
    return set((rig.folder / f"modules-{key}.txt").read_text().split("\n"))


def _interleaved(rig: Rig, bad: list[BadBody]) -> tuple[dict[str, BadBody], set[str]]:
    """Enqueue bad bodies between good jobs in one broker call; return them by id, and the good keys."""
    envelopes, by_id, good = [], {}, set()
    for n in range(GOOD):
        message = rig.message("faults.work", f"good{n:02d}")
        envelopes.append(rig.app.envelope(message))
        good.add(f"good{n:02d}")
        if n < len(bad):
            job_id = new_id()
            by_id[job_id] = bad[n]
            envelopes.append(Envelope(job_id, rig.queue, bad[n].body))
    assert len(by_id) == len(bad), "more bad bodies than good jobs to put between"
    rig.app.broker.enqueue(envelopes)
    rig.writer.accepted(sorted(good))
    return by_id, good


def test_malformed_messages_are_dead_lettered_at_once_and_import_nothing(signed: Rig) -> None:
    rig = signed
    worker = rig.worker("--concurrency", "2", "--lease", "5")
    rig.enqueue([rig.message("faults.work", "warm"), rig.message("faults.explode", "warm-explode")])
    wait_until(lambda: _settled(rig, {"warm"}, dead=1), 60, "the warm-up jobs")
    before = _modules(rig, "before", dead=1)  # after every code path a good job takes has run once

    assert rig.app.signer is not None
    bad = bad_bodies(rig.app.signer, MAX_SIZE)
    by_id, good = _interleaved(rig, bad)
    wait_until(lambda: _settled(rig, good, 1 + len(bad)), 120, "good jobs done and bad ones dead-lettered")
    after = _modules(rig, "after", dead=1 + len(bad))

    assert worker.poll() is None, "the worker survives every bad message"
    letters = {letter.id: letter for letter in rig.app.broker.dead_letters(rig.queue, limit=100)}
    for job_id, case in by_id.items():
        letter = letters.get(job_id)
        assert letter is not None, f"{case.name}: not dead-lettered"
        assert letter.reason.startswith(case.reason), f"{case.name}: reason {letter.reason[:200]!r}"
        assert letter.attempts == 1, f"{case.name}: dead-lettered at delivery {letter.attempts}, not the first"
    assert UNIMPORTED_MODULE not in after
    assert after - before == set(), "a malformed message made the worker import modules"
    assert rig.stop([worker]) == [0]
    output = rig.log(worker)
    assert MARK not in output, "a raw message body reached the log"
    assert max(len(line.encode()) for line in output.splitlines()) <= 1024
    verdict = account(rig.ledger())
    assert (verdict.lost, verdict.duplicated, verdict.unexpected) == (1, 0, 0), verdict.summary()  # warm-explode
    print(f"[{rig.target.kind}] malformed: {len(bad)} bad bodies dead-lettered at delivery 1, "
          f"{len(good)} good jobs done once, sys.modules unchanged ({len(after)} modules)")
