"""The command line and a producer script on Redis in real processes: no durability chatter
outside a worker's start line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.service

ROOT = Path(__file__).parents[2]
APP = """
import os
from queuekit import App
app = App(os.environ["QK_URL"])

@app.task(queue="mail")
def send(i: int) -> int:
    return i
"""


def run(tmp: Path, url: str, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp), str(ROOT)]), "QK_URL": url}
    return subprocess.run([sys.executable, *argv], env=env, cwd=tmp, capture_output=True, text=True, timeout=120)


def test_producers_and_status_print_nothing_and_a_worker_says_durability_once(
    redis_url: str, tmp_path: Path
) -> None:
    (tmp_path / "redis_app.py").write_text(APP)
    producer = run(tmp_path, redis_url, "-c", "from redis_app import send\nfor i in range(3): send.delay(i)")
    assert producer.returncode == 0 and producer.stderr == ""
    status = run(tmp_path, redis_url, "-m", "queuekit", "status", "redis_app:app")
    assert status.returncode == 0 and status.stderr == ""
    assert [line.split()[:2] for line in status.stdout.splitlines()[2:]] == [["mail", "3"]]
    worker = run(tmp_path, redis_url, "-m", "queuekit", "worker", "redis_app:app", "--burst")
    assert worker.returncode == 0, worker.stderr
    lines = worker.stderr.splitlines()
    assert len(lines) == 2, worker.stderr  # started (with the durability), stopped
    assert "worker started" in lines[0] and " durability=" in lines[0]
    assert "worker stopped: {'ack': 3}" in lines[1]


def test_a_mistyped_url_option_is_one_line(redis_url: str, tmp_path: Path) -> None:
    result = run(tmp_path, redis_url, "-m", "queuekit", "status", "--url", redis_url + "&max_blok=2")
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert "unknown option 'max_blok' for redis:// URLs (did you mean 'max_block'?)" in result.stderr
