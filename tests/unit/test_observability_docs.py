"""Every Python block of docs/observability.md runs as written, each in a fresh interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "observability.md"


def python_blocks() -> list[str]:
    found: list[str] = []
    current: list[str] | None = None
    for line in PAGE.read_text(encoding="utf-8").splitlines(keepends=True):
        if line.startswith("```"):
            if current is not None:
                found.append("".join(current))
                current = None
            elif line.strip() == "```python":
                current = []
        elif current is not None:
            current.append(line)
    return found


def test_the_page_has_its_three_python_blocks() -> None:
    assert len(python_blocks()) == 3


@pytest.mark.parametrize("index", range(3))
def test_a_python_block_runs(index: int, tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("QUEUEKIT_")}
    done = subprocess.run([sys.executable, "-c", python_blocks()[index]], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
