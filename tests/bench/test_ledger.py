"""The ledger: per-process append-only files and the lost/duplicated accounting."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from queuekit_bench.ledger import Ledger, LedgerWriter, account, read_ledger, redelivery_delays, split_key


def test_lines_written_by_several_processes_are_read_back(tmp_path: Path) -> None:
    producer = LedgerWriter(tmp_path / "producer.ledger")
    worker = LedgerWriter(tmp_path / "worker-1.ledger")
    producer.accepted("p:0", 1.0, 1.1)
    producer.accepted("p:1", 1.2, 1.3)
    worker.start("p:0")
    worker.done("p:0")
    producer.close()
    worker.close()
    worker.close()  # twice is harmless
    ledger = read_ledger(tmp_path)
    assert set(ledger.accepted) == {"p:0", "p:1"}
    assert [e.key for e in ledger.starts] == ["p:0"] and ledger.done_keys() == {"p:0"}
    result = account(ledger)
    assert (result.accepted, result.lost, result.lost_keys) == (2, 1, ("p:1",))


def test_a_torn_last_line_is_counted_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "w.ledger").write_text("S p:0 7 1.5\nD p:0 7 1.6\nD p:1 7 1.")
    (tmp_path / "bad.ledger").write_text("garbage here\nS p:2 notapid 1.0\n")
    ledger = read_ledger(tmp_path)
    assert ledger.done_keys() == {"p:0"}
    assert ledger.torn == 3


def _ledger(jobs: list[tuple[str, int, int]]) -> Ledger:
    """jobs: (kind at enqueue: 'A' accepted, 'U' unknown, '-' never enqueued, starts, dones)."""
    ledger = Ledger()
    for index, (kind, starts, dones) in enumerate(jobs):
        key = f"p:{index}"
        if kind == "A":
            ledger.parse_line(f"A {key} 1.0 1.1", 0)
        elif kind == "U":
            ledger.parse_line(f"U {key} 1.0", 0)
        for n in range(starts):
            ledger.parse_line(f"S {key} {100 + n} {2.0 + n}", n)
        for n in range(dones):
            ledger.parse_line(f"D {key} {100 + n} {2.5 + n}", n)
    return ledger


job = st.tuples(st.sampled_from("AU-"), st.integers(0, 3), st.integers(0, 3)).map(
    lambda t: (t[0], max(t[1], t[2]), t[2]))  # a job never finishes more often than it starts


@settings(max_examples=200)
@given(st.lists(job, max_size=40))
def test_accounting_categories(jobs: list[tuple[str, int, int]]) -> None:
    result = account(_ledger(jobs))
    assert result.accepted == sum(1 for k, _, _ in jobs if k == "A")
    assert result.unknown == sum(1 for k, _, _ in jobs if k == "U")
    assert result.lost == sum(1 for k, _, d in jobs if k == "A" and d == 0)
    assert result.recovered == sum(1 for k, _, d in jobs if k == "U" and d > 0)
    assert result.unexpected == sum(1 for k, _, d in jobs if k == "-" and d > 0)
    assert result.duplicated == sum(1 for _, _, d in jobs if d > 1)
    assert result.max_exec == max((s for _, s, _ in jobs), default=0)
    assert result.dup_rate >= 0.0


def test_redelivery_is_measured_from_the_kill_to_the_next_start_elsewhere() -> None:
    ledger = Ledger()
    for line in ("A p:0 0 0", "S p:0 11 1.0", "S p:0 12 4.0", "D p:0 12 4.1",  # p:0 died with pid 11
                 "A p:1 0 0", "S p:1 11 0.5", "D p:1 11 0.6"):  # p:1 finished before the kill
        ledger.parse_line(line, 0)
    assert redelivery_delays(ledger, [(11, 2.0)]) == [2.0]


def test_split_key() -> None:
    assert split_key("r1p0:42") == ("r1p0", 42)
