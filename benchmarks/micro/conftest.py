"""Fixtures for the micro-benchmarks: one App per backend named in QKBENCH_MICRO_BACKENDS.

    QKBENCH_MICRO_BACKENDS=memory,sqlite,redis pytest benchmarks/micro --benchmark-autosave

Default: memory and sqlite. Items are the shorthands or URLs ``queuekit bench --backends`` takes.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from queuekit_bench.targets import expand, probe
from queuekit_bench.tasks import bench_app

from queuekit import App
from tests.support import service_unavailable

SPECS = [s for s in os.environ.get("QKBENCH_MICRO_BACKENDS", "memory,sqlite").split(",") if s.strip()]
WORKDIR = Path(tempfile.mkdtemp(prefix="qkbench-micro-"))


@pytest.fixture(scope="session", params=SPECS)
def app(request: pytest.FixtureRequest) -> Iterator[App]:
    """An App with the benchmark tasks on one backend; skipped with the reason if it cannot run."""
    name, url = expand(str(request.param), WORKDIR, uuid.uuid4().hex[:6])
    target = probe(name, url)
    if target.skipped and "not answering" in target.skipped:
        service_unavailable(f"{name}: {target.skipped}")  # a failure under QUEUEKIT_REQUIRE_SERVICES=1
    if target.skipped:
        pytest.skip(f"capability not declared: {name}: {target.skipped}")
    created = bench_app(url, lease=300.0)
    yield created
    created.close()


@pytest.fixture
def queue(app: App) -> Iterator[str]:
    """A fresh queue, purged afterwards."""
    name = f"qkbench-micro-{uuid.uuid4().hex[:8]}"
    yield name
    app.broker.purge(name)
