"""The command line as a new user meets it, on SQLite in real processes: which queues a
worker takes, where status looks, what a read creates, one-line errors, dead letters, jobs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("queuekit_sql", reason="capability not declared: queuekit-sql is not installed")

HERE = Path(__file__).parent
MAIL = "mail_app:app"


class Shell:
    """Runs ``queuekit`` in a private working directory with the mail app on its own database."""

    def __init__(self, tmp: Path) -> None:
        self.cwd = tmp
        self.mail_db = tmp / "mail.db"
        unset = ("QUEUEKIT_BROKER_URL", "QUEUEKIT_RESULTS_URL")
        self.vars = {key: value for key, value in os.environ.items() if key not in unset}
        self.vars.update(
            QK_MAIL_URL=f"sqlite:///{self.mail_db}",
            QK_LEDGER=str(tmp / "ledger.txt"),
            PYTHONPATH=os.pathsep.join([str(HERE), str(HERE.parents[1])]),
        )

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "queuekit", *args], env=self.vars, cwd=self.cwd,
                              capture_output=True, text=True, timeout=120)

    def python(self, code: str) -> str:
        done = subprocess.run([sys.executable, "-c", code], env=self.vars, cwd=self.cwd,
                              capture_output=True, text=True, timeout=120, check=True)
        return done.stdout


@pytest.fixture
def sh(tmp_path: Path) -> Shell:
    return Shell(tmp_path)


def one_error_line(result: subprocess.CompletedProcess[str], code: int) -> str:
    assert result.returncode == code, result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_a_worker_without_queues_leaves_another_apps_jobs_alone(sh: Shell) -> None:
    sh.python(
        "import os\nfrom queuekit import App\n"
        "other = App(os.environ['QK_MAIL_URL'])\n"
        "@other.task(name='other.stranger')\ndef stranger(): pass\n"
        "stranger.delay()\n"
        "from mail_app import send\nsend.delay(1)\n"
    )
    worker = sh.run("worker", MAIL, "--burst")
    assert worker.returncode == 0, worker.stderr
    assert "queues=emails " in worker.stderr
    status = json.loads(sh.run("status", "--queues", "default,emails", "--url", f"sqlite:///{sh.mail_db}",
                               "--json").stdout)
    assert status["default"] == {"ready": 1, "delayed": 0, "in_flight": 0, "dead": 0, "state_reset": None}
    assert status["emails"]["ready"] == 0 and status["emails"]["dead"] == 0


def test_status_of_an_app_reads_the_apps_broker_and_creates_nothing(sh: Shell) -> None:
    sh.python("from mail_app import send\nfor i in range(3): send.delay(i)")
    before = sorted(p.name for p in sh.cwd.iterdir())
    status = sh.run("status", MAIL)
    assert status.returncode == 0, status.stderr
    assert f"broker: sqlite:///{sh.mail_db}" in status.stdout
    assert [line.split()[:2] for line in status.stdout.splitlines()[2:]] == [["emails", "3"]]
    assert status.stderr == ""
    assert sorted(p.name for p in sh.cwd.iterdir()) == before  # no queuekit.db beside it


def test_reading_commands_without_a_database_create_none(sh: Shell) -> None:
    line = one_error_line(sh.run("status"), 1)
    assert f"no SQLite database at {sh.cwd / 'queuekit.db'}" in line and "queuekit status myapp.tasks:app" in line
    assert "no SQLite database" in one_error_line(sh.run("job", "0" * 32), 1)
    assert "no SQLite database" in one_error_line(sh.run("dlq", "list", "default"), 1)
    assert list(sh.cwd.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "wanted"),
    [
        (("status", "--queues", "bad queue!"), "invalid queue name 'bad queue!'"),
        (("worker", MAIL, "--queues", "emails,bad queue!"), "invalid queue name 'bad queue!'"),
        (("dlq", "list", "bad queue!"), "invalid queue name 'bad queue!'"),
        (("statsu",), "did you mean 'status'?"),
        (("worker", "no_such_module:app"), "cannot import module 'no_such_module'"),
        (("worker", "mail_app:ap"), "has no attribute 'ap'; the Apps in mail_app: mail_app:app"),
        (("status", "--url", "sqlite:///x.db?synchronus=full"), "did you mean 'synchronous'?"),
        (("status", "--url", "memory://?colour=1"), "unknown option 'colour' for memory:// URLs"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(sh: Shell, args: tuple[str, ...], wanted: str) -> None:
    line = one_error_line(sh.run(*args), 2)
    assert wanted in line
    assert "Traceback" not in line
    assert not (sh.cwd / "x.db").exists()


def test_dlq_list_says_how_many_of_how_many(sh: Shell) -> None:
    sh.python("from mail_app import bounce\nfor i in range(3): bounce.delay(i)")
    assert sh.run("worker", MAIL, "--burst").returncode == 0
    listing = sh.run("dlq", "list", "emails", "--app", MAIL, "--limit", "1")
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.splitlines()[-1] == "1 of 3 dead letter(s) in emails"
    assert sh.run("dlq", "list", "emails", "--app", MAIL).stdout.splitlines()[-1] == "3 dead letter(s) in emails"


def test_job_shows_a_failed_jobs_traceback_and_a_succeeded_jobs_result(sh: Shell) -> None:
    ids = sh.python("from mail_app import bounce, send\nprint(bounce.delay(5).id)\nprint(send.delay(6).id)").split()
    assert sh.run("worker", MAIL, "--burst").returncode == 0
    failed = sh.run("job", ids[0], MAIL)
    assert failed.returncode == 0, failed.stderr
    assert "status:   failed" in failed.stdout and "attempts: 1" in failed.stdout
    assert "ValueError: mailbox 5 is full" in failed.stdout
    assert "traceback:" in failed.stdout and 'raise ValueError(f"mailbox {item} is full")' in failed.stdout
    done = json.loads(sh.run("job", ids[1], "--url", f"sqlite:///{sh.mail_db}", "--json").stdout)
    assert done["status"] == "succeeded" and done["result"] == 6 and done["created"] and done["finished"]
    unknown = one_error_line(sh.run("job", "f" * 32, MAIL), 1)
    assert f"job {'f' * 32}: unknown" in unknown


def test_worker_help_describes_the_adaptive_prefetch(sh: Shell) -> None:
    text = " ".join(sh.run("worker", "--help").stdout.split())
    assert "adaptive" in text and "3 x concurrency)" not in text
