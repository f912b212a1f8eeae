"""A mixin that runs a conformance class with the standard library's codec forced (``QUEUEKIT_CODEC=json``).

With msgspec installed every app picks the fast codec; the suites that mix this in keep
the reference codec exercised end to end on the same brokers.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from queuekit import App
from queuekit.codec import ENV_CODEC, default_codec
from queuekit.testing import Harness


class StdlibCodec:
    """Every app a test of this class makes encodes and decodes with the reference codec."""

    @pytest.fixture(autouse=True)
    def _stdlib_codec(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
        monkeypatch.setenv(ENV_CODEC, "json")
        default_codec.cache_clear()  # outcomes in the result stores too
        yield
        monkeypatch.undo()
        default_codec.cache_clear()

    def test_apps_use_the_stdlib_codec(self, kit: Harness) -> None:
        assert App(broker=kit.broker, url="conformance://codec").codec.name == "json"
        assert default_codec().name == "json"
