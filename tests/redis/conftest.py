"""Fixtures for the Redis backend tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.redis.servers import PrivateRedis, delete_prefix, shared_url_or_skip, unique_prefix


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The shared server's URL with a prefix of this test's own; its keys are deleted after."""
    url = shared_url_or_skip()
    prefix = unique_prefix()
    yield f"{url}?prefix={prefix}"
    delete_prefix(url, prefix)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    """A running redis-server of this test's own, without persistence."""
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.kill()
