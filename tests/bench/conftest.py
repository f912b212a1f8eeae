"""The bench tests import ``queuekit_bench`` from benchmarks/ even when it is not pip-installed."""

from __future__ import annotations

import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"

try:
    import queuekit_bench  # noqa: F401
except ImportError:  # pragma: no cover - only without `pip install -e benchmarks`
    sys.path.insert(0, str(BENCHMARKS))
