"""The ledger: the truth about every job, kept outside the broker under test.

Each process appends to its own file, one ``os.write`` per line in ``O_APPEND`` mode,
so a SIGKILL can at worst leave a torn last line, which the reader ignores.

Lines (fields separated by one space, times are ``time.time()`` seconds)::

    A <key> <t_call> <t_return>   producer: enqueue() returned, the job was accepted
    U <key> <t>                   producer: enqueue() raised; the outcome is unknown
    S <key> <pid> <t>             worker: the task body starts
    D <key> <pid> <t>             worker: the task body finished

A job's key is ``<producer>:<sequence>``, unique within one scenario run.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterable, Sequence, Set
from dataclasses import dataclass, field
from pathlib import Path

SUFFIX = ".ledger"


class LedgerWriter:
    """Appends lines to one process's ledger file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._pid = os.getpid()

    def _write(self, line: str) -> None:
        os.write(self._fd, (line + "\n").encode())

    def accepted(self, key: str, t_call: float, t_return: float) -> None:
        """The producer's enqueue call for ``key`` returned."""
        self._write(f"A {key} {t_call:.6f} {t_return:.6f}")

    def unknown(self, key: str) -> None:
        """The producer's enqueue call for ``key`` raised."""
        self._write(f"U {key} {time.time():.6f}")

    def start(self, key: str) -> None:
        """A worker starts the body of ``key``."""
        self._write(f"S {key} {self._pid} {time.time():.6f}")

    def done(self, key: str) -> None:
        """A worker finished the body of ``key``."""
        self._write(f"D {key} {self._pid} {time.time():.6f}")

    def close(self) -> None:
        """Close the file; safe to call twice."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


@dataclass(frozen=True)
class Event:
    """One start or done line: which job, which process, when, and where in its file."""

    key: str
    pid: int
    t: float
    order: int  # position within its own file: ties on ``t`` keep file order


@dataclass
class Ledger:
    """Every readable line of a scenario's ledger files."""

    accepted: dict[str, tuple[float, float]] = field(default_factory=dict)
    unknown: set[str] = field(default_factory=set)
    starts: list[Event] = field(default_factory=list)
    dones: list[Event] = field(default_factory=list)
    torn: int = 0  # lines that could not be parsed (a kill mid-write)

    def parse_line(self, line: str, order: int) -> None:
        """Add one line; count it as torn if it is malformed."""
        parts = line.split(" ")
        try:
            kind = parts[0]
            if kind == "A" and len(parts) == 4:
                self.accepted[parts[1]] = (float(parts[2]), float(parts[3]))
            elif kind == "U" and len(parts) == 3:
                float(parts[2])
                self.unknown.add(parts[1])
            elif kind in ("S", "D") and len(parts) == 4:
                event = Event(parts[1], int(parts[2]), float(parts[3]), order)
                (self.starts if kind == "S" else self.dones).append(event)
            else:
                self.torn += 1
        except ValueError:
            self.torn += 1

    def done_keys(self) -> set[str]:
        """Keys with at least one finished run."""
        return {event.key for event in self.dones}

    def start_order(self) -> list[Event]:
        """Start events of all processes merged by time (file order breaks ties)."""
        return sorted(self.starts, key=lambda e: (e.t, e.pid, e.order))


def read_ledger(folder: Path) -> Ledger:
    """Read every ledger file in ``folder``; torn or partial lines are counted, not fatal."""
    ledger = Ledger()
    for path in sorted(folder.glob(f"*{SUFFIX}")):
        data = path.read_bytes()
        complete = data.endswith(b"\n")
        lines = data.decode(errors="replace").split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        for index, line in enumerate(lines):
            if index == len(lines) - 1 and not complete:
                ledger.torn += 1  # a torn last line: the writer died mid-write
                continue
            ledger.parse_line(line, index)
    return ledger


@dataclass(frozen=True)
class Accounting:
    """The checker's verdict (the rabbitmq/jepsen ``total-queue`` categories)."""

    accepted: int
    unknown: int
    lost: int  # accepted, never finished, and not set aside as a dead letter
    recovered: int  # unknown outcome at enqueue, but finished
    unexpected: int  # finished but never enqueued: must always be 0
    duplicated: int  # finished more than once
    max_exec: int  # largest number of starts of one job
    torn: int
    lost_keys: tuple[str, ...] = ()
    dead_unfinished: int = 0  # accepted, never finished, in the dead-letter queue: kept there, not lost

    @property
    def dup_rate(self) -> float:
        """Duplicated jobs per accepted job."""
        return self.duplicated / self.accepted if self.accepted else 0.0

    def as_dict(self) -> dict[str, int | float | list[str]]:
        """JSON form (at most 20 lost keys, as examples)."""
        return {
            "accepted": self.accepted, "unknown": self.unknown, "lost": self.lost,
            "recovered": self.recovered, "unexpected": self.unexpected,
            "duplicated": self.duplicated, "dup_rate": self.dup_rate, "max_exec": self.max_exec,
            "torn_lines": self.torn, "lost_examples": list(self.lost_keys[:20]),
            "dead_unfinished": self.dead_unfinished,
        }


def account(ledger: Ledger, dead: Set[str] = frozenset()) -> Accounting:
    """Count lost, recovered, unexpected and duplicated jobs.

    ``dead``: keys of jobs the broker holds as dead letters. One that never finished is not
    lost (it waits in the dead-letter queue, to be requeued or removed); it is counted in
    ``dead_unfinished`` instead.
    """
    done_counts = Counter(event.key for event in ledger.dones)
    start_counts = Counter(event.key for event in ledger.starts)
    accepted = set(ledger.accepted)
    unfinished = accepted - set(done_counts)
    lost = sorted(unfinished - dead)
    known = accepted | ledger.unknown
    return Accounting(
        accepted=len(accepted),
        unknown=len(ledger.unknown - accepted),
        lost=len(lost),
        recovered=len((ledger.unknown - accepted) & set(done_counts)),
        unexpected=sum(1 for key in done_counts if key not in known),
        duplicated=sum(1 for count in done_counts.values() if count > 1),
        max_exec=max(start_counts.values(), default=0),
        torn=ledger.torn,
        lost_keys=tuple(lost),
        dead_unfinished=len(unfinished & dead),
    )


def redelivery_delays(ledger: Ledger, kills: Sequence[tuple[int, float]]) -> list[float]:
    """Seconds from each kill to the next start, elsewhere, of a job the killed process left unfinished."""
    finished_by = {(event.key, event.pid) for event in ledger.dones}
    starts_by_key: dict[str, list[Event]] = {}
    left_by_pid: dict[int, set[str]] = {}  # what each process started and never finished: one pass, not one per kill
    for event in ledger.starts:
        starts_by_key.setdefault(event.key, []).append(event)
        if (event.key, event.pid) not in finished_by:
            left_by_pid.setdefault(event.pid, set()).add(event.key)
    delays: list[float] = []
    for pid, t_kill in kills:
        for key in left_by_pid.get(pid, ()):
            later = [e.t for e in starts_by_key[key] if e.pid != pid and e.t >= t_kill]
            if later:
                delays.append(min(later) - t_kill)
    return delays


def split_key(key: str) -> tuple[str, int]:
    """``"p1:42"`` -> ``("p1", 42)``."""
    producer, _, seq = key.rpartition(":")
    return producer, int(seq)


def keys(producer: str, count: int, start: int = 0) -> Iterable[str]:
    """The keys ``producer:start`` .. ``producer:start+count-1``."""
    return (f"{producer}:{seq}" for seq in range(start, start + count))
