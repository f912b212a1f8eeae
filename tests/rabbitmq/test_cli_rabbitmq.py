"""The command line on RabbitMQ in real processes: the app's queues are shown, and the one
line that matters is the only line (pika's own logging stays out of the way)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.rabbitmq.servers import delete_queues, shared_url_or_skip
from tests.rabbitmq.test_connect_errors import SECRET, closed_port, refused_url

pytestmark = pytest.mark.service

ROOT = Path(__file__).parents[2]
APP = """
import os
from queuekit import App
app = App(os.environ["QK_URL"])

@app.task(queue=os.environ["QK_QUEUE"])
def send(i: int) -> int:
    return i
"""


def queuekit(tmp: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    variables = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp), str(ROOT)]), **env}
    return subprocess.run([sys.executable, "-m", "queuekit", *args], env=variables, cwd=tmp,
                          capture_output=True, text=True, timeout=120)


def test_status_of_an_app_shows_its_waiting_jobs_and_nothing_on_stderr(tmp_path: Path) -> None:
    url, queue = shared_url_or_skip(), f"qk-cli-{uuid.uuid4().hex[:8]}"
    (tmp_path / "rabbit_app.py").write_text(APP)
    env = {"QK_URL": url, "QK_QUEUE": queue}
    try:
        subprocess.run([sys.executable, "-c", "from rabbit_app import send\nfor i in range(8): send.delay(i)"],
                       env={**os.environ, "PYTHONPATH": str(tmp_path), **env}, cwd=tmp_path, check=True, timeout=120)
        by_app = queuekit(tmp_path, "status", "rabbit_app:app", **env)
        by_name = queuekit(tmp_path, "status", "--queues", queue, "--url", url)
        for result in (by_app, by_name):
            assert result.returncode == 0, result.stderr
            assert result.stderr == ""
            assert [line.split()[:2] for line in result.stdout.splitlines()[2:]] == [[queue, "8"]]
        worker = queuekit(tmp_path, "worker", "rabbit_app:app", "--burst", **env)
        assert worker.returncode == 0, worker.stderr
        assert [line for line in worker.stderr.splitlines() if " pika" in line] == []
        assert "worker stopped: {'ack': 8}" in worker.stderr
    finally:
        delete_queues([queue], url)


def test_a_closed_port_is_one_line_without_waiting_for_connect_timeout(tmp_path: Path) -> None:
    result = queuekit(tmp_path, "status", "--url",
                      f"amqp://guest:{SECRET}@127.0.0.1:{closed_port()}/?connect_timeout=3600")
    assert result.returncode == 1  # within the subprocess timeout, so not after connect_timeout
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert "could not connect to RabbitMQ" in result.stderr and SECRET not in result.stderr


def test_a_wrong_password_is_one_line(tmp_path: Path) -> None:
    shared_url_or_skip()
    result = queuekit(tmp_path, "status", "--url", refused_url("password"))
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert "refused the connection" in result.stderr


def test_a_mistyped_url_option_is_one_line_naming_the_right_one(tmp_path: Path) -> None:
    result = queuekit(tmp_path, "status", "--url", "amqp://guest:guest@127.0.0.1:1/?max_priorty=5")
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert "unknown option 'max_priorty' for amqp:// URLs (did you mean 'max_priority'?)" in result.stderr
