"""A mixin that runs a conformance class with the standard library's codec forced (``QUEUEKIT_CODEC=json``).

With msgspec installed every app picks the fast codec; the suites that mix this in keep
the reference codec exercised end to end on the same brokers.
"""

from __future__ import annotations

import pytest

from queuekit import App
from queuekit.codec import ENV_CODEC
from queuekit.testing import Harness


class StdlibCodec:
    """Every app a test of this class makes encodes and decodes with the reference codec."""

    @pytest.fixture(autouse=True)
    def _stdlib_codec(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv(ENV_CODEC, "json")

    def test_apps_use_the_stdlib_codec(self, kit: Harness) -> None:
        assert App(broker=kit.broker, url="conformance://codec").codec.name == "json"
