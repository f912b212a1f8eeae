"""The SQLite conformance kit again, with the standard library's codec forced (tests/stdlib_codec.py)."""

from __future__ import annotations

from tests.sql import test_conformance_sqlite
from tests.stdlib_codec import StdlibCodec


class TestSQLiteBrokerStdlibCodec(StdlibCodec, test_conformance_sqlite.TestSQLiteBroker):
    """SQLite on an injected clock, every app on the reference codec."""
