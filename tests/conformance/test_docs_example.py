"""The test module shown in docs/writing-a-backend.md runs as written and passes."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "writing-a-backend.md"


def _blocks() -> list[str]:
    found: list[str] = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    return found


def _example() -> str:
    [example] = [block for block in _blocks() if block.startswith("# tests/test_conformance.py")]
    return example


def test_the_documented_conformance_module_passes(tmp_path: Path) -> None:
    module = tmp_path / "test_conformance.py"
    module.write_text(_example(), encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(module)],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    summary = run.stdout.strip().splitlines()[-1]
    assert re.search(r"\b\d{2,} passed\b", summary), summary
    assert "failed" not in summary and "error" not in summary, summary


def test_the_documented_protocol_matches_the_real_one() -> None:
    namespace: dict[str, object] = {}
    exec(compile(_blocks()[0], str(DOC), "exec"), namespace)
    documented = namespace["Broker"]
    from queuekit.broker import Broker

    names = {name for name in vars(Broker) if not name.startswith("_")} | {"capabilities"}
    assert {name for name in vars(documented) if not name.startswith("_")} | {"capabilities"} == names
