"""The code a new user copies from README.md, docs/quickstart.md and docs/embedding.md runs as written.

On SQLite (and memory), in real processes, in a private directory with no queuekit
environment variables: the quick start's file is the example file, its shell commands
succeed and say what the page says, and its result() block gets its result from a worker.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "docs" / "quickstart.md"
EXAMPLE = ROOT / "examples" / "quickstart" / "tasks.py"


def blocks(page: Path, kind: str = "python") -> list[str]:
    """The fenced blocks of one kind (``python``, or ``""`` for plain shell blocks) of a docs page."""
    found: list[str] = []
    current: list[str] | None = None
    inside = False
    for line in page.read_text(encoding="utf-8").splitlines(keepends=True):
        if line.startswith("```"):
            if inside and current is not None:
                found.append("".join(current))
            current = [] if not inside and line.strip() == f"```{kind}" else None
            inside = not inside
        elif current is not None:
            current.append(line)
    return found


def clean_env(tmp: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("QUEUEKIT_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tmp), str(ROOT)]))
    return env


def command(line: str) -> list[str]:
    """A documented command line, with the clone's ``../../.venv/bin/`` tools run by this interpreter."""
    words = shlex.split(line.split("  #", 1)[0])
    tool = words[0].rsplit("/", 1)[-1]
    head = [sys.executable] if tool == "python" else [sys.executable, "-m", "queuekit"]
    assert tool in ("python", "queuekit"), line
    return head + words[1:]


def test_the_quickstart_file_is_the_example_file() -> None:
    assert blocks(QUICKSTART)[0] == EXAMPLE.read_text(encoding="utf-8")


def test_the_quickstart_runs_as_written_on_sqlite(tmp_path: Path) -> None:
    (tmp_path / "tasks.py").write_text(blocks(QUICKSTART)[0], encoding="utf-8")
    env = clean_env(tmp_path)
    [shell] = [block for block in blocks(QUICKSTART, "") if block.startswith("cd examples/quickstart")]
    outputs = []
    for line in shell.splitlines()[1:]:
        done = subprocess.run(command(line), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{line}\n{done.stdout}{done.stderr}"
        outputs.append(done.stdout + done.stderr)
    enqueued, status, worker = outputs
    assert re.match(r"enqueued( [0-9a-f]{32}){5}\n$", enqueued), enqueued
    rows = {row.split()[0]: [int(n) for n in row.split()[1:]] for row in status.splitlines()[2:]}
    assert sum(rows["emails"][:2]) == 2 and rows["default"] == [3, 0, 0, 0], status  # the delayed one may be due
    acks = re.search(r"'ack': (\d+)", worker)
    assert "sending 'hi' to a@example.org" in worker and acks and int(acks.group(1)) >= 4, worker
    assert (tmp_path / "queuekit.db").exists()

    running = subprocess.Popen(command("queuekit worker tasks:app"), cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        asked = subprocess.run([sys.executable, "-c", blocks(QUICKSTART)[1]], cwd=tmp_path, env=env,
                               capture_output=True, text=True, timeout=120)
    finally:
        running.send_signal(signal.SIGTERM)
        log, _ = running.communicate(timeout=60)
    assert asked.returncode == 0, asked.stderr
    status_line, result_line = asked.stdout.splitlines()
    assert status_line in ("JobStatus.QUEUED", "JobStatus.RUNNING", "JobStatus.SUCCEEDED"), asked.stdout
    assert result_line == "5"
    assert running.returncode == 0, log

    for line in ("queuekit dlq list emails --app tasks:app", "queuekit status tasks:app"):
        done = subprocess.run(command(line), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr


def test_the_readme_example_runs(tmp_path: Path) -> None:
    [example] = blocks(ROOT / "README.md")
    script = tmp_path / "example.py"
    script.write_text(example + "\nprint(job.status().value)\n", encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=clean_env(tmp_path),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "queued"
    assert (tmp_path / "jobs.db").exists()


def test_the_embedding_pages_test_passes_under_pytest(tmp_path: Path) -> None:
    [_, tests] = blocks(ROOT / "docs" / "embedding.md")
    (tmp_path / "test_embedded.py").write_text(tests, encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_embedded.py"],
                          cwd=tmp_path, env=clean_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:]
    assert "1 passed" in done.stdout


def test_the_fastapi_example_serves_a_job_and_its_status(tmp_path: Path) -> None:
    """Run where FastAPI is installed (it is no dependency of queuekit); always compiled."""
    [app_code, _] = blocks(ROOT / "docs" / "embedding.md")
    compile(app_code, "docs/embedding.md", "exec")
    pytest.importorskip("fastapi.testclient", reason="FastAPI is not installed (pip install fastapi httpx)")
    (tmp_path / "web.py").write_text(re.sub(r'App\("redis://[^"]*"\)', 'App("memory://")', app_code),
                                     encoding="utf-8")
    driver = (
        "from fastapi.testclient import TestClient\nfrom web import api, queue\n"
        "with TestClient(api) as client:\n"
        "    job = client.post('/users/7/welcome').json()['job']\n"
        "    assert queue.job(job).result(timeout=60) == 'sent'\n"
        "    print(client.get(f'/jobs/{job}').json()['status'], client.get('/jobs/nope').json()['status'])\n"
    )
    done = subprocess.run([sys.executable, "-c", driver], cwd=tmp_path, env=clean_env(tmp_path),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["succeeded", "unknown"]
