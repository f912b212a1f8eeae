"""``queuekit dashboard`` in a real process on SQLite: it starts, serves the API, warns, and stops on Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.dashboard.jobs import build, fill
from tests.support import wait_until

ROOT = Path(__file__).resolve().parents[2]


class Dashboard:
    """A ``queuekit dashboard`` child process; its output goes to a file read as it grows."""

    def __init__(self, tmp: Path, *args: str, token: str | None = None) -> None:
        self.log = tmp / "dashboard.log"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        env.pop("QUEUEKIT_DASHBOARD_TOKEN", None)
        if token:
            env["QUEUEKIT_DASHBOARD_TOKEN"] = token
        with self.log.open("w") as out:
            self.process = subprocess.Popen([sys.executable, "-m", "queuekit", "dashboard", *args], cwd=tmp, env=env,
                                            stdout=out, stderr=subprocess.STDOUT, text=True)

    def output(self) -> str:
        return self.log.read_text()

    def url(self) -> str:
        wait_until(lambda: "Ctrl-C stops it" in self.output() or self.process.poll() is not None, timeout=60,
                   what="the dashboard's banner")
        found = re.search(r"(http://\S+?)/ for", self.output())
        assert found, self.output()
        return found.group(1)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=30)


@pytest.fixture
def started(tmp_path: Path) -> Iterator[list[Dashboard]]:
    children: list[Dashboard] = []
    yield children
    for child in children:
        if child.process.poll() is None:
            child.process.kill()
            child.process.wait(timeout=30)


def test_the_command_serves_the_api_and_stops_on_ctrl_c(tmp_path: Path, started: list[Dashboard]) -> None:
    app = build(f"sqlite:///{tmp_path / 'jobs.db'}")
    fill(app, "emails", ready=2, dead=1)
    app.close()
    started.append(dashboard := Dashboard(tmp_path, "--url", "sqlite:///jobs.db", "--port", "0"))
    base = dashboard.url()
    assert base.startswith("http://127.0.0.1:")
    assert "for sqlite:///jobs.db, read-only (no token)" in dashboard.output()
    queues = {row["name"]: row for row in httpx.get(base + "/api/queues", timeout=10).json()["queues"]}
    assert (queues["emails"]["ready"], queues["emails"]["delayed"], queues["emails"]["dead"]) == (2, 1, 1)
    refused = httpx.post(base + "/api/queues/emails/dead/purge", timeout=10)
    assert refused.status_code == 403
    assert dashboard.stop() == 0
    assert "Traceback" not in dashboard.output() and "INFO" not in dashboard.output()


_APP = """
from tests.dashboard.jobs import build

app = build("sqlite:///app.db")
app.schedule(app.get_task("tests.dash.ok"), every=3600, args=("hourly",), name="hourly")
"""


def test_given_an_app_it_shows_the_app_s_queues_and_schedules(tmp_path: Path, started: list[Dashboard]) -> None:
    (tmp_path / "dash_app.py").write_text(_APP)
    secret = tmp_path / "secret.txt"
    secret.write_text("s" * 24 + "\n")
    started.append(dashboard := Dashboard(tmp_path, "dash_app:app", "--port", "0", "--token-file", str(secret)))
    base = dashboard.url()
    assert "for sqlite:///app.db, actions need the token" in dashboard.output()
    queues = httpx.get(base + "/api/queues", timeout=10).json()["queues"]
    assert [row["name"] for row in queues] == ["default"]  # the app's queue, though nothing was enqueued
    [schedule] = httpx.get(base + "/api/schedules", timeout=10).json()["schedules"]
    assert schedule["name"] == "hourly"
    csrf = httpx.get(base + "/api/session", timeout=10).json()["csrf"]
    purged = httpx.post(base + "/api/queues/default/dead/purge", timeout=10,
                        headers={"Authorization": "Bearer " + "s" * 24, "X-CSRF-Token": csrf})
    assert purged.json() == {"purged": 0}
    assert dashboard.stop() == 0


def test_a_public_interface_without_a_token_is_warned_about(tmp_path: Path, started: list[Dashboard]) -> None:
    started.append(dashboard := Dashboard(tmp_path, "--url", "memory://", "--host", "0.0.0.0", "--port", "0"))
    dashboard.url()
    assert "warning: the dashboard listens on 0.0.0.0 without a token" in dashboard.output()
    assert dashboard.stop() == 0


def test_a_missing_sqlite_file_is_one_line_and_creates_nothing(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "queuekit", "dashboard", "--url", "sqlite:///nothing.db"],
                         cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode != 0 and len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert "nothing.db" in run.stderr and not (tmp_path / "nothing.db").exists()
