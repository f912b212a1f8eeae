"""Test brokers with other declared capabilities, registered under test-only schemes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from queuekit.backends.memory import MemoryBroker
from queuekit.broker import Capabilities, Durability, QueueStats
from queuekit.errors import ConfigurationError, ConnectionLost


class PlainBroker(MemoryBroker):
    """A broker that declares no priorities, no delays and no results."""

    schemes: ClassVar[tuple[str, ...]] = ("qkplain",)
    capabilities = Capabilities(durability=Durability.NONE, priorities=False, delays=False, results=False,
                                cross_process=False)


class DownBroker(MemoryBroker):
    """A broker whose server never answers."""

    schemes: ClassVar[tuple[str, ...]] = ("qkdown",)

    def stats(self, queues: Sequence[str] | None = None) -> dict[str, QueueStats]:
        raise ConnectionLost("connection refused (password hunter2 must not show)")

    @classmethod
    def from_url(cls, url: str, **options: Any) -> DownBroker:
        return cls()


class UnopenableBroker(MemoryBroker):
    """A broker that cannot be opened (think: its tables were never created)."""

    schemes: ClassVar[tuple[str, ...]] = ("qkunopenable",)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> UnopenableBroker:
        raise ConfigurationError("the queuekit tables are missing: run the migration")
