"""The memory conformance kit again, with the standard library's codec forced (tests/stdlib_codec.py)."""

from __future__ import annotations

from tests.conformance import test_memory
from tests.stdlib_codec import StdlibCodec


class TestMemoryBrokerStdlibCodec(StdlibCodec, test_memory.TestMemoryBroker):
    """memory:// on an injected clock, every app on the reference codec."""
