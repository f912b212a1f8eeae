"""``BrokerContract``: the pytest suite every backend runs by subclassing it.

::

    from queuekit.backends.memory import MemoryBroker
    from queuekit.testing import BrokerContract

    class TestMemoryBroker(BrokerContract):
        injects_clock = True

        def open_broker(self, clock, workdir):
            return MemoryBroker(clock=clock)

Each test gets a fresh broker from :meth:`BrokerContract.open_broker` and unique queue
names; tests for capabilities the broker does not declare are skipped with a reason
starting ``capability not declared:``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from queuekit.broker import Broker
from queuekit.testing.capabilities import required_by, skip_reason
from queuekit.testing.clock import Clock, FakeClock
from queuekit.testing.contract_admin import AdminContract
from queuekit.testing.contract_app import AppContract
from queuekit.testing.contract_basic import BasicContract
from queuekit.testing.contract_capabilities import CapabilityContract
from queuekit.testing.contract_concurrency import ConcurrencyContract
from queuekit.testing.contract_control import ControlContract
from queuekit.testing.contract_keyvalue import JobRemovalContract, KeyValueContract
from queuekit.testing.contract_leases import LeaseContract
from queuekit.testing.contract_middleware import MiddlewareContract
from queuekit.testing.contract_optional import (
    DedupContract,
    JobBrowserContract,
    JobStateContract,
    PausableContract,
    QueueDeletionContract,
    ResultsContract,
)
from queuekit.testing.contract_workflow import WorkflowContract
from queuekit.testing.harness import Harness


class BrokerContract(
    BasicContract,
    LeaseContract,
    AdminContract,
    DedupContract,
    ResultsContract,
    JobStateContract,
    QueueDeletionContract,
    PausableContract,
    JobBrowserContract,
    KeyValueContract,
    JobRemovalContract,
    ConcurrencyContract,
    AppContract,
    ControlContract,
    WorkflowContract,
    MiddlewareContract,
    CapabilityContract,
):
    """Subclass as ``Test<Something>`` and implement :meth:`open_broker`.

    Class attributes to tune:

    * ``injects_clock``: the broker accepts the clock passed to ``open_broker`` and uses
      it for every due, lease and expiry decision; the tests then move time by hand.
    * ``short_lease``: seconds for leases, delays and TTLs that must run out during a
      test on a real clock (ignored when the clock is injected).
    * ``patience``: seconds to wait for something that should happen.
    """

    injects_clock: ClassVar[bool] = False
    short_lease: ClassVar[float] = 1.0
    patience: ClassVar[float] = 30.0

    def open_broker(self, clock: Clock | None, workdir: Path) -> Broker:
        """Open a fresh, isolated broker (``clock`` is None unless ``injects_clock``).

        ``workdir`` is an empty directory for files (e.g. an SQLite database). Skip with
        ``pytest.skip("service unavailable: ...")`` when a needed server is unreachable.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement open_broker(clock, workdir)")

    @pytest.fixture
    def kit(self, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
        """The harness around a fresh broker; skips tests for undeclared capabilities."""
        clock = FakeClock() if self.injects_clock else None
        harness = Harness(self.open_broker, tmp_path, clock=clock, short=self.short_lease, patience=self.patience)
        try:
            reason = skip_reason(harness.broker.capabilities, required_by(request.function))
            if reason:
                pytest.skip(reason)
            yield harness
        finally:
            harness.close()
