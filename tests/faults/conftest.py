"""Fixtures of the fault suite: every test runs once per backend that crosses processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.rig import Rig
from tests.faults.targets import Target, open_target, target_params


@pytest.fixture(params=target_params())
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    """An isolated queue (and tables or keys) on each backend in turn; removed afterwards."""
    made = open_target(request.param, tmp_path)
    yield made
    made.cleanup()


@pytest.fixture
def rig(target: Target, tmp_path: Path) -> Iterator[Rig]:
    """A rig with a 2 s lease on the target; its worker processes are killed at teardown."""
    made = Rig(target, tmp_path)
    yield made
    made.close()
