"""The bookshop example driven through ``manage.py`` in real subprocesses."""

from __future__ import annotations

import functools
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support import wait_until

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
EXAMPLE = ROOT / "examples" / "django"


@dataclass
class Project:
    """One isolated copy of the example's configuration: its database, broker and enqueue mode."""

    database: str
    broker: str
    enqueue: str = "on_commit"
    settings: str = "qktest.settings"  # the example's own is "bookshop.settings"
    started: list[subprocess.Popen[str]] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        """The environment every ``manage.py`` call runs with."""
        path = os.pathsep.join([str(HERE), str(EXAMPLE), str(ROOT), os.environ.get("PYTHONPATH", "")])
        return {
            **os.environ, "PYTHONPATH": path, "DJANGO_SETTINGS_MODULE": self.settings,
            "BOOKSHOP_DATABASE": self.database, "QUEUEKIT_BROKER_URL": self.broker,
            "BOOKSHOP_ENQUEUE": self.enqueue,
        }

    def manage(self, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        """Run ``manage.py`` to completion; fail with its output if it exits non-zero."""
        done = subprocess.run(
            [sys.executable, str(EXAMPLE / "manage.py"), *args], env=self.env(), capture_output=True,
            text=True, timeout=timeout, check=False,
        )
        if done.returncode != 0:
            raise AssertionError(f"manage.py {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
        return done

    def client(self, action: str, value: str = "") -> Any:
        """What the example's views answer (through ``qktest_client``)."""
        return json.loads(self.manage("qktest_client", action, value).stdout)

    def place(self, email: str, *, reject: bool = False) -> Any:
        """POST an order; ``reject`` makes the view roll its transaction back."""
        return self.client("place", json.dumps({"email": email, "total_cents": 1250, "reject": reject}))

    def start_worker(self, *args: str) -> subprocess.Popen[str]:
        """A long-running ``queuekit_worker`` in the background."""
        process = subprocess.Popen(
            [sys.executable, str(EXAMPLE / "manage.py"), "queuekit_worker", *args], env=self.env(),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.started.append(process)
        return process

    def serve(self, log: Path) -> str:
        """``manage.py runserver`` on a free loopback port (output to ``log``); its base URL once it answers."""
        for _ in range(3):  # the port is chosen before runserver binds it: another process may take it
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            with log.open("w") as out:
                server = subprocess.Popen(
                    [sys.executable, str(EXAMPLE / "manage.py"), "runserver", "--noreload", f"127.0.0.1:{port}"],
                    env=self.env(), stdout=out, stderr=subprocess.STDOUT, text=True,
                )
            self.started.append(server)
            base = f"http://127.0.0.1:{port}"
            wait_until(functools.partial(_up_or_exited, server, base), timeout=60, what=f"runserver on port {port}")
            if server.poll() is None:
                return base
            if "already in use" not in log.read_text():
                raise AssertionError(f"runserver exited {server.returncode}:\n{log.read_text()}")
        raise AssertionError(f"runserver found no free port:\n{log.read_text()}")

    def stop_all(self) -> None:
        """Stop the workers this project started, by PID."""
        for process in self.started:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def order_then_receipt(project: Project) -> None:
    """The scenario every broker must pass: commit runs, rollback never does, results read back."""
    project.manage("migrate", "--verbosity", "0")
    placed = project.place("ada@example.org")
    assert placed["status"] == 201, placed
    result_id = placed["body"]["task_result"]
    assert project.client("receipt", result_id)["body"]["status"] == "READY"

    rejected = project.place("mallory@example.org", reject=True)
    assert rejected["status"] == 409, rejected
    rejected_id = rejected["body"]["task_result"]

    status = project.manage("queuekit_status", "--json")
    depths = json.loads(status.stdout)
    assert depths["emails"]["ready"] == 1, depths  # only the committed order's job

    worker = project.manage("queuekit_worker", "--burst", "--concurrency", "2")
    assert "ack 1" in worker.stdout, worker.stdout + worker.stderr

    receipt = project.client("receipt", result_id)["body"]
    assert receipt["status"] == "SUCCESSFUL", receipt
    assert receipt["return_value"]["to"] == "ada@example.org"
    assert receipt["return_value"]["attempt"] == 1
    assert project.client("receipt", rejected_id)["status"] == 404
    orders = project.client("orders")["orders"]
    assert [(o["email"], o["receipt_sent"]) for o in orders] == [("ada@example.org", True)]


def worker_serves_until_stopped(project: Project) -> None:
    """A long-running worker picks up jobs enqueued after it started and exits 0 on SIGTERM."""
    project.manage("migrate", "--verbosity", "0")
    worker = project.start_worker("--concurrency", "1")
    placed = project.place("grace@example.org")
    result_id = placed["body"]["task_result"]

    def succeeded() -> bool:
        if worker.poll() is not None:
            raise AssertionError(f"worker exited early: {worker.communicate()}")
        return bool(project.client("receipt", result_id)["body"]["status"] == "SUCCESSFUL")

    wait_until(succeeded, timeout=60, what="the receipt job to succeed")
    worker.send_signal(signal.SIGTERM)
    out, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, out + err
    assert "queuekit worker stopped" in out


def _up_or_exited(server: subprocess.Popen[str], base: str) -> bool:
    return server.poll() is not None or http(base + "/receipts/none/")[0] == 404


def http(url: str, body: Any = None) -> tuple[int, Any]:
    """A GET (or a JSON POST when ``body`` is given): the status and the JSON answer; (0, None) if nothing answers."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")
    except (urllib.error.URLError, ConnectionError):
        return 0, None


def as_documented(project: Project, log: Path) -> None:
    """The walk-through of docs/django.md on the example's own settings: a real server, HTTP, a burst worker."""
    checked = project.manage("check")
    assert "System check identified no issues" in checked.stdout, checked.stdout + checked.stderr
    project.manage("migrate", "--verbosity", "0")
    base = project.serve(log)
    status, placed = http(base + "/orders/", {"email": "ada@example.org", "total_cents": 1250})
    assert status == 201, placed
    result_id = placed["task_result"]
    assert http(f"{base}/receipts/{result_id}/") == (200, {"status": "READY", "attempts": 0})
    depths = json.loads(project.manage("queuekit_status", "--json").stdout)
    assert depths["emails"]["ready"] == 1, depths
    worker = project.manage("queuekit_worker", "--burst")
    assert "ack 1" in worker.stdout, worker.stdout + worker.stderr
    status, receipt = http(f"{base}/receipts/{result_id}/")
    assert status == 200 and receipt["status"] == "SUCCESSFUL", receipt
    assert receipt["return_value"]["to"] == "ada@example.org"
