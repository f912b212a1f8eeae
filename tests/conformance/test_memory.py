"""The conformance kit on the in-memory reference backend."""

from __future__ import annotations

import time
from pathlib import Path

from queuekit.backends.memory import MemoryBroker
from queuekit.testing import BrokerContract, Clock, default_settings, make_state_machine_test


class TestMemoryBroker(BrokerContract):
    """memory:// on an injected clock: every time-dependent check is exact."""

    injects_clock = True

    def open_broker(self, clock: Clock | None, workdir: Path) -> MemoryBroker:
        return MemoryBroker(clock=clock or time.time)


class TestMemoryBrokerRealClock(BrokerContract):
    """memory:// on the real clock, as server-clock backends run the kit."""

    short_lease = 0.3

    def open_broker(self, clock: Clock | None, workdir: Path) -> MemoryBroker:
        return MemoryBroker()


def _open_memory(clock: Clock | None, workdir: Path) -> MemoryBroker:
    return MemoryBroker(clock=clock or time.time)


TestMemoryMachine = make_state_machine_test(_open_memory, injects_clock=True, name="MemoryMachine")
TestMemoryMachineRealClock = make_state_machine_test(
    _open_memory, name="MemoryMachineRealClock", settings=default_settings(max_examples=25)
)


def _open_named(clock: Clock | None, workdir: Path) -> MemoryBroker:
    """``memory://name`` is shared in the process, so closing and reopening keeps its jobs."""
    return MemoryBroker.from_url(f"memory://conformance-{workdir.name}", clock=clock or time.time)


TestMemoryMachineReopened = make_state_machine_test(
    _open_named, injects_clock=True, reopen=True, name="MemoryMachineReopened",
    settings=default_settings(max_examples=25),
)
