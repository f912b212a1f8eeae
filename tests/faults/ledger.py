"""The fault suite's ledger: what really happened, kept outside the broker under test.

Each process appends to a file of its own in one folder, one ``os.write`` per line in
``O_APPEND`` mode, so a SIGKILL leaves at worst a torn last line, which the reader
skips. Lines (space-separated; ``t`` is ``time.time()``)::

    A <key>                        the producer's enqueue returned: the job was accepted
    E <key> <exception class>      the producer's enqueue raised: the job may or may not be stored
    S <key> <pid> <attempt> <t>    a worker starts the task body
    D <key> <pid> <t>              the task body finished

The checker sorts jobs into the jepsen ``total-queue`` categories (lost, unexpected,
duplicated). A small test-side copy of the benchmark's idea, so that these tests do
not depend on the benchmark package.
"""

from __future__ import annotations

import collections
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

SUFFIX = ".ledger"


class LedgerWriter:
    """Appends lines to this process's own file in ``folder`` (reopened after a fork)."""

    def __init__(self, folder: Path, role: str) -> None:
        self.folder = folder
        self.role = role
        self._fd = -1
        self._pid = 0

    def _write(self, line: str) -> None:
        if self._pid != os.getpid():
            path = self.folder / f"{self.role}-{os.getpid()}{SUFFIX}"
            self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            self._pid = os.getpid()
        os.write(self._fd, (line + "\n").encode())

    def accepted(self, keys: list[str]) -> None:
        """The producer's enqueue of ``keys`` returned."""
        for key in keys:
            self._write(f"A {key}")

    def raised(self, key: str, error: BaseException) -> None:
        """The producer's enqueue of ``key`` raised ``error``."""
        self._write(f"E {key} {type(error).__name__}")

    def start(self, key: str, attempt: int) -> None:
        """A worker starts the body of ``key`` on this attempt."""
        self._write(f"S {key} {os.getpid()} {attempt} {time.time():.6f}")

    def done(self, key: str) -> None:
        """A worker finished the body of ``key``."""
        self._write(f"D {key} {os.getpid()} {time.time():.6f}")


@dataclass(frozen=True)
class Run:
    """One start or done line."""

    key: str
    pid: int
    t: float
    attempt: int = 0


@dataclass
class Ledger:
    """Every complete line of a folder's ledger files."""

    accepted: set[str] = field(default_factory=set)
    raised: dict[str, str] = field(default_factory=dict)  # key: the exception class the enqueue raised
    starts: list[Run] = field(default_factory=list)
    dones: list[Run] = field(default_factory=list)
    torn: int = 0

    def add(self, line: str) -> None:
        """Parse one line; count it as torn when it does not parse."""
        parts = line.split(" ")
        try:
            if parts[0] == "A" and len(parts) == 2:
                self.accepted.add(parts[1])
            elif parts[0] == "E" and len(parts) == 3:
                self.raised[parts[1]] = parts[2]
            elif parts[0] == "S" and len(parts) == 5:
                self.starts.append(Run(parts[1], int(parts[2]), float(parts[4]), int(parts[3])))
            elif parts[0] == "D" and len(parts) == 4:
                self.dones.append(Run(parts[1], int(parts[2]), float(parts[3])))
            else:
                self.torn += 1
        except ValueError:
            self.torn += 1

    def done_counts(self) -> collections.Counter[str]:
        """Finished runs per key."""
        return collections.Counter(run.key for run in self.dones)

    def start_counts(self) -> collections.Counter[str]:
        """Started runs per key."""
        return collections.Counter(run.key for run in self.starts)


def read_ledger(folder: Path) -> Ledger:
    """Read every ledger file in ``folder``, skipping a torn last line."""
    ledger = Ledger()
    for path in sorted(folder.glob(f"*{SUFFIX}")):
        text = path.read_bytes().decode(errors="replace")
        lines = text.split("\n")
        if lines[-1]:  # no newline at the end: the writer died mid-line
            ledger.torn += 1
        for line in lines[:-1]:
            ledger.add(line)
    return ledger


@dataclass(frozen=True)
class Accounting:
    """The checker's verdict on one run."""

    accepted: int
    lost: int  # accepted, never finished
    unexpected: int  # finished, never accepted: must always be 0
    duplicated: int  # finished more than once
    max_exec: int  # most starts of one job
    lost_keys: tuple[str, ...] = ()

    def summary(self) -> str:
        """One line for assertion messages and reports."""
        return (f"accepted={self.accepted} lost={self.lost} unexpected={self.unexpected} "
                f"duplicated={self.duplicated} max_exec={self.max_exec}")


def account(ledger: Ledger) -> Accounting:
    """Sort the ledger's jobs into lost, unexpected and duplicated."""
    done = ledger.done_counts()
    lost = sorted(ledger.accepted - set(done))
    return Accounting(
        accepted=len(ledger.accepted),
        lost=len(lost),
        unexpected=len(set(done) - ledger.accepted),
        duplicated=sum(1 for count in done.values() if count > 1),
        max_exec=max(ledger.start_counts().values(), default=0),
        lost_keys=tuple(lost[:20]),
    )
